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
    answer = http.get(url, where=f"Prometheus at {base_url}", timeout=timeout, headers={"Accept": "application/json"})
    return _samples(base_url, answer.status, answer.body)


def _samples(base_url: str, status: int, body: bytes) -> list[tuple[dict[str, str], float]]:
    where = f"Prometheus at {base_url}"
    try:
        answer = json.loads(body)
    except ValueError:
        sample = body[:60].decode("utf-8", "replace")
        raise UnavailableError(f"{where}: HTTP {status}, not the query API's JSON: {sample!r}") from None
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "error"):
        raise UnavailableError(f"{where}: HTTP {status}, JSON without the query API's 'status'")
    if answer["status"] == "error":
        raise UnavailableError(f"{where}: query failed ({answer.get('errorType')}): {answer.get('error')}")
    data: Any = answer.get("data")
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return [({}, _number(result[1]))]
        if kind != "vector":
            raise ValueError(f"result type {kind!r}, expected a vector")
        return [(dict(item.get("metric") or {}), _number(item["value"][1])) for item in result]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise UnavailableError(f"{where}: malformed query result: {exc}") from None


def _number(text: str) -> float:
    if not isinstance(text, str):
        raise ValueError(f"sample value {text!r} is not a string")
    return float(text)  # accepts "NaN", "+Inf", "-Inf" as Prometheus writes them
