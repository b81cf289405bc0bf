"""The platform: Istio, Prometheus, Grafana and Flagger, installed in a minimal, explicit order,
wired to each other by construction, with chart values that exist upstream and no secret in sight."""

from __future__ import annotations

import json
import re
import tarfile

import jsonschema
import pytest
import yaml
from conftest import reference_file

from components import flagger as flagger_component
from delivery.plan import engine
from delivery.plan.manifests import write_outputs
from model.settings import parse_stack_config
from tests.support.project import PROJECT_DIR

RELEASE = "kubernetes:helm.sh/v3:Release"
MESH = "istio-canary:mesh:Mesh"


def release(plan, name):
    return plan.named(name, RELEASE)


def descendants(plan, urn):
    kids = [r["urn"] for r in plan.resources if r.get("parent") == urn]
    return set(kids).union(*(descendants(plan, k) for k in kids))


def waits_for(plan, urn):
    """Everything `urn` waits for, transitively; waiting for a component means waiting for its children."""
    by_urn, seen, todo = plan.by_urn(), set(), [urn]
    while todo:
        for dep in by_urn[todo.pop()]["dependencies"]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
                if not by_urn[dep]["custom"]:
                    todo.extend(descendants(plan, dep) - seen)
                    seen |= descendants(plan, dep)
    return seen


def istio_resources(plan):
    mesh = plan.of_type(MESH)[0]["urn"]
    return descendants(plan, mesh) | {r["urn"] for r in plan.resources if ".istio.io" in r["type"]}


def loadtesters(plan):
    return [r for r in plan.of_type(RELEASE) if r["inputs"]["chart"] == "loadtester"]


def prometheus_url_of_release(plan):
    """The URL the prometheus chart's server Service answers on: `<server fullname>.<namespace>:<servicePort>`."""
    prometheus = release(plan, "prometheus")["inputs"]
    server = prometheus["values"]["server"]
    return f"http://{server['fullnameOverride']}.{prometheus['namespace']}:{server['service']['servicePort']}"


OTHER_VERSIONS = {
    "istioVersion": "1.29.1",
    "flaggerVersion": "1.43.0",
    "loadtesterVersion": "0.37.0",
    "prometheusVersion": "29.1.0",
    "grafanaVersion": "12.0.2",
}


@pytest.fixture(scope="module")
def changed_plan(render_config):
    """The dev stack with other chart versions, PERMISSIVE mTLS, a NodePort gateway and no Slack webhook."""

    def mutate(config):
        config["istio-canary:platform"].update(OTHER_VERSIONS, mtls="PERMISSIVE", gatewayServiceType="NodePort")
        del config["istio-canary:slackWebhookUrl"]

    return render_config(mutate)


# --- dependency graph: one test per edge ---------------------------------------------------


def test_istiod_waits_for_istio_base(dev_plan):
    assert release(dev_plan, "istio-base")["urn"] in release(dev_plan, "istiod")["dependencies"]


def test_gateway_waits_for_istiod(dev_plan):
    assert release(dev_plan, "istiod")["urn"] in release(dev_plan, "istio-gateway")["dependencies"]


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


def test_prometheus_and_grafana_wait_for_nothing_in_istio(dev_plan):
    for name in ("prometheus", "grafana"):
        assert not waits_for(dev_plan, release(dev_plan, name)["urn"]) & istio_resources(dev_plan), name


def test_istio_custom_resources_wait_for_istio_base(dev_plan):
    istio_crs = [r for r in dev_plan.resources if ".istio.io/" in r["type"] and r["custom"]]
    assert {r["inputs"]["kind"] for r in istio_crs} >= {"Gateway", "PeerAuthentication"}
    for cr in istio_crs:
        assert release(dev_plan, "istio-base")["urn"] in cr["dependencies"], cr["name"]


def test_platform_resources_use_the_cluster_provider(dev_plan, local_plan):
    for plan in (dev_plan, local_plan):
        provider = plan.of_type("pulumi:providers:kubernetes")[0]["urn"]
        k8s = [r for r in plan.resources if r["type"].startswith("kubernetes:")]
        assert k8s and all(r["provider"] == provider for r in k8s)


# --- wired by construction ------------------------------------------------------------------


def test_public_gateway_selects_the_gateway_release_pods(dev_plan):
    gateway = release(dev_plan, "istio-gateway")["inputs"]
    values = gateway["values"]
    # gateway/_helpers.tpl: `istio: .Values.labels.istio`, else the gateway name without "istio-".
    name = values.get("name") or gateway["name"]
    pod_label = values.get("labels", {}).get("istio") or name.removeprefix("istio-")
    public = dev_plan.named("public-gateway")["inputs"]
    assert public["spec"]["selector"] == {"istio": pod_label} == {"istio": "gateway"}
    assert f"{public['metadata']['namespace']}/{public['metadata']['name']}" == "istio-system/public-gateway"
    assert public["spec"]["servers"] == [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]


def test_gateway_namespace_lets_the_injector_reach_gateway_pods(dev_plan):
    namespace = dev_plan.named("istio-system", "kubernetes:core/v1:Namespace")["inputs"]["metadata"]
    assert (namespace.get("labels") or {}).get("istio-injection") != "disabled"


def test_gateway_service_type_comes_from_config(dev_plan, local_plan, changed_plan):
    assert release(dev_plan, "istio-gateway")["inputs"]["values"]["service"]["type"] == "LoadBalancer"
    assert release(local_plan, "istio-gateway")["inputs"]["values"]["service"]["type"] == "NodePort"
    assert release(changed_plan, "istio-gateway")["inputs"]["values"]["service"]["type"] == "NodePort"


def test_ingress_address_is_read_back_from_the_gateway_service(dev_plan):
    service = dev_plan.named("istio-gateway-service")
    # The ID is the release's status (namespace/name): test_first_run shows the read waits for it.
    assert service.get("read") and service["id"] == "istio-system/istio-gateway"
    assert dev_plan.outputs["ingressAddress"] == engine.MOCK_INGRESS_IP


def test_every_helm_release_waits_long_enough_for_a_first_install(dev_plan, local_plan):
    from components.helm import RELEASE_TIMEOUT_SECONDS

    # Longer than the provider's 300 s default: nodes, image pulls and the load balancer come first.
    assert RELEASE_TIMEOUT_SECONDS > 300
    for plan in (dev_plan, local_plan):
        releases = plan.of_type(RELEASE)
        assert releases and {r["inputs"].get("timeout") for r in releases} == {RELEASE_TIMEOUT_SECONDS}


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


def test_mesh_wide_mtls_follows_config(dev_plan, changed_plan):
    for plan, mode in ((dev_plan, "STRICT"), (changed_plan, "PERMISSIVE")):
        policy = plan.named("mesh-mtls")["inputs"]
        assert policy["metadata"] == {"name": "default", "namespace": "istio-system"}
        assert policy["spec"] == {"mtls": {"mode": mode}}


def test_flagger_reads_the_prometheus_this_program_installs(dev_plan):
    url = prometheus_url_of_release(dev_plan)
    assert release(dev_plan, "flagger")["inputs"]["values"]["metricsServer"] == url
    assert dev_plan.outputs["prometheusUrl"] == url == "http://prometheus-server.monitoring:80"


def test_grafana_datasource_is_that_prometheus(dev_plan):
    datasources = release(dev_plan, "grafana")["inputs"]["values"]["datasources"]["datasources.yaml"]["datasources"]
    assert [(d["type"], d["url"]) for d in datasources] == [("prometheus", prometheus_url_of_release(dev_plan))]
    # Grafana sizes $__rate_interval from the scrape interval it is told.
    scrape = release(dev_plan, "prometheus")["inputs"]["values"]["server"]["global"]["scrape_interval"]
    assert datasources[0]["jsonData"]["timeInterval"] == scrape


def seconds(duration):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", duration))


def test_every_canary_metric_window_holds_two_scrapes(dev_plan):
    # rate() over a window with fewer than two samples is empty: Flagger reports "no values found".
    scrape = seconds(release(dev_plan, "prometheus")["inputs"]["values"]["server"]["global"]["scrape_interval"])
    canaries = dev_plan.of_type("kubernetes:flagger.app/v1beta1:Canary")
    assert canaries
    for canary in canaries:
        analysis = canary["inputs"]["spec"]["analysis"]
        for m in analysis["metrics"]:
            assert seconds(m.get("interval", analysis["interval"])) >= 2 * scrape, (canary["name"], m["name"])


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


def test_prometheus_scrapes_merged_istio_metrics_and_drops_the_rest(dev_plan):
    assert release(dev_plan, "istiod")["inputs"]["values"]["meshConfig"]["enablePrometheusMerge"] is True
    values = release(dev_plan, "prometheus")["inputs"]["values"]
    jobs = values["scrapeConfigs"]
    assert jobs.get("kubernetes-pods", {}).get("enabled", True) is True
    assert jobs["kubernetes-nodes"] == {"enabled": False}
    for component in ("alertmanager", "kube-state-metrics", "prometheus-node-exporter", "prometheus-pushgateway"):
        assert values[component] == {"enabled": False}, component


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


def test_grafana_reads_its_admin_password_from_the_secret(dev_plan):
    values = release(dev_plan, "grafana")["inputs"]["values"]
    assert values["admin"]["existingSecret"] == dev_plan.named("grafana-admin")["inputs"]["metadata"]["name"]
    assert "adminPassword" not in values


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
# Maps whose keys are the user's (label names), though the chart pre-fills one.
FREE_FORM = {("istio-gateway", "labels")}


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


# --- the gateway on kind: a node port fixed in config ----------------------------------------


def _chart_service_ports():
    defaults = yaml.safe_load(reference_file("istio/1.30.3/gateway.values.yaml").read_text())
    return defaults["_internal_defaults_do_not_set"]["service"]["ports"]


def test_a_nodeport_gateway_serves_http_on_the_configured_node_port(render_config):
    def mutate(config):
        config["istio-canary:platform"].update(gatewayServiceType="NodePort", gatewayNodePort=31234)

    values = release(render_config(mutate), "istio-gateway")["inputs"]["values"]
    ports = values["service"]["ports"]
    # Helm replaces the chart's list: every default port must still be there, only HTTP pinned.
    assert [{k: v for k, v in p.items() if k != "nodePort"} for p in ports] == _chart_service_ports()
    assert {p["name"]: p.get("nodePort") for p in ports} == {"status-port": None, "http2": 31234, "https": None}
    schema = json.loads(reference_file("istio/1.30.3/gateway.values.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(values)


def test_the_gateway_node_port_defaults_to_the_one_kind_up_maps(changed_plan):
    ports = release(changed_plan, "istio-gateway")["inputs"]["values"]["service"]["ports"]
    kind_up = (PROJECT_DIR / "scripts" / "kind-up.sh").read_text()
    default = re.search(r"GATEWAY_NODE_PORT:-(\d+)", kind_up).group(1)
    assert next(p["nodePort"] for p in ports if p["name"] == "http2") == int(default)


def test_a_load_balancer_gateway_keeps_the_chart_ports(render_config):
    def mutate(config):
        config["istio-canary:platform"].update(gatewayServiceType="LoadBalancer")
        config["istio-canary:platform"].pop("gatewayNodePort", None)

    assert release(render_config(mutate), "istio-gateway")["inputs"]["values"]["service"] == {"type": "LoadBalancer"}
