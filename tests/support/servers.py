"""Real servers for tests: start on 127.0.0.1 on a free port, wait (bounded) until ready, always stop.

- `docker-registry` (Debian's build of distribution/registry) with its own storage directory,
  and `push_image` to upload blobs and manifests through its HTTP API;
- `prometheus` on a TSDB made from OpenMetrics text by `promtool tsdb create-blocks-from`;
- small in-process HTTP servers for what a real server does not do on demand (a bearer token
  realm, an answer that never comes, garbage).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

READY_TIMEOUT = 20.0


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} not found: apt-get install {package}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


@contextlib.contextmanager
def process(cmd: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen]:
    """Run `cmd` until the block ends; ready when `ready_url` answers 200 within READY_TIMEOUT."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if _get(ready_url, timeout=1.0)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{cmd[0]} not ready at {ready_url} within {READY_TIMEOUT:g}s:\n{log.read_text()[-2000:]}"
                )
            time.sleep(0.05)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- docker-registry -----------------------------------------------------------------------


@contextlib.contextmanager
def registry(workdir: Path) -> Iterator[str]:
    """A real registry with storage under `workdir`; yields its `127.0.0.1:<port>`."""
    binary = require("docker-registry", "docker-registry")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {workdir / 'storage'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    address = f"127.0.0.1:{port}"
    with process([binary, "serve", str(config)], f"http://{address}/v2/", workdir / "registry.log"):
        yield address


def _send(method: str, url: str, data: bytes = b"", content_type: str = "application/octet-stream") -> dict:
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(response.headers)


def _push_blob(base: str, name: str, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    # Monolithic upload: open an upload session, then PUT the whole blob with its digest.
    location = _send("POST", f"{base}/v2/{name}/blobs/uploads/")["Location"]
    url = urllib.parse.urljoin(base, location)
    _send("PUT", f"{url}{'&' if '?' in url else '?'}digest={urllib.parse.quote(digest)}", data)
    return {"digest": digest, "size": len(data)}


def push_image(address: str, name: str, tag: str) -> None:
    """Upload a minimal OCI image (config + one layer) to `name:tag` through the registry API."""
    base = f"http://{address}"
    config = _push_blob(
        base,
        name,
        json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode(),
    )
    layer = _push_blob(base, name, f"layer of {name}:{tag}".encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
    }
    _send(
        "PUT",
        f"{base}/v2/{name}/manifests/{tag}",
        json.dumps(manifest).encode(),
        "application/vnd.oci.image.manifest.v1+json",
    )


# --- prometheus ----------------------------------------------------------------------------


@contextlib.contextmanager
def prometheus(workdir: Path, openmetrics: str) -> Iterator[str]:
    """A real Prometheus serving `openmetrics` (made into TSDB blocks); yields its base URL."""
    binary = require("prometheus", "prometheus")
    promtool = require("promtool", "prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    source = workdir / "series.om"
    source.write_text(openmetrics)
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    config = workdir / "prometheus.yml"
    config.write_text("global: {evaluation_interval: 1m}\n")  # nothing to scrape: the blocks are the data
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [binary, f"--config.file={config}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}"]
    with process(cmd, f"{url}/-/ready", workdir / "prometheus.log"):
        yield url


# --- small HTTP servers ------------------------------------------------------------------------


@contextlib.contextmanager
def http_server(handle: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """An in-process HTTP server on 127.0.0.1 whose GETs `handle(request)` answers; yields host:port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            handle(self)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def reply(
    request: http.server.BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    request.send_response(status)
    for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
        request.send_header(key, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


class TokenFront:
    """What ghcr.io and Docker Hub do in front of a registry, played in front of a real one.

    Anonymous requests get `401` with a Bearer challenge; the realm (`/token`) hands out a token
    for the requested service and scope; requests with the token are answered from the real
    registry's tags, in pages of `?n=` with `last=` and a `Link` header (distribution 2.8,
    Debian's docker-registry, ignores `n` for tags and answers everything at once).
    """

    SERVICE = "front.test"
    TOKEN = "anonymous-pull-token"

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.address = ""
        self.token_requests: list[dict[str, str]] = []
        self.authorized_pages: list[str] = []

    def handle(self, request: http.server.BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/token":
            self.token_requests.append(query)
            reply(request, 200, json.dumps({"token": self.TOKEN, "expires_in": 300}).encode())
            return
        name = url.path.removeprefix("/v2/").removesuffix("/tags/list")
        if request.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            challenge = (
                f'Bearer realm="http://{self.address}/token",service="{self.SERVICE}",scope="repository:{name}:pull"'
            )
            reply(request, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
            return
        self.authorized_pages.append(request.path)
        status, _, body = _get(f"http://{self.upstream}/v2/{name}/tags/list")
        if status != 200:
            reply(request, status, body)
            return
        tags = sorted(json.loads(body)["tags"])
        after = [t for t in tags if "last" not in query or t > query["last"]]
        size = int(query.get("n", len(after) or 1))
        page, rest = after[:size], after[size:]
        headers = {}
        if rest:
            next_query = urllib.parse.urlencode({"n": size, "last": page[-1]})
            headers["Link"] = f'</v2/{name}/tags/list?{next_query}>; rel="next"'
        reply(request, 200, json.dumps({"name": name, "tags": page}).encode(), headers)

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        with http_server(self.handle) as address:
            self.address = address
            yield address
