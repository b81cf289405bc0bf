"""Issue 12, class 5: every remote (registry, Prometheus, chart index) against hostile servers on
127.0.0.1: a drip, a huge body, a wrong shape, NaN/Inf, a redirect carrying credentials to
another port. Each ends in exit 3 (UnavailableError) or a failed gate: never a pass, a hang
past the deadline, a traceback or a credential in a message."""

from __future__ import annotations

import http.server as http_server
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from delivery import stack
from delivery.clients import charts, http, prometheus
from delivery.clients.registry import RegistryClient
from delivery.errors import UnavailableError
from delivery.release import gate, upgrades
from model.settings import parse_stack_config
from tests.support.project import FIXTURES_DIR

Handler = Callable[[http_server.BaseHTTPRequestHandler], None]


class Server:
    def __init__(self, handle: Handler):
        self.seen: list[dict[str, str]] = []
        outer = self

        class H(http_server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.seen.append({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
                try:
                    handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http_server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a dripping handler is abandoned, not waited for
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Server]]:
    servers: list[Server] = []

    def start(handle: Handler) -> Server:
        servers.append(Server(handle))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def answer(body: bytes, status: int = 200, ctype: str = "application/json") -> Handler:
    def handle(h):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


def drip(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.end_headers()
    for _ in range(200):
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(0.1)


def drip_headers(h):
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(200):
        h.wfile.write(b"X: y\r\n")
        h.wfile.flush()
        time.sleep(0.1)


def huge(h):
    h.send_response(200)
    h.end_headers()
    chunk = b"x" * 65536
    for _ in range(400):  # 26 MB: over every client's cap
        h.wfile.write(chunk)


# Each remote as (name, call(url)) with the deadline it is given.
def registry_call(url: str):
    host = url.removeprefix("http://")
    return RegistryClient(insecure=frozenset({host}), timeout=1.0).tags(f"{host}/team/app")


def prometheus_call(url: str):
    return prometheus.query(url, "up", timeout=1.0)


def charts_call(url: str):
    return charts.fetch_index(url, timeout=1.0)


REMOTES = {"registry": registry_call, "prometheus": prometheus_call, "charts": charts_call}


@pytest.mark.parametrize("remote", REMOTES)
@pytest.mark.parametrize("behaviour", [drip, drip_headers], ids=["drip-body", "drip-headers"])
def test_a_dripping_server_is_cut_at_the_total_deadline(serve, remote, behaviour):
    server = serve(behaviour)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="no answer within 1s"):
        REMOTES[remote](server.url)
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("remote", REMOTES)
def test_a_huge_answer_is_refused(serve, remote, monkeypatch):
    monkeypatch.setattr(charts, "MAX_INDEX", 1024 * 1024)
    server = serve(huge)
    with pytest.raises(UnavailableError, match="larger than"):
        REMOTES[remote](server.url)


WRONG_SHAPES = [
    b"not json",
    b"[]",
    b"{}",
    b"null",
    b'{"tags": 5, "status": 3, "entries": 4}',
    b'{"tags": [1, 2], "status": "success", "data": {"resultType": "vector", "result": [{"value": 5}]}}',
    b'{"status": "success", "data": {"resultType": "vector", "result": "x"}}',
    b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": [], "value": [0, "1"]}]}}',
    b'{"status": "success", "data": {"resultType": "matrix", "result": []}}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' + b"9" * 10_000 + b"}",
    b"\xff\xfe\x00garbage",
    b"entries: [1, 2]",
    b"entries: &a [*a]",
]


@pytest.mark.parametrize("remote", REMOTES)
@pytest.mark.parametrize("body", WRONG_SHAPES, ids=range(len(WRONG_SHAPES)))
def test_a_wrong_shape_is_exit_3_never_a_traceback(serve, remote, body):
    server = serve(answer(body))
    with pytest.raises(UnavailableError):
        REMOTES[remote](server.url)


@pytest.mark.parametrize("remote", REMOTES)
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_port_never_carries_credentials(serve, remote, code):
    other = serve(answer(b'{"tags": []}'))

    def redirect(h):
        h.send_response(code)
        h.send_header("Location", f"{other.url}{h.path}")
        h.end_headers()

    first = serve(redirect)
    url = first.url.replace("http://", "http://alice:s3cr3t@")
    with pytest.raises(UnavailableError) as info:
        if remote == "registry":
            RegistryClient(timeout=1.0)._tokens.clear()
            http.get(
                f"{url}/v2/team/app/tags/list", where="registry", timeout=1.0, headers={"Authorization": "Bearer tok"}
            )
            raise UnavailableError("followed")
        REMOTES[remote](url)
    assert first.seen and "authorization" in first.seen[0]
    assert other.seen, "the redirect was followed"
    assert all("authorization" not in seen and "cookie" not in seen for seen in other.seen)
    assert "s3cr3t" not in str(info.value)


def test_a_redirect_on_the_same_origin_keeps_its_credentials(serve):
    def handle(h):
        if h.path == "/a":
            h.send_response(302)
            h.send_header("Location", "/b")
            h.end_headers()
        else:
            answer(b"{}")(h)

    server = serve(handle)
    http.get(f"{server.url}/a", where="x", timeout=1.0, headers={"Authorization": "Bearer tok"})
    assert [s.get("authorization") for s in server.seen] == ["Bearer tok", "Bearer tok"]


@pytest.mark.parametrize(
    "url, hidden",
    [
        ("http://user:pw123@host:9090/", "pw123"),
        ("https://host/x?token=abc123&n=1", "abc123"),
        ("https://host/x?access_token=abc123", "abc123"),
        ("https://host/x?X-Amz-Signature=abc123", "abc123"),
        ("https://host/x?sig=abc123", "abc123"),
    ],
)
def test_credentials_in_urls_never_appear_in_messages(url, hidden):
    assert hidden not in http.redact(url)
    with pytest.raises(UnavailableError) as info:
        prometheus.query(url.replace("host", "127.0.0.1").replace(":9090", ":9"), "up", timeout=0.5)
    assert hidden not in str(info.value)


@pytest.mark.parametrize("url", ["http://a b/", "http://h\x00/", "http://a<b>/", "http://a\x7fb/", 'http://a"b/'])
def test_a_url_whose_host_cannot_be_a_host_is_exit_3_never_a_traceback(url):
    # http.client raised its own InvalidURL while connecting, past every handler.
    with pytest.raises(UnavailableError, match="not a URL"):
        prometheus.query(url, "up", timeout=0.5)


def test_a_chart_index_missing_a_chart_never_prints_the_repository_credentials(serve):
    server = serve(answer(b"apiVersion: v1\nentries:\n  base:\n    - version: 1.30.9\n", ctype="text/yaml"))
    url = server.url.replace("http://", "http://user:pw123@")
    platform = {"istioVersion": "1.30.3"}
    with pytest.raises(UnavailableError) as info:
        upgrades.find_upgrades(platform, upgrades.repositories([f"istio={url}"]), charts.fetch_index)
    assert "pw123" not in str(info.value) and "has no chart" in str(info.value)


# --- Prometheus answers NaN/Inf: the gate never passes on them ------------------------------


def vector(value: str) -> bytes:
    sample = {"metric": {}, "value": [0, value]}
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": [sample]}}).encode()


@pytest.fixture(scope="module")
def settings():
    return parse_stack_config(stack.load_config("dev", FIXTURES_DIR))


@pytest.mark.parametrize("value", ["+Inf", "-Inf", "-1", "1e400", "-1e400"])
@pytest.mark.parametrize("metric", ["requests", "error", "latency"])
@pytest.mark.parametrize("side", ["canary", "ga"])
def test_the_gate_never_passes_on_infinite_or_impossible_values(serve, settings, value, metric, side):
    def handle(h):
        query = h.path
        bad = f"{side}" in query and (
            (metric == "requests" and "response_code" not in query and "bucket" not in query)
            or (metric == "error" and "response_code" in query)
            or (metric == "latency" and "bucket" in query)
        )
        answer(vector(value) if bad else vector("1" if "response_code" not in query else "0.5"))(h)

    server = serve(handle)
    try:
        result = gate.evaluate(settings, "podinfo", server.url)
    except UnavailableError:
        return
    assert not result.passed, result.report


def test_nan_everywhere_is_no_traffic_and_fails(serve, settings):
    server = serve(answer(vector("NaN")))
    result = gate.evaluate(settings, "podinfo", server.url)
    assert not result.passed and "nothing to judge" in result.report
