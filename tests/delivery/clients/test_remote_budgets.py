"""A registry bounds a listing as a whole, not only each answer: a server on 127.0.0.1 that pages
forever (each page small and quick, or each page slow) ends in exit 3 within the listing's byte and
time budget, never after a thousand pages or the job's own timeout."""

from __future__ import annotations

import http.server as http_server
import json
import threading
import time
from collections.abc import Iterator

import pytest

from delivery.clients.registry import RegistryClient
from delivery.errors import UnavailableError


class EndlessRegistry:
    """`/v2/team/app/tags/list?last=N` answers 50 tags and a Link to page N+1, forever."""

    def __init__(self, delay: float = 0.0):
        self.pages = 0
        outer = self

        class Handler(http_server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.pages += 1
                page = int(self.path.rsplit("last=", 1)[1]) if "last=" in self.path else 0
                time.sleep(delay)
                body = json.dumps({"name": "team/app", "tags": [f"1.{page}.{i}" for i in range(50)]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Link", f'</v2/team/app/tags/list?n=50&last={page + 1}>; rel="next"')
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http_server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def registry() -> Iterator[type[EndlessRegistry]]:
    started: list[EndlessRegistry] = []

    def start(delay: float = 0.0) -> EndlessRegistry:
        started.append(EndlessRegistry(delay))
        return started[-1]

    yield start  # type: ignore[misc]
    for server in started:
        server.httpd.shutdown()
        server.httpd.server_close()


def test_endless_small_pages_stop_at_the_listings_byte_budget(registry):
    server = registry()
    client = RegistryClient(insecure=frozenset({server.host}), timeout=5.0, page_size=50, max_total_bytes=20_000)
    with pytest.raises(UnavailableError, match="byte budget"):
        client.tags(f"{server.host}/team/app")
    # Each page is under a kilobyte: the per-answer limit alone would have read all 1000 pages.
    assert 10 <= server.pages <= 40


def test_endless_slow_pages_stop_at_the_listings_time_budget(registry):
    server = registry(delay=0.2)
    client = RegistryClient(insecure=frozenset({server.host}), timeout=5.0, page_size=50, total_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="time budget"):
        client.tags(f"{server.host}/team/app")
    # Every page answers well within the per-request timeout; the listing still ends near 1 s.
    assert time.monotonic() - started < 2.5 and server.pages <= 8


def test_a_listing_within_its_budgets_reads_every_page(registry):
    server = registry()
    client = RegistryClient(insecure=frozenset({server.host}), timeout=5.0, page_size=50, max_pages=4)
    with pytest.raises(UnavailableError, match="more than 4 pages"):
        client.tags(f"{server.host}/team/app")
    assert server.pages == 4
