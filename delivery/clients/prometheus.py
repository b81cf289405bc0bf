"""Instant queries against Prometheus's HTTP API (`GET /api/v1/query`), nothing more.

Every failure (unreachable, too slow, an error answer, a body that is not the API's JSON)
raises `UnavailableError` naming the server, so callers never see a socket exception.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from delivery.clients import http
from delivery.errors import UnavailableError


def query(base_url: str, promql: str, timeout: float = 10.0) -> list[tuple[dict[str, str], float]]:
    """The samples of an instant query: `(labels, value)` pairs; NaN and ±Inf kept as floats.

    A scalar result comes back as one sample with no labels; an empty vector as `[]`.
    """
    url = f"{base_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    # Prometheus answers 400/422/503 with its JSON error envelope: read it below.
    answer = http.get(
        url, where=f"Prometheus at {http.redact(base_url)}", timeout=timeout, headers={"Accept": "application/json"}
    )
    return _samples(base_url, answer.status, answer.body)


def _samples(base_url: str, status: int, body: bytes) -> list[tuple[dict[str, str], float]]:
    where = f"Prometheus at {http.redact(base_url)}"
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        sample = body[:60].decode("utf-8", "replace")
        raise UnavailableError(f"{where}: HTTP {status}, not the query API's JSON: {sample!r}") from None
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "error"):
        raise UnavailableError(f"{where}: HTTP {status}, JSON without the query API's 'status'")
    if answer["status"] == "error":
        detail = http.redact_text(str(answer.get("error")))[:300]
        raise UnavailableError(f"{where}: query failed ({str(answer.get('errorType'))[:40]}): {detail}")
    data: Any = answer.get("data")
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return [({}, _number(result[1]))]
        if kind != "vector":
            raise ValueError(f"result type {kind!r}, expected a vector")
        if not isinstance(result, list):
            raise ValueError("'result' is not a list")
        return [(_labels(item.get("metric")), _number(item["value"][1])) for item in result]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise UnavailableError(f"{where}: malformed query result: {str(exc)[:200]}") from None


def _labels(metric: Any) -> dict[str, str]:
    if metric is None:
        return {}
    if not isinstance(metric, dict) or not all(isinstance(v, str) for v in metric.values()):
        raise ValueError("a sample's 'metric' is not a mapping of label names to strings")
    return dict(metric)


def _number(text: Any) -> float:
    """A sample value as Prometheus writes it: a string, "NaN" and "+Inf"/"-Inf" kept as floats
    (the callers decide what a non-finite value means; a gate never passes on one)."""
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError(f"sample value {str(text)[:40]!r} is not a number string")
    return float(text)
