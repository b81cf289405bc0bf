"""The Kubernetes cluster: a hardened GKE cluster, or an existing one through a kubeconfig context.

Either way the component's `provider` is the Kubernetes provider every later component
uses, and `kubeconfig` is a Pulumi secret.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from model.settings import Cluster, Gcp

if TYPE_CHECKING:
    # The GCP SDK is imported where a GKE cluster is built, not here: it is the largest package the
    # program loads (a second or more of imports), and a stack on an existing cluster never uses it.
    import pulumi_gcp as gcp

# VPC-native address plan. Pods and Services get secondary ranges of the node subnet;
# the control plane of a private cluster gets a /28 peered into the VPC.
NODE_RANGE = "10.10.0.0/20"
POD_RANGE = ("pods", "10.20.0.0/14")
SERVICE_RANGE = ("services", "10.24.0.0/20")
MASTER_RANGE = "172.16.0.0/28"
NODE_TAG = "istio-canary-node"

# Least privilege for nodes: the role GKE documents for a custom node service account (logs,
# metrics, autoscaling metrics; "Configure GKE node service accounts"), plus image pulls from
# Artifact Registry. Not the default compute service account, which has Editor on the project.
NODE_ROLES = (
    "roles/container.defaultNodeServiceAccount",
    "roles/artifactregistry.reader",
)

# The Google APIs this program's resources call, by the resources that need them. Enabling one
# needs serviceusage.googleapis.com, which every project has on (it cannot enable itself).
COMPUTE_API = "compute.googleapis.com"  # network, subnet, firewall, router, NAT
CONTAINER_API = "container.googleapis.com"  # cluster, node pool
IAM_API = "iam.googleapis.com"  # the node service account
RESOURCE_MANAGER_API = "cloudresourcemanager.googleapis.com"  # project IAM bindings
GCP_APIS = (COMPUTE_API, CONTAINER_API, IAM_API, RESOURCE_MANAGER_API)

# GKE places a regional cluster's nodes in three zones of its region unless told otherwise
# (GKE docs, "Regional clusters"); a node pool's initial_node_count is per zone.
REGIONAL_ZONES = 3


# A service account id: 6-30 characters, `[a-z]([-a-z0-9]*[a-z0-9])` (IAM API,
# projects.serviceAccounts.create, `accountId`), unique in its project.
SERVICE_ACCOUNT_ID_MAX = 30
_NODE_SA_SUFFIX = "-nodes"
_HASH_LEN = 8


def node_service_account_id(cluster_name: str) -> str:
    """The node service account's id, valid and distinct for every cluster name the settings accept.

    `<name>-nodes` cut at 30 characters, as before, while the cut ends in a letter or digit (names of
    up to 28 characters: the ids of running clusters stay as they are, since a new id replaces the
    account and with it the node pool). A longer name would end the cut in `-` (invalid) or share it
    with another name of the same first 30 characters: its first 21 characters then carry a short
    hash of the whole name instead. The two forms cannot meet: a hashed id ends in `-` and 8 hex
    digits, and no cut of `-nodes` leaves 8 hex digits after a `-`."""
    whole = f"{cluster_name}{_NODE_SA_SUFFIX}"
    if len(cluster_name) <= SERVICE_ACCOUNT_ID_MAX - 2:
        return whole[:SERVICE_ACCOUNT_ID_MAX]
    digest = hashlib.sha256(cluster_name.encode()).hexdigest()[:_HASH_LEN]
    return f"{cluster_name[: SERVICE_ACCOUNT_ID_MAX - _HASH_LEN - 1].rstrip('-')}-{digest}"


def _gke_kubeconfig(name: str, dns_endpoint: str) -> str:
    # The DNS-based endpoint: reachable from anywhere that reaches Google APIs (CI's hosted
    # runners included), each request checked by IAM (`container.clusters.connect`) before RBAC.
    # Its front end presents a certificate from a public CA, not the cluster CA: pinning
    # `certificate-authority-data` to the cluster CA fails TLS ("certificate signed by unknown
    # authority"; GKE docs "About network isolation"), so the system trust store verifies it.
    # Credentials come from gke-gcloud-auth-plugin at use time: nothing long-lived is stored.
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: https://{dns_endpoint}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {name}
current-context: {name}
users:
- name: {name}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      installHint: Install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin)
      provideClusterInfo: true
"""


def _initial_nodes_per_zone(location: str, min_nodes: int) -> int:
    """Per zone, so that the pool starts with at least `min_nodes` in total."""
    zonal = location.count("-") == 2  # europe-west1-b is a zone, europe-west1 a region
    return max(1, math.ceil(min_nodes / (1 if zonal else REGIONAL_ZONES)))


def _dns_endpoint(cluster: gcp.container.Cluster) -> pulumi.Output[str]:
    def endpoint(config: gcp.container.outputs.ClusterControlPlaneEndpointsConfig) -> str:
        dns = config.dns_endpoint_config
        if dns is None or not dns.endpoint:
            # The cluster enables the DNS endpoint, so GKE reports one; without it there is no kubeconfig.
            raise pulumi.RunError("the GKE cluster reported no DNS-based control-plane endpoint")
        return dns.endpoint

    return cluster.control_plane_endpoints_config.apply(endpoint)


class GkeCluster(pulumi.ComponentResource):
    """Network -> subnet -> cluster -> node pool -> Kubernetes provider."""

    def __init__(self, name: str, cfg: Cluster, project: Gcp, opts: pulumi.ResourceOptions | None = None):
        import pulumi_gcp as gcp

        super().__init__("istio-canary:cluster:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        location = cfg.location or project.region

        # On a fresh project these APIs are off and the first call to each fails. Left on at
        # destroy: other workloads of the project may use them, and disabling compute or
        # container would take their resources down too.
        apis = {
            api: gcp.projects.Service(
                f"{name}-api-{api.split('.')[0]}",
                project=project.project,
                service=api,
                disable_on_destroy=False,
                opts=child,
            )
            for api in GCP_APIS
        }

        # The network, subnet, router, NAT and firewall take Pulumi's auto-names: `<resource name>-`
        # and 7 random hex digits (pulumi-gcp's tfbridge AutoName, at most 63 characters), valid
        # RFC 1035 names whatever the cluster is called, and distinct between the stacks of one
        # project. Naming them after the cluster instead would replace the live network of every
        # existing stack (a new name is a new network), and the cluster with it.
        network = gcp.compute.Network(
            f"{name}-network",
            project=project.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            # Every compute resource here hangs off the network (subnet, firewall, router, NAT):
            # they wait for the Compute API through it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[apis[COMPUTE_API]]),
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            project=project.project,
            region=project.region,
            network=network.id,
            ip_cidr_range=NODE_RANGE,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=POD_RANGE[0], ip_cidr_range=POD_RANGE[1]),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICE_RANGE[0], ip_cidr_range=SERVICE_RANGE[1]),
            ],
            opts=child,
        )

        node_sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=project.project,
            account_id=node_service_account_id(cfg.name),
            display_name=f"GKE nodes of {cfg.name}",
            # Service accounts are IAM API objects.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[apis[IAM_API]]),
        )
        node_roles = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1]}",
                project=project.project,
                role=role,
                member=node_sa.email.apply(lambda email: f"serviceAccount:{email}"),
                # Project IAM policies are read and written through the Resource Manager API.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[apis[RESOURCE_MANAGER_API]]),
            )
            for role in NODE_ROLES
        ]

        cluster = gcp.container.Cluster(
            name,
            name=cfg.name,
            project=project.project,
            location=location,
            network=network.id,
            subnetwork=subnet.id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=POD_RANGE[0],
                services_secondary_range_name=SERVICE_RANGE[0],
            ),
            # The default pool cannot be autoscaled by total counts: it is replaced by the pool
            # below. It still runs for the few minutes before its removal, so it gets the node
            # service account too, not the default compute one (Editor on the project).
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=gcp.container.ClusterNodeConfigArgs(
                service_account=node_sa.email,
                oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
            ),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=cfg.release_channel),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{project.project}.svc.id.goog",
            ),
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False,
                ),
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=False,
                master_ipv4_cidr_block=MASTER_RANGE,
            )
            if cfg.private_nodes
            else None,
            # The DNS endpoint is how Pulumi, CI and people reach the API server (see
            # _gke_kubeconfig); the IP endpoint stays behind the authorized networks below.
            control_plane_endpoints_config=gcp.container.ClusterControlPlaneEndpointsConfigArgs(
                dns_endpoint_config=gcp.container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                    allow_external_traffic=True,
                ),
            ),
            # Always set: without the block the IP endpoint accepts every source address. An
            # empty list closes the IP endpoint to all but Google's own ranges; the DNS endpoint
            # above, gated by IAM, is then the only way in.
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=c, display_name=f"allowed-{i}"
                    )
                    for i, c in enumerate(cfg.master_authorized_networks)
                ],
            ),
            deletion_protection=cfg.deletion_protection,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The Container API must be on; the node roles must be granted before the
                # default pool's nodes start as that account and try to write logs and metrics.
                depends_on=[apis[CONTAINER_API], *node_roles],
                # node_config describes the removed default pool: GKE reports it from the
                # remaining pool afterwards, and any diff on it would replace the cluster.
                ignore_changes=["nodeConfig"],
            ),
        )

        # What the nodes need from the network before anything runs on them (private nodes only).
        node_network: list[pulumi.Resource] = []
        if cfg.private_nodes:
            # istiod's sidecar-injection and validation webhooks listen on 15017; GKE's
            # control plane only reaches private nodes on 443/10250 unless this is opened
            # (istio/istio#19532), and every pod would then start without a sidecar.
            webhook_firewall = gcp.compute.Firewall(
                f"{name}-allow-istio-webhooks",
                project=project.project,
                network=network.id,
                direction="INGRESS",
                source_ranges=[MASTER_RANGE],
                target_tags=[NODE_TAG],
                allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["15017"])],
                opts=child,
            )
            # Private nodes have no external address: images from ghcr.io need Cloud NAT.
            router = gcp.compute.Router(
                f"{name}-router", project=project.project, region=project.region, network=network.id, opts=child
            )
            nat = gcp.compute.RouterNat(
                f"{name}-nat",
                project=project.project,
                region=project.region,
                router=router.name,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                opts=child,
            )
            node_network = [webhook_firewall, nat]

        node_pool = gcp.container.NodePool(
            f"{name}-pool",
            project=project.project,
            location=location,
            cluster=cluster.name,
            # Start at minNodes: with no initial count the pool starts empty and every first pod
            # (and Helm release) waits for the autoscaler. Later the autoscaler owns the size,
            # and a diff on this field would replace the pool (pulumi-gcp NodePool docs).
            initial_node_count=_initial_nodes_per_zone(location, cfg.min_nodes),
            # total_*: the configured counts are for the whole pool, not per zone.
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=cfg.min_nodes,
                total_max_node_count=cfg.max_nodes,
                location_policy="BALANCED",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=cfg.machine_type,
                service_account=node_sa.email,
                oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True,
                    enable_integrity_monitoring=True,
                ),
                tags=[NODE_TAG],
                labels={"cluster": cfg.name},
            ),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )

        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, _dns_endpoint(cluster)).apply(lambda args: _gke_kubeconfig(*args))
        )
        # Nothing can be scheduled before the pool exists: Helm releases would time out waiting.
        # Private nodes also need Cloud NAT to pull images (docker.io, ghcr.io) and the 15017
        # firewall rule for istiod's webhooks: without them the first releases time out or
        # their pods start without sidecars. They are siblings of the cluster, so nothing
        # else orders them before the workloads.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_pool, *node_network]),
        )
        self.cluster_name = cfg.name
        self.register_outputs(
            {"kubeconfig": self.kubeconfig, "clusterName": cluster.name, "endpoint": _dns_endpoint(cluster)}
        )


class ExistingCluster(pulumi.ComponentResource):
    """A cluster someone else runs (kind, minikube): a provider for one kubeconfig context."""

    def __init__(self, name: str, cfg: Cluster, opts: pulumi.ResourceOptions | None = None):
        super().__init__("istio-canary:cluster:ExistingCluster", name, None, opts)
        # No kubeconfig output: the user's kubeconfig holds every context and client key of the
        # machine, and the provider reads it by itself. Exporting it would copy all of that into
        # the stack's state, encrypted or not.
        self.kubeconfig: pulumi.Output[str] | None = None
        self.provider = k8s.Provider(f"{name}-k8s", context=cfg.context, opts=pulumi.ResourceOptions(parent=self))
        self.cluster_name = cfg.context or "current-context"
        self.register_outputs({"context": self.cluster_name})


def build_cluster(cluster: Cluster, project: Gcp | None) -> GkeCluster | ExistingCluster:
    if cluster.provider == "gke":
        assert project is not None  # the settings parser requires gcp:project and a location for gke
        return GkeCluster("cluster", cluster, project)
    return ExistingCluster("cluster", cluster)
