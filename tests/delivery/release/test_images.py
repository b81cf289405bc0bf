"""Image automation against a real OCI registry (Debian's docker-registry) started per module."""

from __future__ import annotations

import http.server
import threading

import pytest

from delivery import stack
from delivery.__main__ import main
from delivery.clients.registry import Reference
from model.settings import parse_stack_config
from tests.support import servers

pytestmark = pytest.mark.slow  # starts a real OCI registry

PODINFO_TAGS = [
    "6.13.0",
    "6.13.1",
    "6.13.3",
    "6.13.10",
    "6.14.0",
    "6.14.2",
    "6.14.3-rc.1",
    "6.15.0",
    "7.0.0",
    "latest",
    "main-1a2b3c",
]
BACKEND_TAGS = ["1.0.0", "1.2.0", "1.10.1", "2.0.0"]

STACK = """\
# Stack file of the image-automation tests: comments must survive an edit.
config:
  istio-canary:cluster:
    provider: existing
    context: kind-test
  istio-canary:apps:
    podinfo:
      namespace: test
      strategy: weighted
      image: {registry}/acme/podinfo
      hosts: ["podinfo.example.com"]
      ga: {{tag: 6.13.0, track: "6.13.x"}}   # GA follows patches of 6.13
      canary: {{tag: 6.14.0, track: "6.14.x"}}
      weights: {{ga: 100, canary: 0}}  # GA moves only with the canary at 0
    backend:
      namespace: prod
      strategy: canary
      image: {registry}/acme/backend
      tag: 1.0.0
      track: ">=1.0.0 <2.0.0"
    frontend:
      namespace: prod
      strategy: ab
      image: {registry}/acme/podinfo
      tag: 6.13.0
      hosts: ["*"]
      match:
        - {{header: user-agent, regex: ".*Firefox.*"}}
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with servers.registry(tmp_path_factory.mktemp("registry")) as address:
        for tag in PODINFO_TAGS:
            servers.push_image(address, "acme/podinfo", tag)
        for tag in BACKEND_TAGS:
            servers.push_image(address, "acme/backend", tag)
        yield address


def write_stack(directory, registry_address: str):
    path = directory / "Pulumi.test.yaml"
    path.write_text(STACK.format(registry=registry_address))
    return path


def images(directory, *args: str) -> int:
    """`python -m delivery images --stack test ...` run in-process on `directory`."""
    return main(["images", "--stack", "test", "--project-dir", str(directory), *args])


def tags_in(path) -> dict[str, str]:
    settings = parse_stack_config(stack.config_from_text(path.read_text(), path.name))
    return {
        f"{name}.{side}" if side else name: s.tag
        for name, app in settings.apps.items()
        for side, s in app.sides().items()
    }


def test_images_moves_each_tracked_side_to_the_highest_tag_inside_its_track(registry, tmp_path, capsys):
    path = write_stack(tmp_path, registry)

    assert images(tmp_path, "--insecure-registry", registry) == 0

    # Numeric order (6.13.10 > 6.13.3), pre-releases and tags outside the track ignored,
    # the untracked A/B app left alone.
    assert tags_in(path) == {
        "podinfo.ga": "6.13.10",
        "podinfo.canary": "6.14.2",
        "backend": "1.10.1",
        "frontend": "6.13.0",
    }
    out = capsys.readouterr().out
    assert "podinfo.ga: " in out and "6.13.0 -> 6.13.10" in out
    assert "backend: " in out and "1.0.0 -> 1.10.1" in out
    assert "# GA follows patches of 6.13" in path.read_text()


def test_images_says_up_to_date_and_leaves_the_file_alone(registry, tmp_path, capsys):
    path = write_stack(tmp_path, registry)
    assert images(tmp_path, "--insecure-registry", registry) == 0
    updated = path.read_bytes()
    capsys.readouterr()

    assert images(tmp_path, "--insecure-registry", registry) == 0

    assert path.read_bytes() == updated
    assert "Pulumi.test.yaml: up to date" in capsys.readouterr().out


def test_images_dry_run_prints_the_change_and_writes_nothing(registry, tmp_path, capsys):
    path = write_stack(tmp_path, registry)
    before = path.read_bytes()

    assert images(tmp_path, "--insecure-registry", registry, "--dry-run") == 0

    assert path.read_bytes() == before
    out = capsys.readouterr().out
    assert "+      ga: {tag: 6.13.10," in out and "dry run" in out


def test_images_never_downgrades_a_tag_the_registry_lost(registry, tmp_path, capsys):
    path = write_stack(tmp_path, registry)
    path.write_text(path.read_text().replace("tag: 6.13.0, track", "tag: 6.13.99, track"))
    before = path.read_bytes()

    assert images(tmp_path, "--insecure-registry", registry) == 0

    assert path.read_bytes() != before  # the other sides moved
    assert tags_in(path)["podinfo.ga"] == "6.13.99"
    assert "6.13.99 (up to date)" in capsys.readouterr().out


def test_images_keeps_a_tag_whose_track_has_no_release_yet(registry, tmp_path, capsys):
    path = write_stack(tmp_path, registry)
    path.write_text(path.read_text().replace('tag: 6.14.0, track: "6.14.x"', 'tag: 6.16.0, track: "6.16.x"'))

    assert images(tmp_path, "--insecure-registry", registry) == 0

    assert tags_in(path)["podinfo.canary"] == "6.16.0"
    assert "track 6.16.x: no tag inside the track in the registry; keeping 6.16.0" in capsys.readouterr().out


def test_images_pages_through_the_anonymous_bearer_handshake(registry, tmp_path, capsys):
    front = servers.TokenFront(upstream=registry)
    with front.serve() as address:
        path = write_stack(tmp_path, address)

        assert images(tmp_path, "--insecure-registry", address, "--page-size", "2") == 0

    assert tags_in(path) == {
        "podinfo.ga": "6.13.10",
        "podinfo.canary": "6.14.2",
        "backend": "1.10.1",
        "frontend": "6.13.0",
    }
    # Every tag was reached page by page, with one token per repository reused across pages.
    podinfo_pages = [p for p in front.authorized_pages if "/acme/podinfo/" in p]
    assert len(podinfo_pages) == -(-len(PODINFO_TAGS) // 2)
    assert all("n=2" in page for page in podinfo_pages)
    assert front.token_requests == [
        {"service": front.SERVICE, "scope": "repository:acme/podinfo:pull"},
        {"service": front.SERVICE, "scope": "repository:acme/backend:pull"},
    ]


def test_images_fails_cleanly_when_the_registry_is_stopped(tmp_path_factory, tmp_path, capsys):
    with servers.registry(tmp_path_factory.mktemp("stopped-registry")) as address:
        servers.push_image(address, "acme/podinfo", "6.13.1")
    path = write_stack(tmp_path, address)
    before = path.read_bytes()

    assert images(tmp_path, "--insecure-registry", address) == 3

    assert path.read_bytes() == before
    err = capsys.readouterr().err
    assert f"registry {address}, repository acme/podinfo: cannot reach" in err
    assert "Pulumi.test.yaml left unchanged" in err


def _never_answers(release: threading.Event):
    def handle(request: http.server.BaseHTTPRequestHandler) -> None:
        release.wait(10)

    return handle


def _garbage(request: http.server.BaseHTTPRequestHandler) -> None:
    servers.reply(request, 200, b"<html>maintenance</html>", {"Content-Type": "text/html"})


@pytest.mark.parametrize("answer, message", [("slow", "no answer within 0.3s"), ("garbage", "not a JSON tags list")])
def test_images_fails_cleanly_on_a_slow_or_garbage_registry(answer, message, tmp_path, capsys):
    release = threading.Event()
    handle = _never_answers(release) if answer == "slow" else _garbage
    try:
        with servers.http_server(handle) as address:
            path = write_stack(tmp_path, address)
            before = path.read_bytes()

            code = images(tmp_path, "--insecure-registry", address, "--timeout", "0.3")
    finally:
        release.set()

    assert code == 3
    assert path.read_bytes() == before
    err = capsys.readouterr().err
    assert f"registry {address}, repository acme/podinfo" in err and message in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--page-size", "0"], "--page-size 0: must be at least 1"),
        (["--timeout", "0"], "--timeout 0: must be more than 0 seconds"),
        (["--insecure-registry", "http://127.0.0.1:5000"], "--insecure-registry 'http://127.0.0.1:5000'"),
    ],
)
def test_images_rejects_bad_options_with_exit_2(args, message, tmp_path, capsys):
    path = write_stack(tmp_path, "127.0.0.1:1")
    before = path.read_bytes()

    assert images(tmp_path, *args) == 2
    assert message in capsys.readouterr().err
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "image, registry, name",
    [
        ("ghcr.io/stefanprodan/podinfo", "ghcr.io", "stefanprodan/podinfo"),
        ("stefanprodan/podinfo", "registry-1.docker.io", "stefanprodan/podinfo"),
        ("nginx", "registry-1.docker.io", "library/nginx"),
        ("docker.io/nginx", "registry-1.docker.io", "library/nginx"),
        ("localhost:5000/team/app", "localhost:5000", "team/app"),
    ],
)
def test_image_references_resolve_to_registry_and_repository_like_docker(image, registry, name):
    assert Reference.parse(image) == Reference(registry, name)
