"""The one HTTP client of the delivery tools: registry, Prometheus and chart index all GET through it.

`get` returns the status, headers and body of any HTTP answer (an error status is an answer
too: Prometheus and registries put their JSON error envelope in it). Everything that is not an
answer (unreachable, too slow, a broken connection, a body over the size cap) raises
`UnavailableError` (exit 3) starting with `where`, so callers never see a socket exception.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException

from delivery.errors import UnavailableError

USER_AGENT = "istio-canary-delivery"
# The answers asked for (a tags page, a query result, a chart index) are small; more than this
# is not an answer to the question asked.
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes


def get(
    url: str, *, where: str, timeout: float, headers: Mapping[str, str] | None = None, max_body: int = MAX_BODY
) -> Response:
    """GET `url`; `timeout` bounds every connect and read (a total deadline is another issue)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Response(response.status, response.headers, _read(response, max_body, where, url))
        except urllib.error.HTTPError as exc:
            with exc:
                return Response(exc.code, exc.headers, _read(exc, max_body, where, url))
    except TimeoutError:
        raise UnavailableError(f"{where}: no answer within {timeout:g}s from {url}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise UnavailableError(f"{where}: no answer within {timeout:g}s from {url}") from None
        raise UnavailableError(f"{where}: cannot reach {url}: {exc.reason}") from None
    except (HTTPException, OSError, ValueError) as exc:
        raise UnavailableError(f"{where}: broken answer from {url}: {exc or type(exc).__name__}") from None


def _read(response, max_body: int, where: str, url: str) -> bytes:
    body = response.read(max_body + 1)
    if len(body) > max_body:
        raise UnavailableError(f"{where}: answer from {url} larger than {max_body} bytes")
    return body
