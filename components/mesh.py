"""The Istio mesh: base (CRDs) -> istiod -> ingress gateway, the public Gateway and mesh-wide mTLS.

Each step waits for exactly what it needs: istiod for the CRDs it watches, the gateway for
istiod's injection webhook. The public Gateway's selector and the gateway chart's pod label
come from one constant, so they cannot drift apart (the trap of a Gateway that routes nothing).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components import helm
from model.settings import Platform

GATEWAY_NAMESPACE = "istio-system"
# The gateway chart names its Deployment and Service after the release.
GATEWAY_RELEASE = "istio-gateway"
# The gateway chart labels its pods `istio: <release name without "istio-">` unless
# `labels.istio` is set (gateway/_helpers.tpl). We set it from this constant, and the public
# Gateway selects with it: one value on both sides, whatever the release is called.
GATEWAY_POD_LABELS = {"istio": "gateway"}
PUBLIC_GATEWAY_NAME = "public-gateway"
PUBLIC_GATEWAY = f"{GATEWAY_NAMESPACE}/{PUBLIC_GATEWAY_NAME}"

# Sidecar requests: every injected pod pays them, so they are sized for the demo apps.
PROXY_REQUESTS = {"cpu": "50m", "memory": "64Mi"}


def _gateway_service(platform: Platform) -> dict:
    if platform.gateway_service_type != "NodePort":
        return {"type": platform.gateway_service_type}
    # A fixed nodePort for HTTP: kind reaches a node port only through an `extraPortMappings`
    # entry fixed when the cluster is created (scripts/kind-up.sh), so it cannot be a random one.
    # The chart renders `service.ports` verbatim and Helm replaces lists instead of merging them,
    # so the chart's three default ports (gateway/values.yaml) are restated.
    return {
        "type": "NodePort",
        "ports": [
            {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
            {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": platform.gateway_node_port},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
        ],
    }


# istiod/templates/deployment.yaml: `app: istiod` is on every revision's istiod; `istio.io/rev` is
# `.Values.revision | default "default"`, and this program installs the default revision (no `revision`).
ISTIOD_POD_LABELS = {"app": "istiod", "istio.io/rev": "default"}


def _spread(pod_labels: dict[str, str]) -> list[dict]:
    """Replicas on different zones (a regional GKE cluster has three) and different nodes.
    `ScheduleAnyway`: a preference, so a zonal cluster, or nodes without a zone label, still
    schedule every replica (Kubernetes "Pod Topology Spread Constraints").
    `matchLabelKeys: [pod-template-hash]` counts only the pods of the same ReplicaSet, so neither
    the old ReplicaSet's pods during a rollout nor another Deployment carrying the same labels
    (istiod of another revision, during a canary upgrade) skew the spread (KEP-3243; beta and on
    by default since Kubernetes 1.27; an API server without it ignores the key, the labels still
    select)."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(pod_labels)},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def _istiod_size(platform: Platform) -> dict:
    # The chart autoscales istiod (autoscaleEnabled) between these bounds; with more than one
    # replica it renders a PodDisruptionBudget of `pdb.minAvailable` (istiod/templates/
    # poddisruptionbudget.yaml), so a node drain never takes the injector down entirely.
    size: dict = {"autoscaleMin": platform.istiod_replicas, "autoscaleMax": platform.istiod_max_replicas}
    if platform.istiod_replicas > 1:
        size |= {"pdb": {"minAvailable": 1}, "topologySpreadConstraints": _spread(ISTIOD_POD_LABELS)}
    return size


def _gateway_size(platform: Platform) -> dict:
    # The gateway chart renders no PodDisruptionBudget unless `podDisruptionBudget` is set, and
    # only with more than one replica (gateway/templates/poddisruptionbudget.yaml).
    size: dict = {
        "autoscaling": {"minReplicas": platform.gateway_replicas, "maxReplicas": platform.gateway_max_replicas}
    }
    if platform.gateway_replicas > 1:
        size |= {"podDisruptionBudget": {"minAvailable": 1}, "topologySpreadConstraints": _spread(GATEWAY_POD_LABELS)}
    return size


def gateway_servers(https: Mapping[str, tuple[str, ...]]) -> list[dict]:
    """The public Gateway's servers: plain HTTP for every host on 80, and per TLS credential an
    HTTPS server on 443 for its hosts, which port 80 redirects to HTTPS.

    One server cannot both redirect some hosts and serve others, so the redirected hosts get a
    port-80 server of their own beside the `*` one. A host matched by both gets one virtual host,
    which requires TLS as soon as any matching server sets httpsRedirect (istio/istio
    pilot/pkg/networking/core/gateway.go, buildGatewayHTTPRouteConfig: `vHostDedupMap`).
    """
    servers: list[dict] = [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]
    redirected = sorted(host for hosts in https.values() for host in hosts)
    if redirected:
        servers.append(
            {
                "port": {"number": 80, "name": "http-redirect", "protocol": "HTTP"},
                "hosts": redirected,
                "tls": {"httpsRedirect": True},
            }
        )
    # Server port names must be unique within a Gateway: one per credential, numbered in name order.
    for i, (credential, hosts) in enumerate(sorted(https.items())):
        servers.append(
            {
                "port": {"number": 443, "name": f"https-{i}", "protocol": "HTTPS"},
                "hosts": sorted(hosts),
                # The Secret `credential` (tls.crt, tls.key) lives in the gateway's namespace.
                "tls": {"mode": "SIMPLE", "credentialName": credential},
            }
        )
    return servers


def _ingress_address(service: k8s.core.v1.Service, service_type: str) -> pulumi.Output[str]:
    if service_type == "LoadBalancer":

        def first_ingress(status) -> str:
            ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
            return (ingress[0].ip or ingress[0].hostname or "") if ingress else "(pending)"

        return service.status.apply(first_ingress)
    # NodePort / ClusterIP: the in-cluster address; reach it with `kubectl port-forward`.
    return service.spec.apply(lambda spec: (spec.cluster_ip or "") if spec else "")


class Mesh(pulumi.ComponentResource):
    """Istio installed by Helm in `istio-system`, with a public Gateway: HTTP, and HTTPS for the
    hosts of each TLS credential (`https`: credential name -> hosts, `Settings.https_servers`)."""

    def __init__(
        self,
        name: str,
        platform: Platform,
        https: Mapping[str, tuple[str, ...]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("istio-canary:mesh:Mesh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The proxy version injected pods run (components/pods.py, injected_pod_annotations).
        self.istio_version = platform.istio_version

        # No `istio-injection` label: `disabled` would also keep the injector off the gateway's
        # pods, which opt in by pod label (istio/istio#54841).
        self.namespace = k8s.core.v1.Namespace(
            GATEWAY_NAMESPACE,
            metadata={"name": GATEWAY_NAMESPACE},
            opts=child,
        )
        namespace = self.namespace.metadata.name

        def release(resource_name: str, chart: str, *, values: dict, depends_on: list) -> k8s.helm.v3.Release:
            return helm.release(
                resource_name,
                chart=chart,
                platform=platform,
                namespace=namespace,
                values=values,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
            )

        self.base = release("istio-base", "base", values={}, depends_on=[])
        # istiod watches Istio's CRDs and patches the validation webhook that base installs.
        self.istiod = release(
            "istiod",
            "istiod",
            depends_on=[self.base],
            values={
                # Sidecars serve app and Envoy metrics merged on :15020 and istiod is annotated for
                # scraping: what Prometheus' annotation-driven `kubernetes-pods` job relies on.
                "meshConfig": {"enablePrometheusMerge": True},
                "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}},
                "global": {"proxy": {"resources": {"requests": PROXY_REQUESTS}}},
                **_istiod_size(platform),
            },
        )
        # `image: auto`: the proxy image is injected by istiod's webhook; without it the pods
        # start from the literal image "auto" and never become ready (istio/istio#54841).
        self.gateway = release(
            GATEWAY_RELEASE,
            "gateway",
            depends_on=[self.istiod],
            values={
                "labels": dict(GATEWAY_POD_LABELS),
                "service": _gateway_service(platform),
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                **_gateway_size(platform),
            },
        )

        self.public_gateway = k8s.apiextensions.CustomResource(
            PUBLIC_GATEWAY_NAME,
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata={"name": PUBLIC_GATEWAY_NAME, "namespace": namespace},
            spec={
                "selector": dict(GATEWAY_POD_LABELS),
                "servers": gateway_servers(https or {}),
            },
            # The Gateway kind is one of the CRDs the base chart installs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.base]),
        )
        # In the root namespace, a PeerAuthentication named `default` applies to the whole mesh.
        self.peer_authentication = k8s.apiextensions.CustomResource(
            "mesh-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata={"name": "default", "namespace": namespace},
            spec={"mtls": {"mode": platform.mtls}},
            # PeerAuthentication is a base chart CRD.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.base]),
        )

        # The ID comes from the release's status, as pulumi-kubernetes documents for reading a
        # chart's objects: unknown until the release exists, so a preview before the first
        # install skips the read. A constant ID would be read during every preview, and fail
        # while the release does not exist yet: `depends_on` does not defer a read
        # (pulumi/pulumi#16395). Helm waits for a LoadBalancer's address before the status is set.
        gateway_service = k8s.core.v1.Service.get(
            f"{GATEWAY_RELEASE}-service",
            pulumi.Output.concat(self.gateway.status.namespace, "/", self.gateway.status.name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ingress_address: pulumi.Output[str] = _ingress_address(gateway_service, platform.gateway_service_type)

        self.register_outputs(
            {
                "namespace": namespace,
                "publicGateway": PUBLIC_GATEWAY,
                "ingressAddress": self.ingress_address,
            }
        )
