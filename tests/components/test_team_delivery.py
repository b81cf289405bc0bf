"""A team's services (tests/fixtures/team) as Flagger and the public Gateway deliver them: their own
thresholds, metrics and webhooks, HTTPS for their hosts, and a verify that passes."""

from __future__ import annotations

import json

import pytest
from conftest import reference_file

from delivery.plan.verify import verify_plan

CANARY = "kubernetes:flagger.app/v1beta1:Canary"
TEMPLATE = "kubernetes:flagger.app/v1beta1:MetricTemplate"
GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
RELEASE = "kubernetes:helm.sh/v3:Release"


def analysis(plan, name: str) -> dict:
    return plan.named(name, CANARY)["inputs"]["spec"]["analysis"]


def test_custom_thresholds_and_intervals_reach_the_canary(team_plan):
    metrics = {m["name"]: m for m in analysis(team_plan, "api")["metrics"]}
    assert {n: (m["thresholdRange"], m["interval"]) for n, m in metrics.items()} == {
        "error-rate": ({"max": 0.5}, "1m"),
        "latency": ({"max": 250}, "2m"),
        "queue-depth": ({"min": 0, "max": 100}, "1m"),
    }
    spec = analysis(team_plan, "api")
    assert (spec["interval"], spec["threshold"], spec["maxWeight"], spec["stepWeight"]) == ("30s", 3, 40, 10)


def test_a_custom_query_metric_gets_its_own_metric_template_wired_by_name(team_plan, team_config):
    query = team_config["istio-canary:apps"]["api"]["analysis"]["metrics"][2]["query"]
    template = team_plan.named("api-queue-depth", TEMPLATE)
    assert template["inputs"]["metadata"] == {"name": "api-queue-depth", "namespace": "payments"}
    assert template["inputs"]["spec"] == {
        "provider": {"type": "prometheus", "address": "http://prometheus-server.monitoring:80"},
        "query": query,
    }
    canary = team_plan.named("api", CANARY)
    (metric,) = [m for m in canary["inputs"]["spec"]["analysis"]["metrics"] if m["name"] == "queue-depth"]
    assert metric["templateRef"] == {"name": "api-queue-depth", "namespace": "payments"}
    assert template["urn"] in canary["dependencies"]
    flagger = team_plan.named("flagger", RELEASE)["urn"]
    assert flagger in template["dependencies"]  # its kind is a CRD of the Flagger chart
    platform = {m["name"]: m["templateRef"] for m in canary["inputs"]["spec"]["analysis"]["metrics"]}
    assert platform["error-rate"] == {"name": "error-rate", "namespace": "istio-system"}


def test_the_default_webhook_load_tests_the_canary_on_its_port(team_plan):
    (hook,) = analysis(team_plan, "api")["webhooks"]
    assert (hook["name"], hook["type"], hook["url"]) == ("load-test", "rollout", "http://flagger-loadtester.payments/")
    assert hook["metadata"]["cmd"] == "hey -z 1m -q 10 -c 2 http://api-canary.payments:8080/"


def test_an_empty_webhook_list_means_none_and_no_load_tester_for_that_namespace(team_plan):
    assert analysis(team_plan, "web")["webhooks"] == []
    testers = {r["inputs"]["namespace"] for r in team_plan.of_type(RELEASE) if r["inputs"]["chart"] == "loadtester"}
    assert testers == {"payments"}


def test_cmd_webhooks_run_on_the_load_tester_with_their_metadata(render_config):
    hooks = [
        {
            "name": "smoke",
            "type": "pre-rollout",
            "cmd": "curl -sf http://backend-canary.prod:9898/",
            "metadata": {"type": "bash"},
        },
        {"name": "approve", "type": "confirm-promotion", "url": "https://gate.example.com/approve", "timeout": "1m"},
    ]
    plan = render_config(lambda c: c["istio-canary:apps"]["backend"]["analysis"].update(webhooks=hooks))
    assert analysis(plan, "backend")["webhooks"] == [
        {
            "name": "smoke",
            "type": "pre-rollout",
            "url": "http://flagger-loadtester.prod/",
            "timeout": "30s",
            "metadata": {"type": "bash", "cmd": "curl -sf http://backend-canary.prod:9898/"},
        },
        {"name": "approve", "type": "confirm-promotion", "url": "https://gate.example.com/approve", "timeout": "1m"},
    ]


def test_the_gateway_serves_https_for_tls_hosts_and_redirects_them_on_port_80(team_plan):
    servers = team_plan.named("public-gateway", GATEWAY)["inputs"]["spec"]["servers"]
    assert servers == [
        {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]},
        {
            "port": {"number": 80, "name": "http-redirect", "protocol": "HTTP"},
            "hosts": ["api.example.com", "shop.example.com", "www.example.com"],
            "tls": {"httpsRedirect": True},
        },
        {
            "port": {"number": 443, "name": "https-0", "protocol": "HTTPS"},
            "hosts": ["api.example.com"],
            "tls": {"mode": "SIMPLE", "credentialName": "api-example-com-tls"},
        },
        {
            "port": {"number": 443, "name": "https-1", "protocol": "HTTPS"},
            "hosts": ["shop.example.com", "www.example.com"],
            "tls": {"mode": "SIMPLE", "credentialName": "storefront-tls"},
        },
    ]
    assert team_plan.outputs["apps"]["api"]["url"] == "https://api.example.com/"


def test_without_tls_the_gateway_keeps_its_one_http_server(dev_plan):
    servers = dev_plan.named("public-gateway", GATEWAY)["inputs"]["spec"]["servers"]
    assert servers == [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]


@pytest.fixture(scope="module")
def team_verified(team_plan, monkeypatch_module):
    monkeypatch_module.setenv("ISTIO_CANARY_CHARTS", str(reference_file("charts/base-1.30.3.tgz").parent))
    return verify_plan(team_plan.resources)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_verify_passes_on_the_team_stack_and_lists_what_the_team_creates(team_verified):
    report = team_verified.report
    assert not report.defects, "\n".join(d.message for d in report.defects)
    assert sorted(report.external) == sorted(
        [
            "Namespace default exists already (program resource 'default' labels it)",
            "Namespace ledger exists already (program resource 'ledger' labels it)",
            "Deployment payments/api pulls images with Secret payments/registry-creds",
            "Deployment payments/api reads env DATABASE_PASSWORD from Secret payments/api-db key password",
            "Deployment payments/api reads env from ConfigMap payments/api-config",
            "Deployment payments/api reads env from Secret payments/api-env",
            "Gateway istio-system/public-gateway serves TLS with Secret istio-system/api-example-com-tls",
            "Gateway istio-system/public-gateway serves TLS with Secret istio-system/storefront-tls",
        ]
    )


def test_verify_checks_the_gateway_canaries_and_templates_against_their_crds(team_verified):
    validated = "\n".join(team_verified.report.validated)
    for ref in (
        "Gateway istio-system/public-gateway",
        "Canary payments/api",
        "Canary default/web",
        "MetricTemplate payments/api-queue-depth",
    ):
        assert f"{ref} (program resource" in validated and "CustomResourceDefinition" in validated, ref
    # The gateway's Service forwards 443 (the chart's default ports): the HTTPS servers are reachable.
    assert any("public-gateway port 443 is forwarded" in line for line in team_verified.report.references)


def test_the_verify_command_exits_0_and_prints_the_external_references(tmp_path, capsys, monkeypatch):
    from delivery.__main__ import main
    from tests.support.project import TEAM_DIR

    monkeypatch.setenv("ISTIO_CANARY_CHARTS", str(reference_file("charts/base-1.30.3.tgz").parent))
    assert main(["verify", "--stack", "team", "--stack-dir", str(TEAM_DIR), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "8 external references (objects this program does not create):" in out
    assert "  Deployment payments/api reads env from Secret payments/api-env" in out
    report = json.loads((tmp_path / "verify.json").read_text())
    assert len(report["external"]) == 8 and report["defects"] == []
