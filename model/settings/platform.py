"""The platform's sections of a stack's config: the cluster (GKE or an existing one) and the
platform's charts and control-plane sizes. Re-exported by `model.settings.schema`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from model.settings.fields import (
    MACHINE_TYPE,
    ChartVersion,
    Cidr,
    GkeClusterName,
    Problems,
    StrictModel,
)

# Marks a Cluster field that only a GKE cluster uses (GKE_ONLY_KEYS is derived from it).
_GKE_ONLY: dict[str, Any] = {"json_schema_extra": {"gke_only": True}}


class Cluster(StrictModel):
    provider: Literal["gke", "existing"]
    name: GkeClusterName = Field("istio-canary", **_GKE_ONLY)
    location: str | None = Field(None, **_GKE_ONLY)
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field("REGULAR", **_GKE_ONLY)
    machine_type: str = Field("e2-standard-4", **_GKE_ONLY)
    min_nodes: int = Field(1, ge=1, le=1000, **_GKE_ONLY)
    max_nodes: int = Field(3, ge=1, le=1000, **_GKE_ONLY)
    private_nodes: bool = Field(True, **_GKE_ONLY)
    master_authorized_networks: tuple[Cidr, ...] = Field((), strict=False, **_GKE_ONLY)
    deletion_protection: bool = Field(True, **_GKE_ONLY)
    context: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _provider_rules(self) -> Cluster:
        problems = []
        if self.provider == "existing":
            for key in sorted(self.model_fields_set & set(GKE_ONLY_KEYS)):
                problems.append((to_camel(key), "only allowed with cluster.provider gke"))
        else:
            if self.context is not None:
                problems.append(("context", "only allowed with cluster.provider existing"))
            if self.min_nodes > self.max_nodes:
                problems.append(("minNodes", f"{self.min_nodes} is more than cluster.maxNodes {self.max_nodes}"))
            if not MACHINE_TYPE.fullmatch(self.machine_type):
                problems.append(("machineType", f"{self.machine_type!r} is not a machine type like e2-standard-4"))
            if self.private_nodes and not self.master_authorized_networks:
                problems.append(
                    (
                        "masterAuthorizedNetworks",
                        "private nodes need at least one CIDR allowed to reach the control plane",
                    )
                )
        if problems:
            raise Problems(problems)
        return self


GKE_ONLY_KEYS = tuple(
    name
    for name, f in Cluster.model_fields.items()
    if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("gke_only")
)


# istiod and the gateway on GKE: node upgrades and scale-downs drain nodes one at a time, and a
# single replica would drop ingress, and refuse new pods while istiod's injector (which fails
# closed) restarts. Two replicas with a PodDisruptionBudget keep one serving (components/mesh.py).
HA_MIN_REPLICAS = 2
HA_KEYS = ("istiod_replicas", "gateway_replicas")


class Platform(StrictModel):
    istio_version: ChartVersion = "1.30.3"
    flagger_version: ChartVersion = "1.44.0"
    loadtester_version: ChartVersion = "0.38.0"
    prometheus_version: ChartVersion = "29.27.0"
    grafana_version: ChartVersion = "12.11.1"
    gateway_service_type: Literal["LoadBalancer", "NodePort", "ClusterIP"] = "LoadBalancer"
    # A fixed node port for the gateway's HTTP port, so a kind cluster can map it to the host
    # (scripts/kind-up.sh); the range is the API server's default --service-node-port-range.
    gateway_node_port: int = Field(30080, ge=30000, le=32767)
    mtls: Literal["STRICT", "PERMISSIVE"] = "STRICT"
    # The control plane's size: the least replicas the istiod and gateway autoscalers keep, and
    # the most they add. A GKE stack defaults to (and needs) HA_MIN_REPLICAS; an existing cluster
    # (kind) defaults to 1 (model/settings/parse.py).
    istiod_replicas: int = Field(HA_MIN_REPLICAS, ge=1, le=20)
    istiod_max_replicas: int = Field(5, ge=1, le=50)
    gateway_replicas: int = Field(HA_MIN_REPLICAS, ge=1, le=20)
    gateway_max_replicas: int = Field(5, ge=1, le=50)

    @model_validator(mode="after")
    def _node_port_rules(self) -> Platform:
        problems = []
        # Only a NodePort Service has node ports; a value set for another type would be ignored.
        if "gateway_node_port" in self.model_fields_set and self.gateway_service_type != "NodePort":
            problems.append(("gatewayNodePort", "only allowed with platform.gatewayServiceType NodePort"))
        if problems:
            raise Problems(problems)
        return self
