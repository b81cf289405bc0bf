"""The Kubernetes cluster: a hardened GKE cluster, or an existing one through a kubeconfig context.

Either way the component's `provider` is the Kubernetes provider every later component
uses, and `kubeconfig` is a Pulumi secret.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from model.settings import Cluster, Gcp

# VPC-native address plan. Pods and Services get secondary ranges of the node subnet;
# the control plane of a private cluster gets a /28 peered into the VPC.
NODE_RANGE = "10.10.0.0/20"
POD_RANGE = ("pods", "10.20.0.0/14")
SERVICE_RANGE = ("services", "10.24.0.0/20")
MASTER_RANGE = "172.16.0.0/28"
NODE_TAG = "istio-canary-node"

# Least privilege for nodes: write logs and metrics, pull images. Not the default
# compute service account, which has Editor on the project.
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)


def _gke_kubeconfig(name: str, endpoint: str, ca: str) -> str:
    # Credentials come from gke-gcloud-auth-plugin at use time: nothing long-lived is stored.
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: https://{endpoint}
    certificate-authority-data: {ca}
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


class GkeCluster(pulumi.ComponentResource):
    """Network -> subnet -> cluster -> node pool -> Kubernetes provider."""

    def __init__(self, name: str, cfg: Cluster, project: Gcp, opts: pulumi.ResourceOptions | None = None):
        super().__init__("istio-canary:cluster:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        location = cfg.location or project.region

        network = gcp.compute.Network(
            f"{name}-network",
            project=project.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
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
            # The default pool cannot be given our service account or autoscaling: replace it.
            remove_default_node_pool=True,
            initial_node_count=1,
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
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=c, display_name=f"allowed-{i}"
                    )
                    for i, c in enumerate(cfg.master_authorized_networks)
                ],
            )
            if cfg.master_authorized_networks
            else None,
            deletion_protection=cfg.deletion_protection,
            opts=child,
        )

        if cfg.private_nodes:
            # istiod's sidecar-injection and validation webhooks listen on 15017; GKE's
            # control plane only reaches private nodes on 443/10250 unless this is opened
            # (istio/istio#19532), and every pod would then start without a sidecar.
            gcp.compute.Firewall(
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
            gcp.compute.RouterNat(
                f"{name}-nat",
                project=project.project,
                region=project.region,
                router=router.name,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                opts=child,
            )

        node_sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=project.project,
            account_id=f"{cfg.name}-nodes"[:30],
            display_name=f"GKE nodes of {cfg.name}",
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1]}",
                project=project.project,
                role=role,
                member=node_sa.email.apply(lambda email: f"serviceAccount:{email}"),
                opts=child,
            )

        node_pool = gcp.container.NodePool(
            f"{name}-pool",
            project=project.project,
            location=location,
            cluster=cluster.name,
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
            opts=child,
        )

        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(
                lambda args: _gke_kubeconfig(*args)
            )
        )
        # Nothing can be scheduled before the pool exists: Helm releases would time out waiting.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_pool]),
        )
        self.cluster_name = cfg.name
        self.register_outputs(
            {"kubeconfig": self.kubeconfig, "clusterName": cluster.name, "endpoint": cluster.endpoint}
        )


class ExistingCluster(pulumi.ComponentResource):
    """A cluster someone else runs (kind, minikube): a provider for one kubeconfig context."""

    def __init__(self, name: str, cfg: Cluster, opts: pulumi.ResourceOptions | None = None):
        super().__init__("istio-canary:cluster:ExistingCluster", name, None, opts)
        path = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
        # The provider reads the same file by itself; it is read here only to export it as a secret.
        self.kubeconfig = pulumi.Output.secret(path.read_text() if path.is_file() else "")
        self.provider = k8s.Provider(f"{name}-k8s", context=cfg.context, opts=pulumi.ResourceOptions(parent=self))
        self.cluster_name = cfg.context or "current-context"
        self.register_outputs({"kubeconfig": self.kubeconfig})


def build_cluster(cluster: Cluster, project: Gcp | None) -> GkeCluster | ExistingCluster:
    if cluster.provider == "gke":
        assert project is not None  # the settings parser requires gcp:project and a location for gke
        return GkeCluster("cluster", cluster, project)
    return ExistingCluster("cluster", cluster)
