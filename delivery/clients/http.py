"""The one HTTP client of the delivery tools: registry, Prometheus and chart index all GET through it.

`get` returns the status, headers and body of any HTTP answer (an error status is an answer
too: Prometheus and registries put their JSON error envelope in it). Everything that is not an
answer raises `UnavailableError` (exit 3) starting with `where`, so callers never see a socket
exception:
- `timeout` is a TOTAL deadline for the request (connect, headers, body, redirects): a server
  that drips one byte every half second is cut at the deadline, not kept alive by each byte;
- a body over `max_body` bytes is refused;
- redirects (at most `MAX_REDIRECTS`) keep credentials (an `Authorization` header, a URL's
  `user:password@`) only to the same scheme, host and port; to anywhere else they go without;
- URLs in messages go through `redact`: userinfo and token-like query values never print.
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

from delivery.errors import UnavailableError

USER_AGENT = "istio-canary-delivery"
# The answers asked for (a tags page, a query result) are small; more is not an answer.
MAX_BODY = 8 * 1024 * 1024
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_SECRET_PARAM = re.compile(
    r"(?i)(token|access_token|id_token|password|passwd|secret|key|api[-_]?key|sig|signature|auth|"
    r"x-amz-signature|x-amz-credential|x-goog-signature|x-goog-credential|code)"
)
_HOST = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=:-]+")
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes
    url: str  # where the answer came from, after redirects


def redact(url: str) -> str:
    """`url` with its userinfo and the values of token-like query parameters replaced by `***`."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "[an unparsable URL]"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{k}=***" if _SECRET_PARAM.fullmatch(urllib.parse.unquote(k)) else (f"{k}={v}" if sep else k)
        for k, sep, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted (an error message that quotes one)."""
    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+", lambda m: redact(m.group(0)), text)


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int]:
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _split(url: str, where: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise UnavailableError(f"{where}: not a URL: {redact(url)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnavailableError(f"{where}: only http(s) URLs with a host are supported, got {redact(url)}")
    # http.client refuses a host with spaces or control characters only when it connects, with
    # an exception of its own (InvalidURL): refuse such a host (from an argument or a Location) here.
    if not _HOST.fullmatch(parts.hostname):
        raise UnavailableError(f"{where}: not a URL (its host has characters a host cannot have): {redact(url)}")
    return parts


def get(
    url: str, *, where: str, timeout: float, headers: Mapping[str, str] | None = None, max_body: int = MAX_BODY
) -> Response:
    """GET `url` within `timeout` seconds in total, following safe redirects."""
    deadline = time.monotonic() + timeout
    parts = _split(url, where)
    origin = _origin(parts)
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    if parts.username is not None:
        userinfo = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        sent["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode()
    for _ in range(MAX_REDIRECTS + 1):
        answer = _once(parts, sent, deadline, timeout, max_body, where)
        location = answer.headers.get("Location")
        if answer.status not in (301, 302, 303, 307, 308) or not location:
            return answer
        target = urllib.parse.urljoin(urllib.parse.urlunsplit(parts), location)
        parts = _split(target, where)
        if _origin(parts) != origin:
            # Another scheme, host or port: credentials stay with the origin they were given for.
            sent = {k: v for k, v in sent.items() if k.lower() not in _CREDENTIAL_HEADERS}
            origin = _origin(parts)
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])
        elif parts.username is not None:
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])
    raise UnavailableError(f"{where}: more than {MAX_REDIRECTS} redirects from {redact(url)}")


def _once(
    parts: urllib.parse.SplitResult,
    headers: Mapping[str, str],
    deadline: float,
    timeout: float,
    max_body: int,
    where: str,
) -> Response:
    shown = redact(urllib.parse.urlunsplit(parts))
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise UnavailableError(f"{where}: no answer within {timeout:g}s from {shown}")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=remaining)
    # The watchdog closes the socket at the deadline, whatever call is blocked on it.
    expired = threading.Event()
    held: list[socket.socket] = []

    def expire() -> None:
        expired.set()
        for sock in held:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(remaining, expire)
    watchdog.daemon = True
    watchdog.start()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.connect()
        if conn.sock is not None:
            # Kept: http.client drops conn.sock once the response owns the socket.
            held.append(conn.sock)
        if expired.is_set():
            raise TimeoutError
        conn.request("GET", path, headers={"Host": parts.netloc.rsplit("@", 1)[-1], **headers})
        response = conn.getresponse()
        body = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or expired.is_set():
                raise TimeoutError
            for sock in held:
                sock.settimeout(left)
            chunk = response.read1(_CHUNK)
            if expired.is_set():
                raise TimeoutError
            if not chunk:
                break
            body += chunk
            if len(body) > max_body:
                raise UnavailableError(f"{where}: answer from {shown} larger than {max_body} bytes")
        return Response(response.status, response.headers, bytes(body), urllib.parse.urlunsplit(parts))
    except UnavailableError:
        raise
    except TimeoutError:
        raise UnavailableError(f"{where}: no answer within {timeout:g}s from {shown}") from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        if expired.is_set():
            raise UnavailableError(f"{where}: no answer within {timeout:g}s from {shown}") from None
        reason = redact_text(str(exc)) or type(exc).__name__
        if isinstance(exc, (ConnectionRefusedError, socket.gaierror)) or "refused" in reason.lower():
            raise UnavailableError(f"{where}: cannot reach {shown}: {reason}") from None
        raise UnavailableError(f"{where}: broken answer from {shown}: {reason}") from None
    finally:
        watchdog.cancel()
        conn.close()
