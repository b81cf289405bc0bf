"""An app's workload: what its pods run and how (port, probes, env, resources, identity, TLS).

Every strategy shares these keys (`apps.<app>.port`, `.probes`, ...); the defaults are what a new
HTTP service would expect, never the demo's (podinfo spells its contract out in the demo stacks).
A rule relating two fields raises `Problems` with key paths relative to the app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from model.settings.fields import FlaggerInterval, Problems, StrictModel

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+")
_QUANTITY = re.compile(r"(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
_SUFFIX = {"m": Decimal("0.001"), "": Decimal(1)} | {
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate(("k", "M", "G", "T", "P", "E"))},
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")
_ANNOTATION_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
# Ports the sidecar itself binds in every pod (Istio "Ports used by Istio"): an app there collides with Envoy.
ISTIO_PORTS = frozenset({15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090})
# Pods run as this uid by default: images that name a user (`USER app`) instead of a number
# cannot be proven non-root by the kubelet under runAsNonRoot.
DEFAULT_UID = 10001


def _env_name(v: str) -> str:
    if not _ENV_NAME.fullmatch(v):
        raise ValueError(f"{v!r} is not an environment variable name (a C identifier: letters, digits, '_')")
    return v


def _dns_subdomain(v: str) -> str:
    if len(v) > 253 or not _DNS_SUBDOMAIN.fullmatch(v):
        raise ValueError(f"{v!r} is not a Kubernetes object name (a DNS subdomain: lowercase, digits, '-', '.')")
    return v


def _config_key(v: str) -> str:
    if len(v) > 253 or not _CONFIG_KEY.fullmatch(v):
        raise ValueError(f"{v!r} is not a Secret key (letters, digits, '-', '_', '.')")
    return v


def _email(v: str) -> str:
    if len(v) > 254 or not _EMAIL.fullmatch(v):
        raise ValueError(f"{v!r} is not a Google service account email like api@my-project.iam.gserviceaccount.com")
    return v


def _quantity(v: str | int) -> str:
    text = str(v)
    if isinstance(v, bool) or not _QUANTITY.fullmatch(text):
        raise ValueError(f"{v!r} is not a Kubernetes quantity like 250m, 1, 128Mi or 1Gi")
    return text


def quantity_value(text: str) -> Decimal:
    match = _QUANTITY.fullmatch(text)
    assert match is not None  # validated by _quantity
    return Decimal(match.group(1)) * _SUFFIX[match.group(3) or ""]


def _path(v: str) -> str:
    if not _PATH.fullmatch(v) or "/../" in f"{v}/":
        raise ValueError(f"{v!r} is not an absolute path like /tmp or /healthz")
    return v


def _annotation_key(v: str) -> str:
    if len(v.rsplit("/", 1)[-1]) > 63 or not _ANNOTATION_KEY.fullmatch(v):
        raise ValueError(f"{v!r} is not an annotation key like sidecar.istio.io/proxyCPU")
    return v


EnvName = Annotated[str, AfterValidator(_env_name)]
ObjectName = Annotated[str, AfterValidator(_dns_subdomain)]
SecretKey = Annotated[str, AfterValidator(_config_key)]
Email = Annotated[str, AfterValidator(_email)]
Quantity = Annotated[str | int, AfterValidator(_quantity)]
AbsolutePath = Annotated[str, AfterValidator(_path)]
AnnotationKey = Annotated[str, AfterValidator(_annotation_key)]


class Probe(StrictModel):
    """One of `{path: /x}` (httpGet on the app port), `{tcp: true}` or `{grpc: true}`."""

    path: AbsolutePath | None = None
    tcp: Literal[True] | None = None
    grpc: Literal[True] | None = None
    initial_delay_seconds: int | None = Field(None, ge=0, le=3600)
    period_seconds: int | None = Field(None, ge=1, le=3600)
    timeout_seconds: int | None = Field(None, ge=1, le=3600)
    failure_threshold: int | None = Field(None, ge=1, le=100)

    @model_validator(mode="after")
    def _one_kind(self) -> Probe:
        kinds = [k for k in ("path", "tcp", "grpc") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise Problems([("", f"set exactly one of path: /x, tcp: true or grpc: true (got {kinds or 'none'})")])
        return self


class Probes(StrictModel):
    readiness: Probe | None = None
    liveness: Probe | None = None
    startup: Probe | None = None


class Requests(StrictModel):
    cpu: Quantity | None = "100m"
    memory: Quantity | None = "64Mi"


class Limits(StrictModel):
    cpu: Quantity | None = "1"
    memory: Quantity | None = "256Mi"


class Resources(StrictModel):
    requests: Requests = Requests()
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        problems = []
        for res in ("cpu", "memory"):
            low, high = getattr(self.requests, res), getattr(self.limits, res)
            if low is not None and high is not None and quantity_value(str(low)) > quantity_value(str(high)):
                problems.append((f"requests.{res}", f"{low} is more than limits.{res} {high}"))
        if problems:
            raise Problems(problems)
        return self


class EnvFrom(StrictModel):
    secret_ref: ObjectName | None = None
    config_map_ref: ObjectName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EnvFrom:
        if (self.secret_ref is None) == (self.config_map_ref is None):
            raise Problems([("", "set exactly one of secretRef: NAME or configMapRef: NAME")])
        return self


class SecretKeyRef(StrictModel):
    secret: ObjectName
    key: SecretKey


class ServiceAccount(StrictModel):
    gcp_service_account: Email | None = None


class SecurityContext(StrictModel):
    run_as_user: int = Field(DEFAULT_UID, ge=0, le=2**31 - 1)
    run_as_group: int = Field(DEFAULT_UID, ge=0, le=2**31 - 1)
    read_only_root_filesystem: bool = True


class Autoscaling(StrictModel):
    min_replicas: int = Field(2, ge=1, le=100)
    max_replicas: int = Field(4, ge=1, le=1000)
    cpu: int = Field(80, ge=1, le=100)

    @model_validator(mode="after")
    def _range(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise Problems([("minReplicas", f"{self.min_replicas} is more than maxReplicas {self.max_replicas}")])
        return self


class Tls(StrictModel):
    credential_name: ObjectName


def volume_name(path: str) -> str:
    """The emptyDir volume of a writable path: `/var/cache/nginx` -> `var-cache-nginx`."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:63].strip("-") or "root"


class Workload(StrictModel):
    """The pod keys every app strategy shares (`apps.<app>.<key>`)."""

    port: int = Field(8080, ge=1, le=65535)
    protocol: Literal["http", "http2", "grpc"] = "http"
    command: tuple[str, ...] | None = Field(None, strict=False)
    args: tuple[str, ...] | None = Field(None, strict=False)
    env: Mapping[EnvName, str] = Field(default_factory=dict)
    env_from: tuple[EnvFrom, ...] = Field((), strict=False)
    secret_env: Mapping[EnvName, SecretKeyRef] = Field(default_factory=dict)
    resources: Resources = Resources()
    probes: Probes = Probes()
    service_account: ServiceAccount | None = None
    security_context: SecurityContext = SecurityContext()
    writable_paths: tuple[AbsolutePath, ...] = Field(("/tmp",), strict=False, max_length=20)
    image_pull_secrets: tuple[ObjectName, ...] = Field((), strict=False)
    pod_annotations: Mapping[AnnotationKey, str] = Field(default_factory=dict)
    tls: Tls | None = None

    def workload_rules(self, hosts: tuple[str, ...]) -> list[tuple[str, str]]:
        problems = []
        if self.port in ISTIO_PORTS:
            problems.append(("port", f"{self.port} is a port the Istio sidecar binds; choose another"))
        for name in sorted(set(self.env) & set(self.secret_env)):
            problems.append((f"secretEnv.{name}", "is also set in env; set it in one of them"))
        seen: dict[str, str] = {}
        for i, path in enumerate(self.writable_paths):
            other = seen.setdefault(volume_name(path), path)
            if other != path or path == "/":
                problems.append((f"writablePaths.{i}", f"{path!r} repeats {other!r} or is the root: list each once"))
        if self.tls is not None and (not hosts or any("*" in h for h in hosts)):
            problems.append(
                ("tls", "needs concrete hosts (no '*'): the HTTPS server serves exactly the certificate's names")
            )
        return problems


class ThresholdRange(StrictModel):
    min: int | float | None = None
    max: int | float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ThresholdRange:
        if self.min is None and self.max is None:
            raise Problems([("", "set min, max or both")])
        if self.min is not None and self.max is not None and self.min > self.max:
            raise Problems([("min", f"{self.min} is more than max {self.max}")])
        return self


# Metrics whose MetricTemplate the platform installs (components/flagger.py); any other needs `query`.
PLATFORM_METRICS = ("error-rate", "latency")
METRIC_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _metric_name(v: str) -> str:
    if len(v) > 40 or not METRIC_NAME.fullmatch(v):
        raise ValueError(f"{v!r} is not a metric name (a DNS label of at most 40 characters, like error-rate)")
    return v


class Metric(StrictModel):
    name: Annotated[str, AfterValidator(_metric_name)]
    threshold_range: ThresholdRange
    # The query window: rate() needs two scrapes in it, so 1m whatever the analysis interval. The
    # Canary CRD holds it to the analysis interval's pattern (^[0-9]+(m|s)): `1h` would be refused.
    interval: FlaggerInterval = "1m"
    query: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _query(self) -> Metric:
        if self.name in PLATFORM_METRICS and self.query is not None:
            raise Problems([("query", f"{self.name} uses the platform's MetricTemplate; name a custom metric")])
        if self.name not in PLATFORM_METRICS and self.query is None:
            raise Problems(
                [
                    (
                        "query",
                        "required for a custom metric (not error-rate or latency): PromQL with {{ target }}",
                    )
                ]
            )
        return self


DEFAULT_METRICS = (
    Metric(name="error-rate", threshold_range=ThresholdRange(max=1)),
    Metric(name="latency", threshold_range=ThresholdRange(max=500)),
)
WEBHOOK_TYPES = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
)
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s]*)?")


def _url(v: str) -> str:
    if not _URL.fullmatch(v):
        raise ValueError(f"{v!r} is not an http(s) URL")
    return v


def _flagger_duration(v: str) -> str:
    # Flagger's CRD: `^[0-9]+(m|s)`.
    if not re.fullmatch(r"\d+(s|m)", v):
        raise ValueError(f"{v!r} is not a Flagger timeout: a number with s or m, like 30s or 1m")
    return v


class Webhook(StrictModel):
    """Flagger's webhook; `cmd` is a command the namespace's load tester runs (its URL, the default)."""

    name: Annotated[str, AfterValidator(_metric_name)]
    type: Literal[WEBHOOK_TYPES] = "rollout"  # type: ignore[valid-type]
    url: Annotated[str, AfterValidator(_url)] | None = None
    cmd: str | None = Field(None, min_length=1)
    timeout: Annotated[str, AfterValidator(_flagger_duration)] = "30s"
    metadata: Mapping[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target(self) -> Webhook:
        if (self.url is None) == (self.cmd is None):
            raise Problems([("", "set exactly one of url (a webhook of yours) or cmd (run by the load tester)")])
        if self.cmd is not None and "cmd" in self.metadata:
            raise Problems([("metadata.cmd", "set the command once, in cmd")])
        return self


class FlaggerChecks(StrictModel):
    """`analysis.metrics` and `analysis.webhooks` of a canary or A/B app."""

    metrics: tuple[Metric, ...] = Field(DEFAULT_METRICS, strict=False)
    # None: the default load test; [] none at all.
    webhooks: tuple[Webhook, ...] | None = Field(None, strict=False)

    @model_validator(mode="after")
    def _unique(self) -> FlaggerChecks:
        problems = []
        for key, items in (("metrics", self.metrics), ("webhooks", self.webhooks or ())):
            names = [item.name for item in items]
            problems += [(f"{key}.{i}.name", f"{n!r} is listed twice") for i, n in enumerate(names) if n in names[:i]]
        if problems:
            raise Problems(problems)
        return self
