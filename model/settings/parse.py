"""Parsing a stack's config into `Settings`: every problem at once, each at its key path.

`parse(values)` takes the config as the Pulumi CLI holds it (`istio-canary:apps`, `gcp:project`);
`parse_stack_config(mapping)` the `config:` mapping of a stack file, so the delivery commands
validate an edit with exactly the rules the program applies. Reading the running program's
config is the edge's job (components/config.py), not this module's: this one is pure Python.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from model.settings.fields import DNS_1035_LABEL, PROJECT_ID, REGION, ZONE, Problems, StrictModel
from model.settings.schema import (
    DEFAULT_NAMESPACE,
    HA_KEYS,
    HA_MIN_REPLICAS,
    LOADTESTER_APP_LABEL,
    LOADTESTER_NAME,
    SECTIONS,
    STRATEGIES,
    TOP_LEVEL_KEYS,
    App,
    Cluster,
    Gcp,
    NamespaceSpec,
    Platform,
    Settings,
    is_reserved_namespace,
    owned_names,
)

PROJECT = "istio-canary"

# Suffixes this program (weighted apps) or Flagger (canary/ab apps) adds to an app's name.
# The longest, "-loadtest", must still leave a DNS-1123 label of at most 63 characters.
MAX_APP_NAME = 63 - len("-loadtest")


# A regional cluster spreads a node pool over this many zones (components/cluster.py).
REGIONAL_ZONES = 3

# Keys whose values are secrets: an error names the key, never echoes the value.
_SECRET_KEY = re.compile(
    r"(?i).*(password|passwd|secret|token|webhook|credential|kubeconfig|api[-_]?key|private[-_]?key|bearer).*"
)
# Linear patterns only: `shown` runs on any value of any length (a scheme pattern like
# `[a-z][a-z0-9+.-]*://` retried at every offset of a long value took seconds per megabyte).
_SECRET_URL_PARTS = re.compile(r"(?i)hooks\.slack\.com|[?&](token|key|sig|signature|password)=")
_TOKEN_SEPARATORS = re.compile(r"[\s'\"<>,;()\[\]{}]+")


def has_credentials(text: str) -> bool:
    """Whether `text` holds a URL credential: userinfo after a scheme (`https://u:p@h`), a
    `user:password@host` without one (an image reference, a host), a token in a query, or a
    Slack webhook."""
    if _SECRET_URL_PARTS.search(text):
        return True
    for token in _TOKEN_SEPARATORS.split(text):
        if "@" not in token:
            continue
        scheme, sep, rest = token.partition("://")
        authority = (rest if sep else scheme).split("/", 1)[0]
        userinfo = authority.rpartition("@")[0]
        if userinfo and (sep or ":" in userinfo):
            return True
    return False


# App keys whose names mention a secret but whose values name one (a Secret, a credential) or hold
# Flagger's list of checks: a value under them is shown unless its own key is a secret's.
_REFERENCE_KEYS = frozenset({"webhooks", "secretEnv", "secret", "secretRef", "credentialName", "imagePullSecrets"})


def is_secret_key(path: str) -> bool:
    """Whether the value at key path `path` (`slackWebhookUrl`, `notifications.slackWebhookUrl`) is a secret."""
    return any(_SECRET_KEY.fullmatch(part) and part not in _REFERENCE_KEYS for part in re.split(r"[.:]", path) if part)


def shown(path: str, value: Any) -> str:
    """`repr(value)` for an error message, or `[secret]` for a secret key or a value carrying credentials."""
    if is_secret_key(path) or (isinstance(value, Mapping) and "secure" in value):
        return "[secret]"
    text = repr(value)
    if has_credentials(text):
        return "[a value with credentials, not shown]"
    return text if len(text) <= 200 else text[:200] + "...(truncated)"


class ConfigError(Exception):
    """Invalid stack configuration: every problem, each as (key path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = [f"{path}: {message}" if path else message for path, message in problems]
        super().__init__("invalid stack config:\n  " + "\n  ".join(lines))


def _camel_path(loc: tuple) -> str:
    # pydantic marks a mapping key's own error with a `[key]` part: the key is the path's last part.
    return ".".join(str(part) for part in loc if part != "[key]")


def _describe(err: Any, model: type[BaseModel] | None, path: str = "") -> str:
    kind, msg = err["type"], err["msg"]
    if "input" in err:
        err = {**err, "input": _Shown(shown(path, err["input"]))}
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
    return f"{msg} (got {err.get('input')!r})" if "input" in err else msg


class _Shown(str):
    """An input already made printable by `shown`: its repr is itself."""

    def __repr__(self) -> str:
        return str(self)


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


def _validate(model: type[StrictModel], value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError as exc:
        errors = exc.errors()
        for err in errors:
            loc = tuple(err["loc"])
            found = (err.get("ctx") or {}).get("error")
            if err["type"] == "value_error" and isinstance(found, Problems):
                # A model validator's cross-field rules, each at its own key path.
                problems.extend(
                    (_camel_path((path, *loc, *([rel] if rel else []))), message) for rel, message in found.problems
                )
                continue
            if err["type"] == "too_short" and any(
                len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors
            ):
                continue  # items were rejected: their own errors say why
            key = _camel_path((path, *loc))
            problems.append((key, _secret_free(key, _describe(err, _nested_model(model, loc), key))))
        return None


def _secret_free(key: str, message: str) -> str:
    """A validator's message, unless it would echo a secret (validators repr their input)."""
    if (is_secret_key(key) and "'" in message) or has_credentials(message):
        return "invalid value (not shown: it is a secret or carries credentials)"
    return message


def _parse_app(name: Any, raw: Any, problems: list[tuple[str, str]]) -> App | None:
    path = f"apps.{name}"
    if not isinstance(name, str) or len(name) > MAX_APP_NAME or not DNS_1035_LABEL.fullmatch(name):
        problems.append(
            (
                path,
                f"app name {shown(path, name)} must be a DNS-1035 label (a lowercase letter, then letters, digits "
                f"and '-') of at most {MAX_APP_NAME} characters: it names Services and Deployments",
            )
        )
        return None
    if not isinstance(raw, Mapping):
        problems.append((path, "must be a mapping"))
        return None
    strategy = raw.get("strategy")
    if not isinstance(strategy, str) or strategy not in STRATEGIES:  # a YAML list or map is unhashable
        problems.append((f"{path}.strategy", f"got {shown(path, strategy)}; allowed: {' | '.join(STRATEGIES)}"))
        return None
    return _validate(STRATEGIES[strategy], raw, path, problems)


def _check_cluster(cluster: Cluster, gcp: Mapping[str, Any], problems: list) -> Gcp | None:
    """Where a GKE cluster goes: `cluster.location` against the `gcp:` keys (another namespace)."""
    if cluster.provider == "existing":
        return None
    project, region = gcp.get("gcp:project"), gcp.get("gcp:region")
    if not isinstance(project, str) or not PROJECT_ID.fullmatch(project):
        problems.append(
            ("gcp:project", f"cluster.provider gke needs a GCP project id, got {shown('gcp:project', project)}")
        )
    if region is not None and (not isinstance(region, str) or not REGION.fullmatch(region)):
        problems.append(("gcp:region", f"{shown('gcp:region', region)} is not a GCP region like europe-west1"))
        region = None
    location = cluster.location or region
    if location is None:
        problems.append(("cluster.location", "cluster.provider gke needs a location (a region or zone) or gcp:region"))
        return None
    zone = ZONE.fullmatch(location)
    location_region = zone.group(1) if zone else location if REGION.fullmatch(location) else None
    if location_region is None:
        problems.append(
            (
                "cluster.location",
                f"{shown('cluster.location', location)} is not a GCP region (europe-west1) or zone (europe-west1-b)",
            )
        )
        return None
    if zone is None and cluster.max_nodes < REGIONAL_ZONES * math.ceil(cluster.min_nodes / REGIONAL_ZONES):
        # A regional pool starts with ceil(minNodes / 3) nodes in each of its 3 zones
        # (initial_node_count is per zone): the autoscaler's total maximum must admit that start.
        start = REGIONAL_ZONES * math.ceil(cluster.min_nodes / REGIONAL_ZONES)
        problems.append(
            (
                "cluster.maxNodes",
                f"{cluster.max_nodes} is less than the {start} nodes a regional cluster in {location} starts with "
                f"(minNodes {cluster.min_nodes} rounded up to a multiple of {REGIONAL_ZONES} zones); "
                f"raise maxNodes to {start} or more, or use a zone",
            )
        )
    if region is not None and location_region != region:
        # The subnet is created in gcp:region; a cluster elsewhere could not use it.
        problems.append(("cluster.location", f"{location!r} is outside gcp:region {region!r}"))
    return Gcp(project=project if isinstance(project, str) else "", region=location_region)


def _size_control_plane(cluster: Cluster, platform: Platform, problems: list) -> Platform:
    """istiod and gateway replicas: HA on GKE (at least two), one by default on an existing cluster."""
    if cluster.provider == "gke":
        for key in HA_KEYS:
            if getattr(platform, key) < HA_MIN_REPLICAS:
                problems.append(
                    (
                        f"platform.{to_camel(key)}",
                        f"{getattr(platform, key)} is less than {HA_MIN_REPLICAS}: a GKE stack runs istiod and the "
                        "gateway highly available (node upgrades drain nodes); allowed: 2..20",
                    )
                )
    else:
        unset = {key: 1 for key in HA_KEYS if key not in platform.model_fields_set}
        platform = platform.model_copy(update=unset) if unset else platform
    for key in HA_KEYS:
        most_key = key.replace("_replicas", "_max_replicas")
        least, most = getattr(platform, key), getattr(platform, most_key)
        if most < least:
            problems.append((f"platform.{to_camel(most_key)}", f"{most} is less than platform.{to_camel(key)} {least}"))
    return platform


def _check_across_apps(apps: Mapping[str, App], problems: list) -> None:
    seen_names: dict[tuple[str, str], str] = {}
    seen_hosts: dict[str, str] = {}
    loadtester_namespaces = {app.namespace for app in apps.values() if app.strategy in ("canary", "ab")}
    for name, app in apps.items():
        if app.namespace in loadtester_namespaces and (
            LOADTESTER_NAME in owned_names(name, app) or name == LOADTESTER_APP_LABEL
        ):
            problems.append(
                (
                    f"apps.{name}",
                    f"collides with the Flagger load tester installed in namespace {app.namespace!r} (objects "
                    f"named {LOADTESTER_NAME!r}, pods labelled app={LOADTESTER_APP_LABEL}): rename the app",
                )
            )
        for obj in sorted(owned_names(name, app)):
            other = seen_names.setdefault((app.namespace, obj), name)
            if other != name:
                problems.append(
                    (f"apps.{name}", f"its object {obj!r} collides with apps.{other} in namespace {app.namespace!r}")
                )
        for host in app.hosts:
            other = seen_hosts.setdefault(host, name)
            if other != name:
                problems.append((f"apps.{name}.hosts", f"{host!r} is already routed by apps.{other}"))


def _parse_namespaces(raw: Any, apps: Mapping[str, App], problems: list) -> dict[str, NamespaceSpec]:
    """`namespaces`: which app namespaces exist already (`create: false`); each must hold an app."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(("namespaces", "must be a mapping of namespace name to {create: false}"))
        return {}
    used = {app.namespace for app in apps.values()}
    found = {}
    for name, value in raw.items():
        path = f"namespaces.{name}"
        spec = _validate(NamespaceSpec, value, path, problems)
        if spec is None:
            continue
        if not isinstance(name, str) or is_reserved_namespace(name):
            problems.append((path, f"{shown(path, name)} is reserved for the platform"))
        elif name not in used:
            problems.append((path, f"no app runs in {name!r}; list only app namespaces ({', '.join(sorted(used))})"))
        elif name == DEFAULT_NAMESPACE and spec.create:
            problems.append((f"{path}.create", "'default' always exists and is never created or deleted: drop it"))
        else:
            found[name] = spec
    return found


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

    gcp = None
    if sections["cluster"] is not None:
        gcp = _check_cluster(sections["cluster"], values, problems)
        if sections["platform"] is not None:
            sections["platform"] = _size_control_plane(sections["cluster"], sections["platform"], problems)

    raw_apps = ours.get("apps", {})
    apps: dict[str, App] = {}
    if not isinstance(raw_apps, Mapping):
        problems.append(("apps", "must be a mapping of app name to app"))
    else:
        for name, raw in raw_apps.items():
            app = _parse_app(name, raw, problems)
            if app is not None:
                apps[name] = app
        _check_across_apps(apps, problems)
    namespaces = _parse_namespaces(ours.get("namespaces"), apps, problems)

    has_webhook = "slackWebhookUrl" in ours
    if has_webhook:
        if f"{PROJECT}:slackWebhookUrl" not in secret_keys:
            problems.append(
                ("slackWebhookUrl", "must be a Pulumi secret: pulumi config set --secret slackWebhookUrl <url>")
            )
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
        namespaces=namespaces,
    )


def parse_stack_config(config: Mapping[str, Any] | None) -> Settings:
    """Validate the `config:` mapping of a stack file; `secure:` values count as secrets."""
    config = config or {}
    secret_keys = frozenset(k for k, v in config.items() if isinstance(v, Mapping) and set(v) == {"secure"})
    return parse(config, secret_keys)
