"""Grafana dashboards and the PromQL the platform ships: valid, provisioned, and parsed by promtool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from components.observability import DASHBOARDS_DIR

DASHBOARDS = sorted(DASHBOARDS_DIR.glob("*.json"))
RELEASE = "kubernetes:helm.sh/v3:Release"


def load(path):
    return json.loads(path.read_text())


def queries(dashboard):
    """(where, PromQL) for every panel target and every variable's label_values() selector."""
    found = [(f"panel {p['title']!r}", t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        selector = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
        found.append((f"variable {var['name']!r}", selector.group(1) if selector else query))
    return found


def instantiate(expr):
    """Grafana's variables as Prometheus would receive them."""
    expr = re.sub(r"\$\{?__(rate_)?interval\}?|\$\{?__range\}?", "1m", expr)
    return re.sub(r"\$\{?(\w+)\}?", "example", expr)


def promtool_check(exprs, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not found: apt-get install prometheus")
    rules = {
        "groups": [
            {
                "name": "shipped-promql",
                "rules": [{"record": f"check:expr_{i}", "expr": expr} for i, expr in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboards_are_valid_grafana_json():
    assert {p.name for p in DASHBOARDS} == {"canary.json", "istio-canary.json"}
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for path in DASHBOARDS:
        dashboard = load(path)
        assert dashboard["title"] and dashboard["panels"], path.name
        for panel in dashboard["panels"]:
            assert panel["targets"] and set(panel["gridPos"]) == {"h", "w", "x", "y"}, panel["title"]


def test_every_dashboard_query_parses(tmp_path):
    exprs = [instantiate(expr) for path in DASHBOARDS for _, expr in queries(load(path))]
    assert len(exprs) >= 2 * 9
    promtool_check(exprs, tmp_path)


def test_metric_template_queries_parse(dev_plan, tmp_path):
    templates = dev_plan.of_type("kubernetes:flagger.app/v1beta1:MetricTemplate")
    exprs = [
        t["inputs"]["spec"]["query"]
        .replace("{{ namespace }}", "prod")
        .replace("{{ target }}", "backend")
        .replace("{{ interval }}", "1m")
        for t in templates
    ]
    assert len(exprs) == 2
    promtool_check(exprs, tmp_path)


# The two columns each dashboard puts side by side.
SIDES = {
    "canary.json": {"GA": '"$app-ga"', "Canary": '"$app-canary"'},
    "istio-canary.json": {"Primary": '"$target-primary"', "Canary": '"$target"'},
}


def metric(expr):
    if "histogram_quantile(0.99," in expr and "istio_request_duration_milliseconds_bucket" in expr:
        return "p99 latency"
    if 'response_code!~"5.*"' in expr:
        return "success rate"
    return "request rate" if "istio_requests_total" in expr else expr


@pytest.mark.parametrize("name", sorted(SIDES))
def test_dashboard_shows_each_side_beside_the_other(name):
    dashboard = load(DASHBOARDS_DIR / name)
    for side, workload in SIDES[name].items():
        panels = [p for p in dashboard["panels"] if f"destination_workload=~{workload}" in p["targets"][0]["expr"]]
        assert {metric(p["targets"][0]["expr"]) for p in panels} == {"request rate", "success rate", "p99 latency"}, (
            side
        )
        assert all(p["title"].startswith(side) for p in panels)
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            # One series per workload, read from the server side of each request.
            assert 'reporter="destination"' in target["expr"]
            assert re.search(r"by \((le, )?destination_workload\)", target["expr"]), panel["title"]


def test_dashboards_query_the_provisioned_datasource(dev_plan):
    grafana = dev_plan.named("grafana", RELEASE)["inputs"]["values"]
    (datasource,) = grafana["datasources"]["datasources.yaml"]["datasources"]
    for path in DASHBOARDS:
        dashboard = load(path)
        refs = [p["datasource"] for p in dashboard["panels"]]
        refs += [t["datasource"] for p in dashboard["panels"] for t in p["targets"]]
        refs += [v["datasource"] for v in dashboard["templating"]["list"]]
        assert refs and all(r == {"type": "prometheus", "uid": datasource["uid"]} for r in refs), path.name


def test_dashboards_are_provisioned_from_the_repository(dev_plan):
    grafana = dev_plan.named("grafana", RELEASE)["inputs"]["values"]
    (provider,) = grafana["dashboardProviders"]["dashboardproviders.yaml"]["providers"]
    configmap = dev_plan.named(grafana["dashboardsConfigMaps"][provider["name"]], "kubernetes:core/v1:ConfigMap")
    # The chart mounts a provider's ConfigMap at /var/lib/grafana/dashboards/<provider>.
    assert provider["options"]["path"] == f"/var/lib/grafana/dashboards/{provider['name']}"
    assert configmap["inputs"]["metadata"]["namespace"] == dev_plan.named("grafana", RELEASE)["inputs"]["namespace"]
    assert configmap["inputs"]["data"] == {p.name: p.read_text() for p in DASHBOARDS}
