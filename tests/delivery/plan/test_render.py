"""Chart archives are found where users keep them (or pulled at the pinned version), and render as
`helm install` would for the target Kubernetes version."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest
from conftest import reference_file

from delivery.plan import render
from delivery.plan.verify.schemas import served_api_versions


def _release(chart: str, version: str, repo: str = "", values: dict | None = None, **kw) -> render.Release:
    return render.Release(
        urn=f"urn:{chart}",
        name=kw.get("name", chart),
        namespace=kw.get("namespace", "ns"),
        chart=chart,
        version=version,
        repo=repo,
        values=values or {},
        skip_crds=kw.get("skip_crds", False),
    )


@pytest.fixture
def loadtester():
    return reference_file("charts/loadtester-0.38.0.tgz")


@pytest.fixture
def chart_repo(tmp_path, loadtester):
    """A Helm chart repository (index.yaml + archive) served over HTTP on 127.0.0.1."""
    import helm_python

    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(loadtester, root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    helm_python.repo_index_generate(root, base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, server
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_charts_dir_from_the_environment_comes_before_the_reference_charts(tmp_path, monkeypatch, loadtester):
    override = tmp_path / "charts"
    override.mkdir()
    shutil.copy(loadtester, override)
    monkeypatch.setenv("ISTIO_CANARY_CHARTS", str(override))
    monkeypatch.setenv("ISTIO_CANARY_REFERENCE", str(loadtester.parent.parent))
    found = render.resolve_archive("loadtester", "0.38.0", "", cache=tmp_path / "cache")
    assert found == override / "loadtester-0.38.0.tgz"
    monkeypatch.delenv("ISTIO_CANARY_CHARTS")
    assert render.resolve_archive("loadtester", "0.38.0", "", cache=tmp_path / "cache") == loadtester


def test_missing_archive_is_pulled_at_the_pinned_version_into_the_user_cache(tmp_path, monkeypatch, chart_repo):
    url, server = chart_repo
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    pulled = render.resolve_archive("loadtester", "0.38.0", url, dirs=[tmp_path / "empty"])
    assert pulled == tmp_path / "xdg" / "istio-canary" / "charts" / "loadtester-0.38.0.tgz"
    assert [p.name for p in pulled.parent.iterdir()] == ["loadtester-0.38.0.tgz"]  # no scratch left behind
    server.shutdown()
    # Offline afterwards: the cache answers.
    assert render.resolve_archive("loadtester", "0.38.0", url, dirs=[tmp_path / "empty"]) == pulled


def test_a_version_the_repository_does_not_publish_is_reported_with_chart_version_and_repo(tmp_path, chart_repo):
    url, _ = chart_repo
    with pytest.raises(render.ChartUnavailable) as caught:
        render.resolve_archive("loadtester", "0.99.0", url, dirs=[], cache=tmp_path / "cache")
    assert "loadtester 0.99.0" in str(caught.value) and url in str(caught.value)
    assert not list((tmp_path / "cache").iterdir())


def test_served_api_versions_name_kinds_and_only_ga_versions():
    served = served_api_versions(render.KUBERNETES_VERSION)
    assert {"v1", "v1/Service", "apps/v1/Deployment", "policy/v1/PodDisruptionBudget", "autoscaling/v2"} <= set(served)
    assert not [v for v in served if "alpha" in v or "beta" in v]


def test_capabilities_api_versions_reach_the_templates(tmp_path):
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n"
        '  pdb: {{ .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" | quote }}\n'
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    [configmap] = render.render_release(
        _release("probe", "0.1.0"), chart, served_api_versions(render.KUBERNETES_VERSION)
    ).objects
    assert configmap["data"] == {"pdb": "true", "kube": f"v{render.KUBERNETES_VERSION}"}


def test_target_kubernetes_version_meets_every_pinned_chart_and_is_checked_like_an_install(reference_dir):
    import helm_python

    archives = sorted((reference_dir / "charts").glob("*.tgz")) or pytest.skip("no reference charts")
    for archive in archives:
        with helm_python.Chart.load(archive) as chart:
            assert render.check_kube_version(chart.metadata.get("kubeVersion")), archive.name
    assert not render.check_kube_version("^1.25.0-0", "1.24.0")
    assert render.check_kube_version(">=1.19.0-0")


def test_crds_folder_is_rendered_first_unless_the_release_skips_it():
    archive = reference_file("charts/flagger-1.44.0.tgz")
    objects = render.render_release(_release("flagger", "1.44.0", namespace="istio-system"), archive, []).objects
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "CustomResourceDefinition"
    assert "canaries.flagger.app" in {o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"}
    skipped = render.render_release(_release("flagger", "1.44.0", skip_crds=True), archive, []).objects
    assert "CustomResourceDefinition" not in {o["kind"] for o in skipped}


def test_a_values_key_the_chart_schema_rejects_fails_the_render_naming_the_release():
    archive = reference_file("charts/gateway-1.30.3.tgz")
    with pytest.raises(render.RenderError) as caught:
        render.render_release(_release("gateway", "1.30.3", values={"replicaCounts": 2}), archive, [])
    assert "gateway 1.30.3" in str(caught.value) and "replicaCounts" in str(caught.value)


def test_secret_values_render_as_a_placeholder(tmp_path):
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  url: {{ .Values.url | quote }}\n"
    )
    [configmap] = render.render_release(_release("probe", "0.1.0", values={"url": "[secret]"}), chart, []).objects
    assert configmap["data"]["url"] == render.SECRET_PLACEHOLDER
