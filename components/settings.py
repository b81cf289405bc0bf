"""Typed, validated stack configuration: the only module that reads `pulumi.Config`.

The whole `config:` block of `Pulumi.<stack>.yaml` is parsed once, here, into frozen
objects. Anything invalid is rejected before a single resource is registered, with a
message naming the key path (`apps.podinfo.weights`) and what is allowed.

Two entry points share one parser:
- `load()` inside a Pulumi program (real or mocked) reads `pulumi.Config`;
- `parse_stack_config(mapping)` reads the `config:` mapping of a stack file, so the
  delivery commands validate an edit with exactly the rules the program applies.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Mapping, Union

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from components.versions import Track, TrackError, Version

PROJECT = "istio-canary"

# Namespaces the platform owns; an app placed there would share them with istiod or Prometheus.
RESERVED_NAMESPACES = frozenset({"istio-system", "monitoring", "kube-system", "kube-public", "kube-node-lease"})

# Suffixes this program (weighted apps) or Flagger (canary/ab apps) adds to an app's name.
# The longest, "-loadtest", must still leave a DNS-1123 label of at most 63 characters.
MAX_APP_NAME = 63 - len("-loadtest")


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. A RunError, so `pulumi up` prints it without a traceback."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = [f"{path}: {message}" if path else message for path, message in problems]
        super().__init__("invalid stack config:\n  " + "\n  ".join(lines))


# --- field types --------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_REPOSITORY = re.compile(
    r"^(?:[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(?::\d+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_DURATION = re.compile(r"^(\d+(ms|s|m|h))+$")
_HEADER = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")
_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_MACHINE_TYPE = re.compile(r"^[a-z0-9]+-[a-z0-9-]+$")
_PROJECT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


def _dns_label(v: str) -> str:
    if len(v) > 63 or not _DNS_LABEL.match(v):
        raise ValueError(f"{v!r} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)")
    return v


def _host(v: str) -> str:
    if v != "*" and (len(v) > 253 or not _DNS_NAME.match(v)):
        raise ValueError(f"{v!r} is not a host: use a DNS name (podinfo.example.com, *.example.com) or '*'")
    return v


def _tag(v: str) -> str:
    if v.lower() == "latest":
        raise ValueError("'latest' is not allowed: pin a version tag (6.13.0) or a sha256: digest")
    if not (_DIGEST.match(v) or _OCI_TAG.match(v)):
        raise ValueError(f"{v!r} is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}) or a sha256: digest")
    return v


def _track(v: str) -> str:
    try:
        Track.parse(v)
    except TrackError as exc:
        raise ValueError(f"{exc}; allowed: a semver range like 6.13.x or '>=6.0.0 <7.0.0'") from None
    return v


def _repository(v: str) -> str:
    if "@" in v or re.search(r":[^/]*$", v.split("/", 1)[-1] if "/" in v else v):
        raise ValueError(f"{v!r} must be a repository without tag or digest: put the tag in `tag`")
    if not _REPOSITORY.match(v):
        raise ValueError(f"{v!r} is not an OCI repository like ghcr.io/stefanprodan/podinfo")
    return v


def _exact_version(v: str) -> str:
    if Version.parse(v) is None or v.startswith("v"):
        raise ValueError(f"{v!r} is not an exact chart version (X.Y.Z): ranges and prefixes are not allowed")
    return v


def _duration(v: str) -> str:
    if not _DURATION.match(v):
        raise ValueError(f"{v!r} is not a duration: use a number with ms, s, m or h, like 15s or 1m")
    return v


def _cidr(v: str) -> str:
    try:
        ipaddress.ip_network(v, strict=True)
    except ValueError:
        raise ValueError(f"{v!r} is not a CIDR block like 203.0.113.0/24 (host bits must be zero)") from None
    return v


def _regex(v: str) -> str:
    try:
        re.compile(v)
    except re.error as exc:
        raise ValueError(f"{v!r} is not a regular expression: {exc}") from None
    return v


def _header(v: str) -> str:
    if not _HEADER.match(v):
        raise ValueError(f"{v!r} is not a lowercase HTTP header name (user-agent, cookie, x-canary)")
    return v


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Host = Annotated[str, AfterValidator(_host)]
Tag = Annotated[str, AfterValidator(_tag)]
TrackText = Annotated[str, AfterValidator(_track)]
Repository = Annotated[str, AfterValidator(_repository)]
ChartVersion = Annotated[str, AfterValidator(_exact_version)]
Duration = Annotated[str, AfterValidator(_duration)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Regex = Annotated[str, AfterValidator(_regex)]
HeaderName = Annotated[str, AfterValidator(_header)]
Weight = Annotated[int, Field(ge=0, le=100)]


class _Model(BaseModel):
    # strict: "90" is not 90 and 6.13 (a YAML float) is not the tag "6.13".
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=True
    )


# --- schema -------------------------------------------------------------------------------

class Cluster(_Model):
    provider: Literal["gke", "existing"]
    name: DnsLabel = "istio-canary"
    location: str | None = None
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    machine_type: str = "e2-standard-4"
    min_nodes: int = Field(1, ge=1, le=1000)
    max_nodes: int = Field(3, ge=1, le=1000)
    private_nodes: bool = True
    master_authorized_networks: tuple[Cidr, ...] = Field((), strict=False)
    deletion_protection: bool = True
    context: str | None = Field(None, min_length=1)


GKE_ONLY_KEYS = ("name", "location", "release_channel", "machine_type", "min_nodes", "max_nodes",
                 "private_nodes", "master_authorized_networks", "deletion_protection")


class Platform(_Model):
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


class Side(_Model):
    tag: Tag
    track: TrackText | None = None
    replicas: int = Field(1, ge=1, le=100)


class Weights(_Model):
    ga: Weight
    canary: Weight


class LoadTest(_Model):
    qps: int = Field(5, ge=1, le=1000)
    concurrency: int = Field(2, ge=1, le=100)


class WeightedApp(_Model):
    namespace: DnsLabel
    strategy: Literal["weighted"]
    image: Repository
    hosts: tuple[Host, ...] = Field((), strict=False)
    ga: Side
    canary: Side
    weights: Weights
    loadtest: LoadTest = LoadTest()

    def sides(self) -> dict[str, Side]:
        return {"ga": self.ga, "canary": self.canary}


class CanaryAnalysis(_Model):
    interval: Duration = "1m"
    threshold: int = Field(5, ge=1, le=100)
    max_weight: int = Field(50, ge=1, le=100)
    step_weight: int = Field(10, ge=1, le=100)


class ABAnalysis(_Model):
    interval: Duration = "1m"
    threshold: int = Field(5, ge=1, le=100)
    iterations: int = Field(10, ge=1, le=1000)


class Match(_Model):
    header: HeaderName
    regex: Regex


class _FlaggerApp(_Model):
    namespace: DnsLabel
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


class ABApp(_FlaggerApp):
    strategy: Literal["ab"]
    hosts: tuple[Host, ...] = Field(min_length=1, strict=False)
    analysis: ABAnalysis = ABAnalysis()
    match: tuple[Match, ...] = Field(min_length=1, strict=False)


App = Union[WeightedApp, CanaryApp, ABApp]
STRATEGIES: dict[str, type[_Model]] = {"weighted": WeightedApp, "canary": CanaryApp, "ab": ABApp}


class Delivery(_Model):
    max_weight_step: int = Field(50, ge=1, le=100)
    max_error_rate_delta: float = Field(1.0, ge=0, le=100)
    max_latency_ratio: float = Field(1.25, ge=1, le=100)


class Notifications(_Model):
    slack_channel: str | None = Field(None, pattern=r"^#?[a-z0-9][a-z0-9._-]*$")
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


SECTIONS = {"cluster": Cluster, "platform": Platform, "delivery": Delivery, "notifications": Notifications}
TOP_LEVEL_KEYS = (*SECTIONS, "apps", "slackWebhookUrl")


# --- parsing ------------------------------------------------------------------------------

def _camel_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _describe(err: dict, model: type[BaseModel] | None) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown key" + (f"; allowed: {', '.join(_allowed_keys(model))}" if model else "")
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"must be an integer, got {err.get('input')!r}"
    if kind in ("string_type",):
        return f"must be a string (quote it in YAML), got {err.get('input')!r}"
    if kind in ("bool_type",):
        return f"must be true or false, got {err.get('input')!r}"
    if kind in ("model_type", "dict_type"):
        return f"must be a mapping, got {err.get('input')!r}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, got {err.get('input')!r}"
    return f"{msg} (got {err.get('input')!r})" if "input" in err and not isinstance(err["input"], dict) else msg


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _nested_model(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model that owns the last key of `loc` (for the 'allowed keys' hint)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        if part not in fields:
            return None
        ann = fields[part].annotation
        args = getattr(ann, "__args__", ())
        current = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return current


def _validate(model: type[_Model], value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError as exc:
        errors = exc.errors()
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "too_short" and any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors):
                continue  # items were rejected: their own errors say why
            problems.append((_camel_path((path, *loc)), _describe(err, _nested_model(model, loc))))
        return None


def _parse_app(name: Any, raw: Any, problems: list[tuple[str, str]]) -> App | None:
    path = f"apps.{name}"
    if not isinstance(name, str) or len(name) > MAX_APP_NAME or not _DNS_LABEL.match(name):
        problems.append((path, f"app name {name!r} must be a DNS-1123 label of at most {MAX_APP_NAME} characters"))
        return None
    if not isinstance(raw, Mapping):
        problems.append((path, "must be a mapping"))
        return None
    strategy = raw.get("strategy")
    if strategy not in STRATEGIES:
        problems.append((f"{path}.strategy", f"got {strategy!r}; allowed: {' | '.join(STRATEGIES)}"))
        return None
    return _validate(STRATEGIES[strategy], raw, path, problems)


def _check_cluster(cluster: Cluster, gcp: Mapping[str, Any], problems: list) -> Gcp | None:
    if cluster.provider == "existing":
        for key in sorted(cluster.model_fields_set & set(GKE_ONLY_KEYS)):
            problems.append((f"cluster.{to_camel(key)}", "only allowed with cluster.provider gke"))
        return None
    if cluster.context is not None:
        problems.append(("cluster.context", "only allowed with cluster.provider existing"))
    project, region = gcp.get("gcp:project"), gcp.get("gcp:region")
    if not isinstance(project, str) or not _PROJECT_ID.match(project):
        problems.append(("gcp:project", f"cluster.provider gke needs a GCP project id, got {project!r}"))
    if region is not None and (not isinstance(region, str) or not _REGION.match(region)):
        problems.append(("gcp:region", f"{region!r} is not a GCP region like europe-west1"))
        region = None
    location = cluster.location or region
    if location is None:
        problems.append(("cluster.location", "cluster.provider gke needs a location (a region or zone) or gcp:region"))
        return None
    zone = _ZONE.match(location)
    location_region = zone.group(1) if zone else location if _REGION.match(location) else None
    if location_region is None:
        problems.append(("cluster.location", f"{location!r} is not a GCP region (europe-west1) or zone (europe-west1-b)"))
        return None
    if region is not None and location_region != region:
        # The subnet is created in gcp:region; a cluster elsewhere could not use it.
        problems.append(("cluster.location", f"{location!r} is outside gcp:region {region!r}"))
    if cluster.min_nodes > cluster.max_nodes:
        problems.append(("cluster.minNodes", f"{cluster.min_nodes} is more than cluster.maxNodes {cluster.max_nodes}"))
    if not _MACHINE_TYPE.match(cluster.machine_type):
        problems.append(("cluster.machineType", f"{cluster.machine_type!r} is not a machine type like e2-standard-4"))
    if cluster.private_nodes and not cluster.master_authorized_networks:
        problems.append(("cluster.masterAuthorizedNetworks",
                         "private nodes need at least one CIDR allowed to reach the control plane"))
    return Gcp(project=project if isinstance(project, str) else "", region=location_region)


def _check_app(name: str, app: App, problems: list) -> None:
    path = f"apps.{name}"
    if app.namespace in RESERVED_NAMESPACES:
        problems.append((f"{path}.namespace", f"{app.namespace!r} is reserved for the platform; use an app namespace"))
    for side_name, side in app.sides().items():
        side_path = f"{path}.{side_name}" if side_name else path
        if side.track is None:
            continue
        if _DIGEST.match(side.tag):
            problems.append((f"{side_path}.tag", "a sha256: digest cannot be checked against a track; use a version tag or drop the track"))
        elif not Track.parse(side.track).admits_tag(side.tag):
            problems.append((f"{side_path}.tag", f"{side.tag!r} is outside its track {side.track!r}"))
    if isinstance(app, WeightedApp):
        total = app.weights.ga + app.weights.canary
        if total != 100:
            problems.append((f"{path}.weights", f"ga {app.weights.ga} + canary {app.weights.canary} = {total}; weights must sum to 100"))
        if "*" in app.hosts:
            # Its one VirtualService is also bound to the `mesh` gateway, where Istio rejects '*'.
            problems.append((f"{path}.hosts", "'*' is not allowed for a weighted app (its VirtualService also "
                                              "routes in-mesh traffic); name the hosts, e.g. podinfo.example.com"))
    if isinstance(app, CanaryApp) and app.analysis.step_weight > app.analysis.max_weight:
        problems.append((f"{path}.analysis.stepWeight",
                         f"{app.analysis.step_weight} is more than maxWeight {app.analysis.max_weight}; allowed: 1..maxWeight"))


def owned_names(name: str, app: App) -> set[str]:
    """Object names an app occupies in its namespace (ours, or Flagger's for canary/ab)."""
    if isinstance(app, WeightedApp):
        return {name, f"{name}-ga", f"{name}-canary", f"{name}-loadtest"}
    return {name, f"{name}-primary", f"{name}-canary"}


def _check_across_apps(apps: Mapping[str, App], problems: list) -> None:
    seen_names: dict[tuple[str, str], str] = {}
    seen_hosts: dict[str, str] = {}
    for name, app in apps.items():
        for obj in sorted(owned_names(name, app)):
            other = seen_names.setdefault((app.namespace, obj), name)
            if other != name:
                problems.append((f"apps.{name}", f"its object {obj!r} collides with apps.{other} in namespace {app.namespace!r}"))
        for host in app.hosts:
            other = seen_hosts.setdefault(host, name)
            if other != name:
                problems.append((f"apps.{name}.hosts", f"{host!r} is already routed by apps.{other}"))


def parse(
    values: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    slack_webhook_url: Any = None,
) -> Settings:
    """Parse a stack's config: keys as in `Pulumi.<stack>.yaml` (`istio-canary:apps`, `gcp:project`).

    `secret_keys` names the keys stored as Pulumi secrets. Raises ConfigError listing every problem.
    """
    problems: list[tuple[str, str]] = []
    ours = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(PROJECT + ":")}
    for key in ours:
        if key not in TOP_LEVEL_KEYS:
            problems.append((key, f"unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)}"))

    if "cluster" not in ours:
        problems.append(("cluster", "required: set cluster.provider to gke or existing"))
    sections = {key: _validate(model, ours.get(key), key, problems) for key, model in SECTIONS.items()}

    platform = sections["platform"]
    if platform is not None and "gateway_node_port" in platform.model_fields_set \
            and platform.gateway_service_type != "NodePort":
        problems.append(("platform.gatewayNodePort", "only allowed with platform.gatewayServiceType NodePort"))

    gcp = None
    if sections["cluster"] is not None:
        gcp = _check_cluster(sections["cluster"], values, problems)

    raw_apps = ours.get("apps", {})
    apps: dict[str, App] = {}
    if not isinstance(raw_apps, Mapping):
        problems.append(("apps", "must be a mapping of app name to app"))
    else:
        for name, raw in raw_apps.items():
            app = _parse_app(name, raw, problems)
            if app is not None:
                _check_app(name, app, problems)
                apps[name] = app
        _check_across_apps(apps, problems)

    has_webhook = "slackWebhookUrl" in ours
    if has_webhook:
        if f"{PROJECT}:slackWebhookUrl" not in secret_keys:
            problems.append(("slackWebhookUrl", "must be a Pulumi secret: pulumi config set --secret slackWebhookUrl <url>"))
        notifications = sections["notifications"]
        if notifications is not None and notifications.slack_channel is None:
            problems.append(("notifications.slackChannel", "required when slackWebhookUrl is set (e.g. '#deploys')"))

    if problems:
        raise ConfigError(problems)
    return Settings(
        cluster=sections["cluster"],
        gcp=gcp,
        platform=sections["platform"],
        apps=apps,
        delivery=sections["delivery"],
        notifications=sections["notifications"],
        has_slack_webhook=has_webhook,
        slack_webhook_url=slack_webhook_url,
    )


def parse_stack_config(config: Mapping[str, Any] | None) -> Settings:
    """Validate the `config:` mapping of a stack file; `secure:` values count as secrets."""
    config = config or {}
    secret_keys = frozenset(k for k, v in config.items() if isinstance(v, Mapping) and set(v) == {"secure"})
    return parse(config, secret_keys)


def load() -> Settings:
    """Read and validate the running stack's config. Call before registering any resource."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    values: dict[str, Any] = {}
    for key in sorted(k for k in keys if k.startswith(PROJECT + ":")):
        short = key.split(":", 1)[1]
        if short == "slackWebhookUrl":
            values[key] = "[secret]"  # read below as an Output, never as plain text
            continue
        raw = runtime_config.get_config(key)
        try:
            values[key] = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            values[key] = raw
    gcp = pulumi.Config("gcp")
    for key in ("project", "region"):
        if gcp.get(key) is not None:
            values[f"gcp:{key}"] = gcp.get(key)
    secret_keys = frozenset(k for k in values if runtime_config.is_config_secret(k))
    webhook = pulumi.Config(PROJECT).get_secret("slackWebhookUrl") if f"{PROJECT}:slackWebhookUrl" in values else None
    return parse(values, secret_keys, slack_webhook_url=webhook)
