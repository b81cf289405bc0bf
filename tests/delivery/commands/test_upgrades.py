"""upgrades: the newest patch of every pinned chart from a Helm repository on 127.0.0.1, written
into a scratch copy of the fixture stacks; a newer minor is reported, never applied."""

from __future__ import annotations

import http.server
import threading

import pytest

from tests.support.stack_edits import changed, dev

INDEX = """apiVersion: v1
entries:
  base:     [{version: 1.30.3}, {version: 1.30.4}, {version: 1.30.5}, {version: 1.31.1}]
  istiod:   [{version: 1.30.3}, {version: 1.30.4}, {version: 1.30.5}, {version: 1.30.6-beta.0}, {version: 1.31.1}]
  gateway:  [{version: 1.30.3}, {version: 1.30.4}, {version: 1.31.1}]
  flagger:  [{version: 1.44.0}, {version: 1.44.1}]
  loadtester: [{version: 0.38.0}]
  prometheus: [{version: 29.27.0}, {version: 29.27.2}, {version: 29.28.0}]
  grafana:  [{version: 12.11.1}]
"""


@pytest.fixture
def chart_repo(tmp_path):
    """A Helm repository on 127.0.0.1 serving one small index.yaml for every chart."""
    root = tmp_path / "charts"
    root.mkdir()
    (root / "index.yaml").write_text(INDEX)
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _mirrors(url: str) -> list[str]:
    return [
        arg
        for name in ("istio", "flagger", "prometheus-community", "grafana-community")
        for arg in ("--repo", f"{name}={url}")
    ]


def test_upgrades_take_the_newest_patch_every_istio_chart_publishes(project, delivery, chart_repo):
    before = dev(project)
    code, out, _ = delivery("upgrades", "--stack", "dev", *_mirrors(chart_repo))
    assert code == 0, out
    assert dev(project) == changed(
        before,
        ("istioVersion: 1.30.3", "istioVersion: 1.30.4"),
        ("flaggerVersion: 1.44.0", "flaggerVersion: 1.44.1"),
        ("prometheusVersion: 29.27.0", "prometheusVersion: 29.27.2"),
    )
    assert "platform.istioVersion: 1.31.1 is a newer minor; not applied" in out


def test_upgrades_leave_unset_versions_to_the_defaults(project, delivery, chart_repo):
    before = (project / "Pulumi.local.yaml").read_text()
    code, out, _ = delivery("upgrades", "--stack", "local", *_mirrors(chart_repo))
    assert code == 0 and "up to date" in out
    assert (project / "Pulumi.local.yaml").read_text() == before


def test_upgrades_from_an_unreachable_repository_exit_3_and_leave_the_file(project, delivery, chart_repo):
    before = dev(project)
    code, _, err = delivery("upgrades", "--stack", "dev", *_mirrors(chart_repo), "--repo", "istio=http://127.0.0.1:9/")
    assert code == 3 and "cannot reach http://127.0.0.1:9/index.yaml" in err
    assert dev(project) == before
