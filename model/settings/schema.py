"""The shape of a stack's config: one frozen model per section, with its cross-field rules.

A rule that relates two fields of one model is a `model_validator` of that model, raising
`Problems` with key paths relative to it; the parser reports them at their full key path.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from model import weights
from model.settings.delivery import Delivery
from model.settings.fields import (
    DIGEST,
    MACHINE_TYPE,
    ChartVersion,
    Cidr,
    DnsLabel,
    FlaggerInterval,
    GkeClusterName,
    HeaderName,
    Host,
    Problems,
    Regex,
    Repository,
    StrictModel,
    Tag,
    TrackText,
    Weight,
)
from model.versions import Track

# Namespaces the platform owns; an app placed there would share them with istiod, Flagger or
# Prometheus. Every `kube-*` namespace belongs to Kubernetes (docs/reference/configuration.md).
RESERVED_NAMESPACES = frozenset({"istio-system", "monitoring", "kube-system", "kube-public", "kube-node-lease"})
RESERVED_NAMESPACE_PREFIX = "kube-"


def is_reserved_namespace(namespace: str) -> bool:
    return namespace in RESERVED_NAMESPACES or namespace.startswith(RESERVED_NAMESPACE_PREFIX)


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


class Side(StrictModel):
    tag: Tag
    track: TrackText | None = None
    replicas: int = Field(1, ge=1, le=100)


class Weights(StrictModel):
    ga: Weight
    canary: Weight


class LoadTest(StrictModel):
    qps: int = Field(5, ge=1, le=1000)
    concurrency: int = Field(2, ge=1, le=100)


class _AppModel(StrictModel):
    """What every app strategy shares: a namespace of its own and tags inside their tracks."""

    namespace: DnsLabel

    @abstractmethod
    def sides(self) -> dict[str, Side]:
        """Each side's tag and track by name (pydantic's model metaclass is an ABCMeta)."""

    def _rules(self) -> list[tuple[str, str]]:
        """Cross-field problems of this strategy, besides the shared ones."""
        return []

    @model_validator(mode="after")
    def _app_rules(self) -> _AppModel:
        problems = []
        if is_reserved_namespace(self.namespace):
            problems.append(("namespace", f"{self.namespace!r} is reserved for the platform; use an app namespace"))
        for side_name, side in self.sides().items():
            tag_path = f"{side_name}.tag" if side_name else "tag"
            if side.track is None:
                continue
            if DIGEST.fullmatch(side.tag):
                problems.append(
                    (
                        tag_path,
                        "a sha256: digest cannot be checked against a track; use a version tag or drop the track",
                    )
                )
            elif not Track.parse(side.track).admits_tag(side.tag):
                problems.append((tag_path, f"{side.tag!r} is outside its track {side.track!r}"))
        problems.extend(self._rules())
        if problems:
            raise Problems(problems)
        return self


class WeightedApp(_AppModel):
    strategy: Literal["weighted"]
    image: Repository
    hosts: tuple[Host, ...] = Field((), strict=False)
    ga: Side
    canary: Side
    weights: Weights
    loadtest: LoadTest = LoadTest()
    autopilot: bool = True  # false: `delivery autopilot` leaves this app to people

    def sides(self) -> dict[str, Side]:
        return {"ga": self.ga, "canary": self.canary}

    def _rules(self) -> list[tuple[str, str]]:
        problems = []
        total = self.weights.ga + self.weights.canary
        if total != 100:
            problems.append(
                (
                    "weights",
                    f"{weights.split(self.weights.ga, self.weights.canary)} sum to {total}; they must sum to 100",
                )
            )
        if "*" in self.hosts:
            # Its one VirtualService is also bound to the `mesh` gateway, where Istio rejects '*'.
            problems.append(
                (
                    "hosts",
                    "'*' is not allowed for a weighted app (its VirtualService also "
                    "routes in-mesh traffic); name the hosts, e.g. podinfo.example.com",
                )
            )
        return problems


class CanaryAnalysis(StrictModel):
    interval: FlaggerInterval = "1m"
    threshold: int = Field(5, ge=1, le=100)
    max_weight: int = Field(50, ge=1, le=100)
    step_weight: int = Field(10, ge=1, le=100)


class ABAnalysis(StrictModel):
    interval: FlaggerInterval = "1m"
    threshold: int = Field(5, ge=1, le=100)
    iterations: int = Field(10, ge=1, le=1000)


class Match(StrictModel):
    header: HeaderName
    regex: Regex


class _FlaggerApp(_AppModel):
    image: Repository
    tag: Tag
    track: TrackText | None = None

    def sides(self) -> dict[str, Side]:
        # A Flagger app has one tag in Git; Flagger itself runs primary and canary from it.
        return {"": Side(tag=self.tag, track=self.track)}


class CanaryApp(_FlaggerApp):
    strategy: Literal["canary"]
    hosts: tuple[Host, ...] = Field((), strict=False)
    analysis: CanaryAnalysis = CanaryAnalysis()

    def _rules(self) -> list[tuple[str, str]]:
        step, most = self.analysis.step_weight, self.analysis.max_weight
        if step > most:
            return [("analysis.stepWeight", f"{step} is more than maxWeight {most}; allowed: 1..maxWeight")]
        return []


class ABApp(_FlaggerApp):
    strategy: Literal["ab"]
    hosts: tuple[Host, ...] = Field(min_length=1, strict=False)
    analysis: ABAnalysis = ABAnalysis()
    match: tuple[Match, ...] = Field(min_length=1, strict=False)


App = WeightedApp | CanaryApp | ABApp
STRATEGIES: dict[str, type[StrictModel]] = {"weighted": WeightedApp, "canary": CanaryApp, "ab": ABApp}


class Notifications(StrictModel):
    slack_channel: str | None = Field(None, pattern=r"^#?[a-z0-9][a-z0-9._-]{0,79}$")
    slack_user: str = Field("flagger", min_length=1)


@dataclass(frozen=True)
class Gcp:
    project: str
    region: str


@dataclass(frozen=True)
class Settings:
    cluster: Cluster
    gcp: Gcp | None
    platform: Platform
    apps: Mapping[str, App]
    delivery: Delivery
    notifications: Notifications
    # Whether `slackWebhookUrl` is configured, and, inside a Pulumi program, its secret Output.
    has_slack_webhook: bool = False
    slack_webhook_url: Any = field(default=None, compare=False)

    def apps_by_strategy(self, *strategies: str) -> dict[str, App]:
        return {name: app for name, app in self.apps.items() if app.strategy in strategies}


SECTIONS: dict[str, type[StrictModel]] = {
    "cluster": Cluster,
    "platform": Platform,
    "delivery": Delivery,
    "notifications": Notifications,
}
TOP_LEVEL_KEYS = (*SECTIONS, "apps", "slackWebhookUrl")


# What the Flagger load tester chart derives in each namespace hosting a canary or A/B app:
# components/flagger.py sets `fullnameOverride` to LOADTESTER_NAME, which names its Deployment,
# Service, PDB and RBAC objects; its pods carry `app: <chart name>` and its Service selects them
# by it (loadtester/_helpers.tpl "loadtester.name", templates/service.yaml).
LOADTESTER_NAME = "flagger-loadtester"
LOADTESTER_APP_LABEL = "loadtester"


def owned_names(name: str, app: App) -> set[str]:
    """Object names an app occupies in its namespace (ours, or Flagger's for canary/ab)."""
    if isinstance(app, WeightedApp):
        return {name, f"{name}-ga", f"{name}-canary", f"{name}-loadtest"}
    return {name, f"{name}-primary", f"{name}-canary"}
