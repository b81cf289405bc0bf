"""components/mesh.py: istio-base -> istiod -> gateway, the public Gateway wired to the gateway's
pods, mesh-wide mTLS from config, and the gateway's Service (a fixed node port on kind)."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml
from conftest import reference_file

from delivery.plan import engine
from tests.components.support.platform import release
from tests.support.project import PROJECT_DIR

# --- dependency graph: one test per edge ---------------------------------------------------


def test_istiod_waits_for_istio_base(dev_plan):
    assert release(dev_plan, "istio-base")["urn"] in release(dev_plan, "istiod")["dependencies"]


def test_gateway_waits_for_istiod(dev_plan):
    assert release(dev_plan, "istiod")["urn"] in release(dev_plan, "istio-gateway")["dependencies"]


def test_istio_custom_resources_wait_for_istio_base(dev_plan):
    istio_crs = [r for r in dev_plan.resources if ".istio.io/" in r["type"] and r["custom"]]
    assert {r["inputs"]["kind"] for r in istio_crs} >= {"Gateway", "PeerAuthentication"}
    for cr in istio_crs:
        assert release(dev_plan, "istio-base")["urn"] in cr["dependencies"], cr["name"]


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


def test_mesh_wide_mtls_follows_config(dev_plan, changed_plan):
    for plan, mode in ((dev_plan, "STRICT"), (changed_plan, "PERMISSIVE")):
        policy = plan.named("mesh-mtls")["inputs"]
        assert policy["metadata"] == {"name": "default", "namespace": "istio-system"}
        assert policy["spec"] == {"mtls": {"mode": mode}}


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
