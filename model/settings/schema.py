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

from model import weights
from model.settings.delivery import Delivery
from model.settings.fields import (
    DIGEST,
    DnsLabel,
    FlaggerInterval,
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

# Cluster and Platform live in their own module; importers of the schema still find them here.
from model.settings.platform import GKE_ONLY_KEYS, HA_KEYS, HA_MIN_REPLICAS, Cluster, Platform  # noqa: F401
from model.settings.workload import Autoscaling, FlaggerChecks, Workload
from model.versions import Track

# Namespaces the platform owns; an app placed there would share them with istiod, Flagger or
# Prometheus. Every `kube-*` namespace belongs to Kubernetes (docs/reference/configuration.md).
RESERVED_NAMESPACES = frozenset({"istio-system", "monitoring", "kube-system", "kube-public", "kube-node-lease"})
RESERVED_NAMESPACE_PREFIX = "kube-"


def is_reserved_namespace(namespace: str) -> bool:
    return namespace in RESERVED_NAMESPACES or namespace.startswith(RESERVED_NAMESPACE_PREFIX)


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
    path: str = Field("/", pattern=r"^/[^\s]*$")


class _AppModel(Workload):
    """What every app strategy shares: a namespace, tags inside their tracks, and its pods (`Workload`)."""

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
        problems.extend(self.workload_rules(getattr(self, "hosts", ())))
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
    # None: no load generator; the app's own clients make its traffic.
    loadtest: LoadTest | None = None
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
                    "routes in-mesh traffic); name the hosts, e.g. api.example.com",
                )
            )
        if self.loadtest is not None and self.protocol == "grpc" and "path" in self.loadtest.model_fields_set:
            problems.append(("loadtest.path", "a grpc app's load test calls the gRPC health service, not a path"))
        return problems


class CanaryAnalysis(FlaggerChecks):
    interval: FlaggerInterval = "1m"
    threshold: int = Field(5, ge=1, le=100)
    max_weight: int = Field(50, ge=1, le=100)
    step_weight: int = Field(10, ge=1, le=100)


class ABAnalysis(FlaggerChecks):
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
    autoscaling: Autoscaling = Autoscaling()

    analysis: CanaryAnalysis | ABAnalysis

    def sides(self) -> dict[str, Side]:
        # A Flagger app has one tag in Git; Flagger itself runs primary and canary from it.
        return {"": Side(tag=self.tag, track=self.track)}

    def uses_loadtester(self) -> bool:
        """Whether a webhook runs on the namespace's load tester (the default load test does)."""
        hooks = self.analysis.webhooks
        return hooks is None or any(hook.cmd is not None for hook in hooks)


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


class NamespaceSpec(StrictModel):
    """`namespaces.<ns>`: `create: false` marks a namespace that exists already (the program patches it)."""

    create: bool = True


# Every cluster has it and it can never be deleted: the program only ever patches it.
DEFAULT_NAMESPACE = "default"


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
    namespaces: Mapping[str, NamespaceSpec] = field(default_factory=dict)

    def creates_namespace(self, namespace: str) -> bool:
        """Whether the program creates (and on destroy deletes) `namespace`, or only labels it."""
        spec = self.namespaces.get(namespace)
        return namespace != DEFAULT_NAMESPACE and (spec is None or spec.create)

    def https_servers(self) -> dict[str, tuple[str, ...]]:
        """The public Gateway's HTTPS servers: each TLS credential with the hosts it serves."""
        servers: dict[str, tuple[str, ...]] = {}
        for app in self.apps.values():
            if app.tls is not None:
                servers[app.tls.credential_name] = (*servers.get(app.tls.credential_name, ()), *app.hosts)
        return servers

    def apps_by_strategy(self, *strategies: str) -> dict[str, App]:
        return {name: app for name, app in self.apps.items() if app.strategy in strategies}


SECTIONS: dict[str, type[StrictModel]] = {
    "cluster": Cluster,
    "platform": Platform,
    "delivery": Delivery,
    "notifications": Notifications,
}
TOP_LEVEL_KEYS = (*SECTIONS, "apps", "namespaces", "slackWebhookUrl")


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
    # A custom metric's MetricTemplate lives in the app's namespace (components/flagger_apps.py).
    templates = {f"{name}-{m.name}" for m in app.analysis.metrics if m.query is not None}
    return {name, f"{name}-primary", f"{name}-canary", *templates}
