"""components/flagger.py: Flagger waits for istio-base only, reads the Prometheus this program
installs, upgrades its CRDs with its chart, has a load tester per namespace it serves, and gets the
Slack webhook only through a Secret."""

from __future__ import annotations

import tarfile

from conftest import reference_file

from components import flagger as flagger_component
from model.settings import parse_stack_config
from tests.components.support.platform import RELEASE, loadtesters, prometheus_url_of_release, release, waits_for

# --- dependency graph: one test per edge ---------------------------------------------------


def test_flagger_waits_for_istio_base_only(dev_plan):
    flagger = release(dev_plan, "flagger")
    assert release(dev_plan, "istio-base")["urn"] in flagger["dependencies"]
    others = {release(dev_plan, n)["urn"] for n in ("istiod", "istio-gateway", "prometheus", "grafana")}
    assert not waits_for(dev_plan, flagger["urn"]) & others


def test_metric_templates_wait_for_flagger(dev_plan):
    templates = dev_plan.of_type("kubernetes:flagger.app/v1beta1:MetricTemplate")
    assert {t["inputs"]["metadata"]["name"] for t in templates} == {"error-rate", "latency"}
    for template in templates:
        assert release(dev_plan, "flagger")["urn"] in template["dependencies"]


def test_every_flagger_namespace_has_a_loadtester_waiting_for_istiod(dev_plan, dev_config):
    settings = parse_stack_config(dev_config)
    hosting = {app.namespace for app in settings.apps_by_strategy("canary", "ab").values()}
    assert {r["inputs"]["namespace"] for r in loadtesters(dev_plan)} == hosting == {"prod"}
    for loadtester in loadtesters(dev_plan):
        assert release(dev_plan, "istiod")["urn"] in loadtester["dependencies"]


# --- wired by construction ------------------------------------------------------------------


def test_flagger_crds_are_upgraded_with_its_chart(dev_plan):
    inputs = release(dev_plan, "flagger")["inputs"]
    # Rendered as templates (which Helm upgrades), not from crds/ (installed once, never upgraded).
    assert inputs["values"]["crd"] == {"create": True}
    assert inputs["skipCrds"] is True
    # Upstream: the chart renders every crds/*.yaml as a template exactly when crd.create is set.
    chart = reference_file(f"charts/flagger-{inputs['version']}.tgz")
    with tarfile.open(chart) as archive:
        template = archive.extractfile("flagger/templates/crd.yaml").read().decode()
        crds = [m for m in archive.getnames() if m.startswith("flagger/crds/")]
    assert template.startswith("{{- if .Values.crd.create -}}") and '.Files.Glob "crds/*.yaml"' in template
    assert crds
    # Only Flagger's: every other chart's CRDs are installed as they ship.
    assert [r["name"] for r in dev_plan.of_type(RELEASE) if r["inputs"].get("skipCrds")] == ["flagger"]


def test_flagger_reads_the_prometheus_this_program_installs(dev_plan):
    url = prometheus_url_of_release(dev_plan)
    assert release(dev_plan, "flagger")["inputs"]["values"]["metricsServer"] == url
    assert dev_plan.outputs["prometheusUrl"] == url == "http://prometheus-server.monitoring:80"


def test_metric_templates_query_that_prometheus_per_canary(dev_plan):
    for template in dev_plan.of_type("kubernetes:flagger.app/v1beta1:MetricTemplate"):
        spec = template["inputs"]["spec"]
        assert spec["provider"] == {"type": "prometheus", "address": prometheus_url_of_release(dev_plan)}
        for placeholder in ("{{ namespace }}", "{{ target }}", "{{ interval }}"):
            assert placeholder in spec["query"]


def test_flagger_uses_istio_and_names_the_cluster(dev_plan):
    values = release(dev_plan, "flagger")["inputs"]["values"]
    assert values["meshProvider"] == "istio"
    assert values["clusterName"] == dev_plan.outputs["clusterName"] == "istio-canary"
    assert release(dev_plan, "flagger")["inputs"]["namespace"] == "istio-system"


def test_loadtester_url_is_its_service(dev_plan):
    for loadtester in loadtesters(dev_plan):
        inputs = loadtester["inputs"]
        assert inputs["name"] == "flagger-loadtester"
        service = inputs["values"]["fullnameOverride"]
        assert inputs["values"]["service"]["port"] == 80  # the URL names no port
        assert flagger_component.loadtester_url(inputs["namespace"]) == f"http://{service}.{inputs['namespace']}/"


def test_loadtester_accepts_plain_text_from_flagger_under_strict_mtls(dev_plan):
    for loadtester in loadtesters(dev_plan):
        ns = loadtester["inputs"]["namespace"]
        policies = [
            r["inputs"]
            for r in dev_plan.of_type("kubernetes:security.istio.io/v1:PeerAuthentication")
            if r["inputs"]["metadata"]["namespace"] == ns
        ]
        assert [p["spec"]["selector"]["matchLabels"] for p in policies] == [loadtester["inputs"]["values"]["podLabels"]]
        assert policies[0]["spec"]["portLevelMtls"] == {"8080": {"mode": "PERMISSIVE"}}
        assert "mtls" not in policies[0]["spec"]  # every other port keeps the mesh-wide mode


# --- secrets -----------------------------------------------------------------------------


def test_slack_webhook_reaches_flagger_only_through_a_secret(dev_plan):
    values = release(dev_plan, "flagger")["inputs"]["values"]
    assert "url" not in values["slack"]
    assert values["slack"] == {"user": "flagger", "channel": "#deploys"}
    assert values["env"] == [
        {"name": "SLACK_URL", "valueFrom": {"secretKeyRef": {"name": "flagger-slack", "key": "url"}}}
    ]


def test_no_slack_settings_without_a_webhook(changed_plan):
    values = release(changed_plan, "flagger")["inputs"]["values"]
    assert "slack" not in values and "env" not in values
    assert not [r for r in changed_plan.resources if r["name"] == "flagger-slack"]
