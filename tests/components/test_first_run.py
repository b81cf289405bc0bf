"""The first real `pulumi up` and the first preview: what the recorded plan cannot show on its own.

Two things the plan redacts or cannot show on its own are recorded here by wrapping the offline
engine: the kubeconfig in clear text (it is a secret), and a preview before the Helm releases exist
(their `status` is unknown then).
"""

from __future__ import annotations

import pytest
import yaml

from delivery.plan import engine

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture
def revealing_render(monkeypatch, render_config):
    """`render_config`, with secrets shown in clear text."""
    plain = engine._plain

    def reveal(value):
        if isinstance(value, dict) and value.get(engine.SIG_KEY) == engine.SECRET_SIG:
            return reveal(value.get("value"))
        if isinstance(value, dict) and value.get(engine.SIG_KEY) == engine.OUTPUT_SIG:
            return reveal(value.get("value", engine.UNKNOWN_VALUE))
        return plain(value)

    monkeypatch.setattr(engine, "_plain", reveal)
    return render_config


@pytest.fixture
def revealed(revealing_render):
    return revealing_render(lambda config: None)


def test_kubeconfig_reaches_the_dns_endpoint_and_trusts_its_public_certificate(revealed):
    cluster = revealed.of_type(CLUSTER)[0]
    kubeconfig = yaml.safe_load(revealed.of_type("pulumi:providers:kubernetes")[0]["inputs"]["kubeconfig"])
    (entry,) = kubeconfig["clusters"]

    # The mocks answer with the cluster's DNS endpoint as GKE reports it (`*.gke.goog`).
    assert entry["cluster"]["server"].startswith("https://gke-")
    assert entry["cluster"]["server"].endswith(".europe-west1.gke.goog")
    assert engine.MOCK_CLUSTER_ENDPOINT not in entry["cluster"]["server"]
    # The DNS endpoint's certificate is from a public CA: the cluster CA would fail TLS.
    assert "certificate-authority-data" not in entry["cluster"]
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert cluster["inputs"]["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True


def test_default_pool_config_is_ignored_after_creation(dev_plan):
    cluster = dev_plan.of_type(CLUSTER)[0]
    assert cluster["ignoreChanges"] == ["nodeConfig"]


def test_node_pool_size_is_left_to_the_autoscaler_after_creation(dev_plan):
    assert dev_plan.of_type(NODE_POOL)[0]["ignoreChanges"] == ["initialNodeCount"]


def test_a_preview_before_the_gateway_release_exists_does_not_read_its_service(monkeypatch, dev_plan, render_config):
    # Before the first install the engine knows no release status: the Service ID must be
    # unknown too, so the engine skips the read instead of failing on a missing Service.
    mock_outputs = engine._mock_outputs

    def not_installed_yet(type_, name, inputs):
        id_, state = mock_outputs(type_, name, inputs)
        if type_ == RELEASE:
            state["status"] = engine.UNKNOWN_VALUE
        return id_, state

    monkeypatch.setattr(engine, "_mock_outputs", not_installed_yet)
    plan = render_config(lambda config: None)

    assert plan.named("istio-gateway-service")["id"] == engine.UNKNOWN_VALUE
    # Once the release exists, the read is of the Service the gateway chart names after it.
    assert dev_plan.named("istio-gateway-service")["id"] == "istio-system/istio-gateway"
