"""The platform as a whole: every Kubernetes resource on the cluster provider, every Helm release
pinned from settings with values that exist upstream and waiting long enough, no secret in the plan
or the manifests, and the platform's exports. Each component's own wiring: test_mesh.py,
test_observability.py, test_flagger.py."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from conftest import reference_file

from delivery.plan import engine
from delivery.plan.manifests import write_outputs
from tests.components.support.platform import OTHER_VERSIONS, RELEASE, release


def test_platform_resources_use_the_cluster_provider(dev_plan, local_plan):
    for plan in (dev_plan, local_plan):
        provider = plan.of_type("pulumi:providers:kubernetes")[0]["urn"]
        k8s = [r for r in plan.resources if r["type"].startswith("kubernetes:")]
        assert k8s and all(r["provider"] == provider for r in k8s)


def test_every_helm_release_waits_long_enough_for_a_first_install(dev_plan, local_plan):
    from components.helm import RELEASE_TIMEOUT_SECONDS

    # Longer than the provider's 300 s default: nodes, image pulls and the load balancer come first.
    assert RELEASE_TIMEOUT_SECONDS > 300
    for plan in (dev_plan, local_plan):
        releases = plan.of_type(RELEASE)
        assert releases and {r["inputs"].get("timeout") for r in releases} == {RELEASE_TIMEOUT_SECONDS}


# --- secrets -----------------------------------------------------------------------------


def test_no_secret_in_plan_or_manifests(dev_plan, dev_config, tmp_path):
    webhook = engine.to_pulumi_config(dev_config)[0]["istio-canary:slackWebhookUrl"]
    _, password_state = engine._mock_outputs("random:index/randomPassword:RandomPassword", "grafana-admin-password", {})
    password = password_state["result"]["value"]
    write_outputs(dev_plan, tmp_path)
    written = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 10
    for text in [json.dumps(dev_plan.to_json()), *written]:
        assert webhook not in text and password not in text
    assert dev_plan.named("grafana-admin")["inputs"]["stringData"] == "[secret]"
    assert dev_plan.named("flagger-slack")["inputs"]["stringData"] == "[secret]"


# --- chart values are real ----------------------------------------------------------------

# Release -> (its chart's values.yaml, JSON schema or None). Istio charts keep their defaults
# under `_internal_defaults_do_not_set`, but users set the same keys at the top level.
REFERENCES = {
    "istio-base": ("istio/1.30.3/base.values.yaml", None),
    "istiod": ("istio/istiod.values.yaml", None),
    "istio-gateway": ("istio/1.30.3/gateway.values.yaml", "istio/1.30.3/gateway.values.schema.json"),
    "prometheus": ("prometheus/values.yaml", "prometheus/values.schema.json"),
    "grafana": ("grafana/values.yaml", None),
    "flagger": ("flagger/flagger.values.yaml", None),
    "flagger-loadtester": ("flagger/loadtester.values.yaml", None),
}
# Maps whose keys are the user's (label or annotation names), though the chart pre-fills some: the
# chart copies them verbatim (toYaml) into the objects.
FREE_FORM = {("istio-gateway", "labels"), ("flagger-loadtester", "podAnnotations")}


def unknown_keys(values, defaults, path):
    found = []
    for key, value in values.items():
        if key not in defaults:
            found.append(".".join((*path[1:], key)))
        elif (
            isinstance(value, dict)
            and isinstance(defaults[key], dict)
            and defaults[key]
            and (path[0], *path[1:], key) not in FREE_FORM
        ):
            found += unknown_keys(value, defaults[key], (*path, key))
    return found


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_helm_values_exist_upstream(dev_plan, name):
    values_file, schema_file = REFERENCES[name]
    defaults = yaml.safe_load(reference_file(values_file).read_text())
    defaults = defaults.get("_internal_defaults_do_not_set", defaults)
    releases = [r for r in dev_plan.of_type(RELEASE) if r["inputs"]["name"] == name]
    assert releases
    for r in releases:
        values = r["inputs"].get("values", {})
        assert unknown_keys(values, defaults, (name,)) == [], f"{name}: keys the chart does not have"
        if schema_file:
            schema = json.loads(reference_file(schema_file).read_text())
            jsonschema.Draft7Validator(schema).validate(values)


CHART_VERSION_KEYS = {
    "base": "istioVersion",
    "istiod": "istioVersion",
    "gateway": "istioVersion",
    "prometheus": "prometheusVersion",
    "grafana": "grafanaVersion",
    "flagger": "flaggerVersion",
    "loadtester": "loadtesterVersion",
}


def test_chart_versions_are_pinned_from_settings(dev_plan, dev_config, changed_plan):
    for plan, versions in ((dev_plan, dev_config["istio-canary:platform"]), (changed_plan, OTHER_VERSIONS)):
        for r in plan.of_type(RELEASE):
            assert r["inputs"]["version"] == str(versions[CHART_VERSION_KEYS[r["inputs"]["chart"]]]), r["name"]


# Where each chart takes the resources of each container it runs (sidecars included: istiod's
# `global.proxy` sizes every injected proxy). Grafana runs no init or sidecar container with
# these values: no `dashboards` (download init container), no sidecars, no persistence.
CONTAINER_RESOURCES = {
    "base": [],
    "istiod": [("resources",), ("global", "proxy", "resources")],
    "gateway": [("resources",)],
    "prometheus": [("server", "resources"), ("configmapReload", "prometheus", "resources")],
    "grafana": [("resources",)],
    "flagger": [("resources",)],
    "loadtester": [("resources",)],
}


def test_every_container_requests_resources(dev_plan):
    for r in dev_plan.of_type(RELEASE):
        values = r["inputs"].get("values", {})
        for path in CONTAINER_RESOURCES[r["inputs"]["chart"]]:
            node = values
            for key in path:
                node = node.get(key, {})
            assert {"cpu", "memory"} <= set(node.get("requests", {})), f"{r['name']}: {'.'.join(path)}.requests"
    grafana = release(dev_plan, "grafana")["inputs"]["values"]
    assert not {"dashboards", "sidecar", "persistence"} & set(grafana)


def test_platform_exports(dev_plan, local_plan):
    for plan in (dev_plan, local_plan):
        assert {"ingressAddress", "grafanaUrlHint", "prometheusUrl"} <= set(plan.outputs)
        assert "svc/grafana" in plan.outputs["grafanaUrlHint"]
