"""Instant queries against Prometheus's HTTP API (`GET /api/v1/query`), nothing more.

Every failure (unreachable, too slow, an error answer, a body that is not the API's JSON)
raises `PrometheusError` naming the server, so callers never see a socket exception.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException

MAX_BODY = 8 * 1024 * 1024


class PrometheusError(Exception):
    """Prometheus could not answer a query."""


def query(base_url: str, promql: str, timeout: float = 10.0) -> list[tuple[dict[str, str], float]]:
    """The samples of an instant query: `(labels, value)` pairs; NaN and ±Inf kept as floats.

    A scalar result comes back as one sample with no labels; an empty vector as `[]`.
    """
    url = f"{base_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "istio-canary-delivery"})
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, body = response.status, response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            # Prometheus answers 400/422/503 with its JSON error envelope: read it below.
            with exc:
                status, body = exc.code, exc.read(MAX_BODY + 1)
    except (TimeoutError, socket.timeout):
        raise PrometheusError(f"Prometheus at {base_url}: no answer within {timeout:g}s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise PrometheusError(f"Prometheus at {base_url}: no answer within {timeout:g}s") from None
        raise PrometheusError(f"Prometheus at {base_url}: cannot connect: {exc.reason}") from None
    except (HTTPException, OSError, ValueError) as exc:
        raise PrometheusError(f"Prometheus at {base_url}: broken answer: {exc or type(exc).__name__}") from None
    if len(body) > MAX_BODY:
        raise PrometheusError(f"Prometheus at {base_url}: answer larger than {MAX_BODY} bytes")
    return _samples(base_url, status, body)


def _samples(base_url: str, status: int, body: bytes) -> list[tuple[dict[str, str], float]]:
    where = f"Prometheus at {base_url}"
    try:
        answer = json.loads(body)
    except ValueError:
        sample = body[:60].decode("utf-8", "replace")
        raise PrometheusError(f"{where}: HTTP {status}, not the query API's JSON: {sample!r}") from None
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "error"):
        raise PrometheusError(f"{where}: HTTP {status}, JSON without the query API's 'status'")
    if answer["status"] == "error":
        raise PrometheusError(f"{where}: query failed ({answer.get('errorType')}): {answer.get('error')}")
    data = answer.get("data")
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return [({}, _number(result[1]))]
        if kind != "vector":
            raise ValueError(f"result type {kind!r}, expected a vector")
        return [(dict(item.get("metric") or {}), _number(item["value"][1])) for item in result]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PrometheusError(f"{where}: malformed query result: {exc}") from None


def _number(text: str) -> float:
    if not isinstance(text, str):
        raise ValueError(f"sample value {text!r} is not a string")
    return float(text)  # accepts "NaN", "+Inf", "-Inf" as Prometheus writes them
