"""The GKE cluster is hardened by construction; the local stack touches no cloud."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.project import FIXTURES_DIR, PROJECT_DIR

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"


@pytest.fixture(scope="module")
def gke(dev_plan):
    return dev_plan.of_type(CLUSTER)[0]["inputs"]


@pytest.fixture(scope="module")
def pool(dev_plan):
    return dev_plan.of_type(NODE_POOL)[0]["inputs"]


def test_gke_cluster_is_hardened(gke):
    assert gke["workloadIdentityConfig"] == {"workloadPool": "acme-istio-canary.svc.id.goog"}
    assert gke["enableShieldedNodes"] is True
    assert gke["releaseChannel"] == {"channel": "REGULAR"}
    assert gke["enableLegacyAbac"] is False
    assert gke["masterAuth"]["clientCertificateConfig"] == {"issueClientCertificate": False}
    assert "username" not in gke["masterAuth"] and "password" not in gke["masterAuth"]
    assert gke["deletionProtection"] is True
    assert gke["removeDefaultNodePool"] is True


def test_gke_cluster_is_vpc_native_in_its_own_network(dev_plan, gke):
    subnet = dev_plan.of_type("gcp:compute/subnetwork:Subnetwork")[0]["inputs"]
    ranges = {r["rangeName"] for r in subnet["secondaryIpRanges"]}
    assert gke["networkingMode"] == "VPC_NATIVE"
    assert {
        gke["ipAllocationPolicy"]["clusterSecondaryRangeName"],
        gke["ipAllocationPolicy"]["servicesSecondaryRangeName"],
    } == ranges
    assert dev_plan.of_type("gcp:compute/network:Network")[0]["inputs"]["autoCreateSubnetworks"] is False


def test_private_nodes_with_authorized_networks(gke):
    assert gke["privateClusterConfig"]["enablePrivateNodes"] is True
    assert [b["cidrBlock"] for b in gke["masterAuthorizedNetworksConfig"]["cidrBlocks"]] == ["203.0.113.0/24"]


def test_private_nodes_open_istio_webhook_port_from_the_control_plane(dev_plan, gke):
    firewall = dev_plan.named("cluster-allow-istio-webhooks")["inputs"]
    assert firewall["allows"] == [{"protocol": "tcp", "ports": ["15017"]}]
    assert firewall["sourceRanges"] == [gke["privateClusterConfig"]["masterIpv4CidrBlock"]]
    assert set(firewall["targetTags"]) <= set(dev_plan.of_type(NODE_POOL)[0]["inputs"]["nodeConfig"]["tags"])


def test_node_pool_autoscales_and_self_heals(pool):
    assert pool["autoscaling"]["totalMinNodeCount"] == 1 and pool["autoscaling"]["totalMaxNodeCount"] == 5
    assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pool["nodeConfig"]["shieldedInstanceConfig"]["enableSecureBoot"] is True


def test_node_pool_runs_as_its_own_service_account(dev_plan, pool):
    account = dev_plan.of_type("gcp:serviceaccount/account:Account")[0]
    assert pool["nodeConfig"]["serviceAccount"].startswith(account["inputs"]["accountId"] + "@")
    assert "compute@developer" not in pool["nodeConfig"]["serviceAccount"]
    roles = {m["inputs"]["role"] for m in dev_plan.of_type("gcp:projects/iAMMember:IAMMember")}
    # The role GKE documents for a custom node service account, and nothing broad.
    assert "roles/editor" not in roles and "roles/container.defaultNodeServiceAccount" in roles


def test_default_node_pool_runs_as_the_node_service_account_until_removed(dev_plan, gke, pool):
    # It exists for the few minutes before removal: not as the default compute account either.
    assert gke["nodeConfig"]["serviceAccount"] == pool["nodeConfig"]["serviceAccount"]
    cluster = dev_plan.of_type(CLUSTER)[0]
    granted = {m["urn"] for m in dev_plan.of_type("gcp:projects/iAMMember:IAMMember")}
    # Its nodes start with the roles they need to write logs and metrics already granted.
    assert granted <= set(cluster["dependencies"])


def test_control_plane_is_reached_by_dns_while_the_ip_endpoint_stays_restricted(gke):
    assert gke["controlPlaneEndpointsConfig"]["dnsEndpointConfig"] == {"allowExternalTraffic": True}
    assert gke["controlPlaneEndpointsConfig"].get("ipEndpointsConfig", {}).get("enabled", True) is True
    assert gke["masterAuthorizedNetworksConfig"]["cidrBlocks"]


@pytest.mark.parametrize(
    "location, min_nodes, per_zone",
    [
        ("europe-west1-b", 1, 1),
        ("europe-west1-b", 3, 3),
        # A regional pool spreads over three zones and counts initial nodes per zone.
        ("europe-west1", 1, 1),
        ("europe-west1", 4, 2),
        ("europe-west1", 6, 2),
    ],
)
def test_node_pool_starts_with_min_nodes_not_empty(render_config, location, min_nodes, per_zone):
    plan = render_config(
        lambda c: c["istio-canary:cluster"].update(location=location, minNodes=min_nodes, maxNodes=max(min_nodes, 6))
    )
    assert plan.of_type(NODE_POOL)[0]["inputs"]["initialNodeCount"] == per_zone


GCP_APIS = {
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",
}


def test_gcp_apis_are_enabled_and_stay_on_at_destroy(dev_plan):
    services = {s["inputs"]["service"]: s["inputs"] for s in dev_plan.of_type("gcp:projects/service:Service")}
    assert set(services) == GCP_APIS
    assert all(s["disableOnDestroy"] is False and s["project"] == "acme-istio-canary" for s in services.values())


@pytest.mark.parametrize(
    "type_, api",
    [
        ("gcp:compute/network:Network", "compute.googleapis.com"),
        (CLUSTER, "container.googleapis.com"),
        ("gcp:serviceaccount/account:Account", "iam.googleapis.com"),
        ("gcp:projects/iAMMember:IAMMember", "cloudresourcemanager.googleapis.com"),
    ],
)
def test_gcp_resources_wait_for_their_api(dev_plan, type_, api):
    (service,) = [s["urn"] for s in dev_plan.of_type("gcp:projects/service:Service") if s["inputs"]["service"] == api]
    for resource in dev_plan.of_type(type_):
        assert service in resource["dependencies"], resource["name"]


def test_every_compute_resource_waits_for_the_compute_api_through_the_network(dev_plan):
    network = dev_plan.of_type("gcp:compute/network:Network")[0]["urn"]
    for type_ in ("subnetwork:Subnetwork", "firewall:Firewall", "router:Router"):
        for resource in dev_plan.of_type(f"gcp:compute/{type_}"):
            assert network in resource["dependencies"], resource["name"]


def test_kubernetes_provider_waits_for_the_node_pool(dev_plan):
    provider = dev_plan.of_type("pulumi:providers:kubernetes")[0]
    pool_urn = dev_plan.of_type(NODE_POOL)[0]["urn"]
    assert pool_urn in provider["dependencies"]
    assert provider["inputs"]["kubeconfig"] == "[secret]"


def test_kubeconfig_is_exported_as_a_secret(dev_plan):
    assert dev_plan.outputs["kubeconfig"] == "[secret]"


def test_an_existing_clusters_kubeconfig_never_lands_in_the_stack_state(local_plan):
    # The user's kubeconfig holds every context and key of the machine: the provider reads it
    # itself, and the stack exports nothing of it.
    assert "kubeconfig" not in local_plan.outputs
    assert "kubeconfig" not in local_plan.named("cluster-k8s")["inputs"]


def test_private_nodes_reach_the_network_before_anything_is_scheduled(dev_plan):
    # Images come through Cloud NAT and istiod's webhooks through the 15017 rule: the k8s
    # provider (and so every release and workload) waits for both, not only for the node pool.
    provider = dev_plan.of_type("pulumi:providers:kubernetes")[0]
    by_urn = dev_plan.by_urn()
    waits_for = {by_urn[urn]["type"] for urn in provider["dependencies"]}
    assert {
        "gcp:compute/routerNat:RouterNat",
        "gcp:compute/firewall:Firewall",
        "gcp:container/nodePool:NodePool",
    } <= waits_for


def test_local_stack_registers_no_gcp_resource(local_plan):
    assert not [r["type"] for r in local_plan.resources if r["type"].startswith(("gcp:", "pulumi:providers:gcp"))]
    provider = local_plan.of_type("pulumi:providers:kubernetes")[0]
    assert provider["inputs"]["context"] == "kind-istio-canary"


def test_cluster_settings_flow_into_the_plan(render_config):
    def zonal_stable_public(config):
        config["istio-canary:cluster"].update(releaseChannel="STABLE", privateNodes=False, deletionProtection=False)

    plan = render_config(zonal_stable_public)
    gke = plan.of_type(CLUSTER)[0]["inputs"]
    assert gke["releaseChannel"] == {"channel": "STABLE"} and gke["deletionProtection"] is False
    assert "privateClusterConfig" not in gke
    assert not plan.of_type("gcp:compute/firewall:Firewall") and not plan.of_type("gcp:compute/routerNat:RouterNat")


def test_public_nodes_without_authorized_networks_leave_the_ip_endpoint_closed(render_config):
    # Without the block GKE's IP endpoint accepts any source; with an empty list it accepts none,
    # and the IAM-gated DNS endpoint stays the way in.
    def public_without_networks(config):
        config["istio-canary:cluster"].update(privateNodes=False, masterAuthorizedNetworks=[])

    gke = render_config(public_without_networks).of_type(CLUSTER)[0]["inputs"]
    assert gke["masterAuthorizedNetworksConfig"].get("cidrBlocks", []) == []
    assert gke["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True


@pytest.mark.slow
@pytest.mark.parametrize("stack, loads_gcp", [("local", False), ("dev", True)])
def test_only_a_gke_stack_loads_the_gcp_sdk(stack, loads_gcp, tmp_path):
    """The GCP SDK is the heaviest import: a preview of a stack on an existing cluster skips it."""
    code = (
        "import sys; from delivery.__main__ import main; "
        f"code = main(['preview', '--stack', '{stack}', '--stack-dir', sys.argv[1], '--quiet', '--out', sys.argv[2]]); "
        "print('pulumi_gcp' in sys.modules); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES_DIR), str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == str(loads_gcp)
