"""Every CrossGuard policy of this project, importable with no side effects.

`policies/__main__.py` builds the PolicyPack from `POLICIES` (`pulumi preview --policy-pack
policies`); the offline preview (`python -m delivery preview`, `python -m delivery policy`) runs
the very same objects over its recorded plan. Each policy's `description` says how to fix a
violation; its messages say what and where.

What a policy sees, in both runners, is what the Pulumi engine hands CrossGuard:

- `props` are the resource's inputs as sent to the engine (camelCase keys), wrapped in the SDK's
  read-only proxies: test with `Mapping`/`Sequence`, never `dict`/`list`; numbers arrive as floats.
- A value not known during a preview raises `UnknownValueError` when read. Resource policies let
  it through (the SDK then reports that the policy could not run on that resource), except where a
  computed value is expected (a new service account's email); stack policies copy the props with
  `UNKNOWN` in its place and judge everything that is known.
- Stack policies see each resource's outputs: its inputs while it is still to be created, the
  live object once it exists (see `set_by_program`).
- Secret inputs arrive as their plain value, with no mark of secrecy (pulumi-policy#241), so no
  rule here can ask "is this a Pulumi secret?". `secrets-are-secret` judges what both runners do
  see: where a credential sits (see its docstring).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from pulumi_policy import (EnforcementLevel, PolicyResource, ReportViolation, ResourceValidationArgs,
                           ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy)
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "istio-canary"
MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
# The pack's level for a policy that names none (every policy here names its own).
DEFAULT_ENFORCEMENT_LEVEL = MANDATORY

HELM_RELEASE_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
ISTIO_GROUP = "networking.istio.io"
FLAGGER_GROUP = "flagger.app"
CLUSTER_DOMAIN = "cluster.local"

# Kinds whose objects run pods, and where their pod template lives.
_TEMPLATE_KINDS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"),
                   ("core", "ReplicationController"), ("batch", "Job")}
WORKLOAD_KINDS = frozenset(_TEMPLATE_KINDS | {("core", "Pod"), ("batch", "CronJob")})

INJECT_LABEL, REV_LABEL, POD_INJECT = "istio-injection", "istio.io/rev", "sidecar.istio.io/inject"
# The namespace of an object whose namespace a preview cannot know yet.
UNKNOWN_NAMESPACE = "(unknown)"


# --- reading props --------------------------------------------------------------------------

def _map(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence:
    return value if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else ()


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = _map(value).get(key)
    return value


def _text(value: Any) -> str | None:
    """A non-empty string, or None (for anything else, an unknown value included)."""
    return value if isinstance(value, str) and value else None


def _str_map(value: Any) -> dict[str, str]:
    """A label or selector map as plain strings (label values may arrive as numbers or booleans)."""
    return {str(k): _label_value(v) for k, v in _map(value).items()}


def _label_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Unknown:
    """A value a preview cannot know yet, in a stack policy's copy of the props."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def _known(fn: Callable[[], Any], default: Any = None) -> Any:
    """`fn()`, or `default` if it reads a value a preview cannot know yet."""
    try:
        return fn()
    except UnknownValueError:
        return default


# --- Kubernetes facts -----------------------------------------------------------------------

_K8S_TYPE = re.compile(r"^kubernetes:(?P<group>[^:/]+)/(?P<version>[^:/]+):(?P<kind>\w+)$")


def group_kind(resource_type: str) -> tuple[str, str] | None:
    """`kubernetes:apps/v1:Deployment` -> ("apps", "Deployment"); the core group is "core".

    Typed resources and `apiextensions.CustomResource` objects share this token format.
    """
    match = _K8S_TYPE.match(resource_type)
    return (match["group"], match["kind"]) if match else None


def default_namespace(provider: Any) -> str:
    """The namespace a Kubernetes object without `metadata.namespace` lands in: the provider's
    `namespace` (`provider` is a PolicyProviderResource or its props), else "default"."""
    props = getattr(provider, "props", provider)
    ns = _known(lambda: _get(props, "namespace"))
    return ns if isinstance(ns, str) and ns else "default"


@dataclass(frozen=True)
class K8sObject:
    """A Kubernetes object of the plan, with what several rules need to know about it."""
    urn: str
    group: str
    kind: str
    name: str | None
    namespace: str
    props: Any

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.kind != "Namespace" else f"Namespace {self.name}"


def k8s_object(resource_type: str, props: Any, urn: str, provider: Any = None) -> K8sObject | None:
    gk = group_kind(resource_type)
    if gk is None or gk[1] in ("Release", "Chart"):
        return None
    # Names that a preview cannot know yet (outputs of resources not created) do not stop
    # the rules that do not need them.
    name = _known(lambda: _get(props, "metadata", "name"))
    namespace = _known(lambda: _get(props, "metadata", "namespace"), UNKNOWN) or default_namespace(provider)
    return K8sObject(urn, gk[0], gk[1], name if isinstance(name, str) else None,
                     namespace if isinstance(namespace, str) else UNKNOWN_NAMESPACE, props)


def workload_of(args: ResourceValidationArgs) -> tuple[K8sObject | None, tuple[Mapping, Mapping] | None]:
    """The Kubernetes object a resource validation sees, and its pod template when it runs pods."""
    obj = k8s_object(args.resource_type, args.props, args.urn)
    return obj, (pod_template(obj) if obj else None)


def pod_template(obj: K8sObject) -> tuple[Mapping, Mapping] | None:
    """(metadata, spec) of the pods a workload runs."""
    if (obj.group, obj.kind) == ("core", "Pod"):
        return _map(_get(obj.props, "metadata")), _map(_get(obj.props, "spec"))
    if (obj.group, obj.kind) == ("batch", "CronJob"):
        template = _get(obj.props, "spec", "jobTemplate", "spec", "template")
    elif (obj.group, obj.kind) in _TEMPLATE_KINDS:
        template = _get(obj.props, "spec", "template")
    else:
        return None
    return _map(_get(template, "metadata")), _map(_get(template, "spec"))


def containers(pod_spec: Mapping) -> Iterator[tuple[str, Mapping]]:
    """("containers[0]", container), ... including init containers, which also pull and run images."""
    for field in ("initContainers", "containers"):
        for i, container in enumerate(_seq(pod_spec.get(field))):
            yield f"{field}[{i}]", _map(container)


def pod_labels(obj: K8sObject) -> dict[str, str]:
    template = pod_template(obj)
    return _str_map(template[0].get("labels")) if template else {}


def _pod_opt_out(obj: K8sObject) -> bool:
    """The pod template turns injection off for itself (`sidecar.istio.io/inject: "false"`)."""
    meta = (pod_template(obj) or ({}, {}))[0]
    return "false" in (_str_map(meta.get("labels")).get(POD_INJECT), _str_map(meta.get("annotations")).get(POD_INJECT))


def _has_unknown_labels(obj: K8sObject) -> bool:
    labels = _get(obj.props, "metadata", "labels")
    return labels is UNKNOWN or UNKNOWN in _map(labels).values()


def injected_namespace(obj: K8sObject) -> bool:
    """A Namespace whose pods istiod's webhook injects (`istio-injection: enabled` or a revision label)."""
    labels = _str_map(_get(obj.props, "metadata", "labels"))
    if labels.get(INJECT_LABEL) == "disabled":
        return False
    return labels.get(INJECT_LABEL) == "enabled" or bool(labels.get(REV_LABEL))


# --- Helm releases --------------------------------------------------------------------------

@dataclass(frozen=True)
class HelmRelease:
    urn: str
    chart: str  # the chart's own name: "istiod" for "istiod", "istio/istiod" or "oci://.../istiod"
    name: str | None
    namespace: str
    values: Any
    props: Any


def helm_release(resource_type: str, props: Any, urn: str, provider: Any = None) -> HelmRelease | None:
    if resource_type not in HELM_RELEASE_TYPES:
        return None
    chart = _known(lambda: _get(props, "chart"))
    chart = chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else ""
    name = _known(lambda: _get(props, "name"))
    namespace = _known(lambda: _get(props, "namespace"), UNKNOWN) or default_namespace(provider)
    return HelmRelease(urn, chart, name if isinstance(name, str) else None,
                       namespace if isinstance(namespace, str) else UNKNOWN_NAMESPACE, _map(_get(props, "values")), props)


def gateway_pod_labels(release: HelmRelease) -> dict[str, str]:
    """The pod labels Istio's `gateway` chart gives its pods (gateway/_helpers.tpl, deployment.yaml)."""
    values = release.values
    name = _text(_get(values, "name")) or release.name or "istio-ingressgateway"
    labels = _str_map(_get(values, "labels"))
    pod = {POD_INJECT: "true", "app.kubernetes.io/name": name,
           "app": labels.get("app") or name,
           "istio": labels.get("istio") or name.removeprefix("istio-")}
    pod.update({k: v for k, v in labels.items() if k not in ("app", "istio")})
    if _text(_get(values, "revision")):
        pod[REV_LABEL] = _get(values, "revision")
    if _text(_get(values, "networkGateway")):
        pod["topology.istio.io/network"] = _get(values, "networkGateway")
    return pod


def prometheus_urls(release: HelmRelease) -> set[tuple[str, str, int]]:
    """(scheme, host, port) of the prometheus-community `prometheus` chart's server Service.

    The Service name follows the chart's `prometheus.server.fullname` helper; a client may use
    `<svc>.<ns>`, `<svc>.<ns>.svc` or the full cluster name.
    """
    values = release.values
    server = _map(_get(values, "server"))
    override = _text(server.get("fullnameOverride"))
    if override:
        service = override
    else:
        chart_name = _text(_get(values, "nameOverride")) or "prometheus"
        component = _text(server.get("name")) or "server"
        base = release.name or ""
        service = f"{base}-{component}" if chart_name in base else f"{base}-{chart_name}-{component}"
    namespace = _text(_get(values, "forceNamespace")) or release.namespace
    port = _get(server, "service", "servicePort") or 80
    port = int(port) if isinstance(port, (int, float)) else 80
    hosts = (f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}")
    return {(scheme, host, port) for host in hosts for scheme in ("http", "https")}


# --- Istio hosts ----------------------------------------------------------------------------

def fqdn(host: Any, namespace: str) -> str:
    """A VirtualService/DestinationRule host as Istio resolves it: a name without dots is a
    Service of the object's own namespace; anything else is taken literally."""
    host = str(host)
    if host == "*" or "." in host:
        return host
    return f"{host}.{namespace}.svc.{CLUSTER_DOMAIN}"


def service_of(host: str) -> tuple[str, str] | None:
    """("name", "namespace") of a cluster-local Service FQDN."""
    parts = host.split(".")
    if len(parts) == 5 and parts[2] == "svc" and ".".join(parts[3:]) == CLUSTER_DOMAIN:
        return parts[0], parts[1]
    return None


def route_destinations(vs_props: Any) -> Iterator[tuple[str, Mapping, Mapping]]:
    """("http[0].route[1]", route entry, destination) of every HTTP, TLS and TCP route."""
    for protocol in ("http", "tls", "tcp"):
        for i, rule in enumerate(_seq(_get(vs_props, "spec", protocol))):
            for j, entry in enumerate(_seq(_get(rule, "route"))):
                yield f"{protocol}[{i}].route[{j}]", _map(entry), _map(_get(entry, "destination"))


# --- the plan as a stack policy sees it -----------------------------------------------------

def plain(value: Any) -> Any:
    """The SDK's read-only props as plain dicts and lists, with `UNKNOWN` for unknown values:
    a stack rule then judges every resource on what is known instead of stopping at the first
    unknown value anywhere in the stack."""
    if isinstance(value, Mapping):
        return {key: plain(_known(lambda key=key: value[key], UNKNOWN)) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(_known(lambda i=i: value[i], UNKNOWN)) for i in range(len(value))]
    return value


class Stack:
    """`StackValidationArgs.resources` with plain props, indexed the ways the stack rules need."""

    def __init__(self, resources: Iterable[PolicyResource]):
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        self.props = {r.urn: plain(r.props) for r in self.resources}
        self.objects: list[K8sObject] = []
        self.releases: list[HelmRelease] = []
        for r in self.resources:
            provider = plain(r.provider.props) if r.provider is not None else None
            obj = k8s_object(r.resource_type, self.props[r.urn], r.urn, provider)
            if obj is not None:
                self.objects.append(obj)
            release = helm_release(r.resource_type, self.props[r.urn], r.urn, provider)
            if release is not None:
                self.releases.append(release)

    def of(self, group: str, kind: str) -> list[K8sObject]:
        return [o for o in self.objects if (o.group, o.kind) == (group, kind)]

    def workloads(self) -> list[K8sObject]:
        return [o for o in self.objects if (o.group, o.kind) in WORKLOAD_KINDS]

    def charts(self, chart: str) -> list[HelmRelease]:
        return [r for r in self.releases if r.chart == chart]

    def namespaces(self) -> dict[str, K8sObject]:
        return {o.name: o for o in self.of("core", "Namespace") if o.name}


def waits_for(resource: PolicyResource, targets: set[str]) -> bool:
    """Whether `resource` has a dependency path to one of the `targets` URNs.

    A path steps from a resource to each of its `dependencies` (its `depends_on`, expanded over
    component children, and every resource whose outputs its inputs use, such as the Namespace
    whose name it takes) and to its `parent` (a child is registered only once its parent is, and
    a component is registered only once its own dependencies are done).
    """
    seen: set[str] = set()
    stack = [resource]
    while stack:
        current = stack.pop()
        if current.urn in seen:
            continue
        seen.add(current.urn)
        if current is not resource and current.urn in targets:
            return True
        stack.extend(current.dependencies or ())
        if current.parent is not None:
            stack.append(current.parent)
    return False


# --- resource policies ----------------------------------------------------------------------

def _check_virtualservice_weights(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj = k8s_object(args.resource_type, args.props, args.urn)
    if obj is None or (obj.group, obj.kind) != (ISTIO_GROUP, "VirtualService"):
        return
    for protocol in ("http", "tls", "tcp"):
        for i, rule in enumerate(_seq(_get(args.props, "spec", protocol))):
            route = [_map(entry) for entry in _seq(_get(rule, "route"))]
            where = f"{obj.ref} {protocol}[{i}]"
            if not route or (len(route) == 1 and route[0].get("weight") is None):
                continue  # no destination (a redirect), or a single one taking all the traffic
            weights = [entry.get("weight") for entry in route]
            bad = [w for w in weights if not _is_int(w) or not 0 <= w <= 100]
            if bad:
                report(f"{where}: every weight must be an integer 0..100, got {_show(weights)}")
            elif sum(int(w) for w in weights) != 100:
                report(f"{where}: weights {_show(weights)} sum to {sum(int(w) for w in weights)}, not 100")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _num(value: Any) -> str:
    """A number as the stack file would show it (the engine sends 90 as 90.0)."""
    return str(int(value)) if _is_int(value) else repr(value)


def _show(values: list) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned, or None if it has a tag other than `latest` or a digest."""
    if not isinstance(image, str) or not image:
        return "has no image"
    if "@" in image:
        return None if _DIGEST.match(image.split("@", 1)[1]) else f"{image!r} has a malformed digest"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{image!r} has no tag (it means latest)"
    if last.rsplit(":", 1)[1].lower() == "latest":
        return f"{image!r} uses the latest tag"
    return None


def _helm_image_problems(values: Any, path: str = "values") -> Iterator[str]:
    """Image references set in Helm values: `image: repo:tag` strings and `image.tag` fields."""
    for key, value in _map(values).items():
        here = f"{path}.{key}"
        if isinstance(value, Mapping):
            if "image" in str(key).lower():
                tag = value.get("tag")
                if isinstance(tag, str) and tag.lower() == "latest":
                    yield f"{here}.tag is latest"
            yield from _helm_image_problems(value, here)
        elif isinstance(value, str) and str(key).lower().endswith("image") and value:
            problem = image_problem(value)
            if problem:
                yield f"{here}: {problem}"
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            for i, item in enumerate(value):
                yield from _helm_image_problems(item, f"{here}[{i}]")


def _check_pinned_images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    release = helm_release(args.resource_type, args.props, args.urn)
    if release is not None:
        for problem in _helm_image_problems(release.values):
            report(f"Helm release {release.namespace}/{release.name}: {problem}")
        return
    obj, template = workload_of(args)
    if template is None:
        return
    for where, container in containers(template[1]):
        image = container.get("image")
        # `auto` is the image Istio's injector replaces for a gateway proxy: istiod's webhook sets the real one.
        if image == "auto" and container.get("name") == "istio-proxy":
            continue
        problem = image_problem(image)
        if problem:
            report(f"{obj.ref} {where} ({container.get('name')}): {problem}")


_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def _check_pinned_charts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    release = helm_release(args.resource_type, args.props, args.urn)
    if release is None:
        return
    where = f"Helm release {release.namespace}/{release.name or args.name}"
    chart, version = _get(args.props, "chart"), _get(args.props, "version")
    if not isinstance(version, str) or not _EXACT_VERSION.match(version):
        report(f"{where}: chart version {version!r} is not an exact version (X.Y.Z)")
    repo = _get(args.props, "repositoryOpts", "repo")
    if isinstance(chart, str) and chart.startswith("oci://"):
        return
    if not isinstance(repo, str) or not repo.startswith(("https://", "oci://")):
        report(f"{where}: chart {chart!r} comes from repository {repo!r}, not an https:// or oci:// one")


def _check_workload_resources(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj, template = workload_of(args)
    if template is None:
        return
    for where, container in containers(template[1]):
        resources = _map(container.get("resources"))
        missing = [f"{kind}.{res}" for kind, res in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
                   if _get(resources, kind, res) in (None, "")]
        if missing:
            report(f"{obj.ref} {where} ({container.get('name')}): no {', '.join(missing)}")


def _check_workload_security(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj, template = workload_of(args)
    if template is None:
        return
    pod = _map(template[1].get("securityContext"))
    for where, container in containers(template[1]):
        ctx = _map(container.get("securityContext"))
        run_as_user = ctx.get("runAsUser", pod.get("runAsUser"))
        non_root = ctx.get("runAsNonRoot", pod.get("runAsNonRoot")) is True or (_is_int(run_as_user) and run_as_user > 0)
        problems = []
        if not non_root or run_as_user == 0:
            problems.append("runAsNonRoot: true (or a non-zero runAsUser)")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation: false")
        if ctx.get("readOnlyRootFilesystem") is not True:
            problems.append("readOnlyRootFilesystem: true")
        if ctx.get("privileged") is True:
            problems.append("no privileged: true")
        if problems:
            report(f"{obj.ref} {where} ({container.get('name')}) needs {', '.join(problems)}")


_DEFAULT_COMPUTE_SA = re.compile(r"^(default|\d+-compute@developer\.gserviceaccount\.com)$")


def _node_service_account_problem(node_config: Any) -> str | None:
    sa = _known(lambda: _get(node_config, "serviceAccount"), UNKNOWN)
    if sa is UNKNOWN:
        return None  # the email of a service account created in this update: not the default one
    if not isinstance(sa, str) or not sa:
        return "nodes run as the default compute service account (set nodeConfig.serviceAccount)"
    if _DEFAULT_COMPUTE_SA.match(sa):
        return f"nodes run as the default compute service account {sa!r}"
    return None


def _check_gke_hardening(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == "gcp:container/cluster:Cluster":
        where = f"GKE cluster {_get(props, 'name') or args.name}"
        problems = []
        if not _get(props, "workloadIdentityConfig", "workloadPool"):
            problems.append("Workload Identity is off (workloadIdentityConfig.workloadPool)")
        if _get(props, "enableShieldedNodes") is False:
            problems.append("shielded nodes are off (enableShieldedNodes)")
        if _get(props, "releaseChannel", "channel") not in ("RAPID", "REGULAR", "STABLE", "EXTENDED"):
            problems.append(f"no release channel (releaseChannel.channel is {_get(props, 'releaseChannel', 'channel')!r})")
        if _get(props, "enableLegacyAbac") is True:
            problems.append("legacy ABAC is on (enableLegacyAbac)")
        if _get(props, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
            problems.append("a client certificate is issued (masterAuth.clientCertificateConfig)")
        if _get(props, "masterAuth", "username") or _get(props, "masterAuth", "password"):
            problems.append("basic auth is on (masterAuth.username/password)")
        if _get(props, "deletionProtection") is False:
            problems.append("deletion protection is off (deletionProtection)")
        if not _get(props, "removeDefaultNodePool"):
            sa = _node_service_account_problem(_get(props, "nodeConfig"))
            if sa:
                problems.append(f"default node pool: {sa}")
        for i, pool in enumerate(_seq(_get(props, "nodePools"))):
            problems.extend(f"nodePools[{i}]: {p}" for p in _node_pool_problems(pool))
        for problem in problems:
            report(f"{where}: {problem}")
    elif args.resource_type == "gcp:container/nodePool:NodePool":
        where = f"GKE node pool {_get(props, 'name') or args.name}"
        for problem in _node_pool_problems(props):
            report(f"{where}: {problem}")


def _node_pool_problems(pool: Any) -> list[str]:
    problems = []
    for flag in ("autoRepair", "autoUpgrade"):
        if _get(pool, "management", flag) is False:
            problems.append(f"management.{flag} is off")
    sa = _node_service_account_problem(_get(pool, "nodeConfig"))
    if sa:
        problems.append(sa)
    if _get(pool, "nodeConfig", "workloadMetadataConfig", "mode") == "GCE_METADATA":
        problems.append("nodeConfig.workloadMetadataConfig.mode GCE_METADATA exposes the node's credentials to pods")
    return problems


# --- stack policies -------------------------------------------------------------------------

def _check_sidecar_injection(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    namespaces = stack.namespaces()
    reported: set[str] = set()
    for workload in stack.workloads():
        if _pod_opt_out(workload) or workload.namespace == UNKNOWN_NAMESPACE:
            continue
        ns = namespaces.get(workload.namespace)
        if ns is None:
            report(f"{workload.ref} is in namespace {workload.namespace!r}, which the program does not declare, "
                   f"so nothing guarantees it has {INJECT_LABEL}: enabled", workload.urn)
        elif ns.urn not in reported and not injected_namespace(ns) and not _has_unknown_labels(ns):
            reported.add(ns.urn)
            labels = _str_map(_get(ns.props, "metadata", "labels"))
            report(f"{ns.ref} holds {workload.ref} but is not injected (labels {labels})", ns.urn)


def _check_routing_consistency(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    rules = stack.of(ISTIO_GROUP, "DestinationRule")
    subsets: dict[str, dict[str, tuple[K8sObject, dict[str, str]]]] = {}
    for rule in rules:
        host = _get(rule.props, "spec", "host")
        host = fqdn(host, rule.namespace) if isinstance(host, str) else None
        for subset in _seq(_get(rule.props, "spec", "subsets")):
            name = _get(subset, "name")
            if host and isinstance(name, str):
                subsets.setdefault(host, {})[name] = (rule, _str_map(_get(subset, "labels")))

    for vs in stack.of(ISTIO_GROUP, "VirtualService"):
        for where, _, destination in route_destinations(vs.props):
            subset = destination.get("subset")
            if not isinstance(subset, str) or not subset or not isinstance(destination.get("host"), str):
                continue
            host = fqdn(destination.get("host"), vs.namespace)
            if subset not in subsets.get(host, {}):
                declared = sorted(subsets.get(host, {}))
                report(f"{vs.ref} {where} routes to subset {subset!r} of {host}, but no DestinationRule for that "
                       f"host declares it (declared: {declared or 'none'})", vs.urn)

    services = {(s.name, s.namespace): s for s in stack.of("core", "Service")}
    workloads = stack.workloads()
    for host, by_name in subsets.items():
        service = service_of(host)
        if service is None:
            continue  # not a Service of this cluster: its endpoints are not in the plan
        svc = services.get(service)
        selector = _str_map(_get(svc.props, "spec", "selector")) if svc else {}
        for name, (rule, labels) in by_name.items():
            wanted = {**selector, **labels}
            if not any(w.namespace == service[1] and wanted.items() <= pod_labels(w).items() for w in workloads):
                report(f"{rule.ref} subset {name!r} selects pods labelled {wanted} in namespace {service[1]!r}, "
                       f"but no workload in the plan runs such pods", rule.urn)


def _check_gateway_selector(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    gateways = [(release, gateway_pod_labels(release)) for release in stack.charts("gateway")]
    for gw in stack.of(ISTIO_GROUP, "Gateway"):
        selector = _str_map(_get(gw.props, "spec", "selector"))
        if not selector:
            report(f"{gw.ref} has no selector: it would apply to every gateway pod", gw.urn)
        elif not any(selector.items() <= labels.items() for _, labels in gateways):
            found = "; ".join(f"{r.namespace}/{r.name}: istio={labels['istio']}" for r, labels in gateways)
            report(f"{gw.ref} selects {selector}, which no gateway release's pods carry "
                   f"({found or 'no gateway release in the plan'})", gw.urn)


def _check_workloads_wait_for_istiod(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    istiods = stack.charts("istiod")
    injected_ns = {name for name, ns in stack.namespaces().items() if injected_namespace(ns)}

    injected: list[tuple[str, str]] = []  # (urn, what)
    for w in stack.workloads():
        in_ns = w.namespace in injected_ns and not _pod_opt_out(w)
        if in_ns or pod_labels(w).get(POD_INJECT) == "true":
            injected.append((w.urn, w.ref))
    for release in stack.releases:
        if release.chart == "gateway":
            injected.append((release.urn, f"gateway release {release.namespace}/{release.name} (its pods opt in to injection)"))
        elif release.namespace in injected_ns and release.chart != "istiod":
            injected.append((release.urn, f"Helm release {release.namespace}/{release.name} in injected namespace"))
    if not injected:
        return

    for istiod in istiods:
        if _get(istiod.props, "skipAwait") is True:
            report(f"istiod release {istiod.namespace}/{istiod.name} sets skipAwait: waiting for it does not wait for "
                   "its injection webhook", istiod.urn)
    targets = {r.urn for r in istiods}
    for urn, what in injected:
        if not targets:
            report(f"{what} gets a sidecar from istiod, but there is no istiod release in the plan", urn)
        elif not waits_for(stack.by_urn[urn], targets):
            report(f"{what} has no dependency path to the istiod release: its pods may start before the "
                   "injection webhook answers and run without a sidecar", urn)


def _check_flagger_owns_routing(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    for canary in stack.of(FLAGGER_GROUP, "Canary"):
        target = _map(_get(canary.props, "spec", "targetRef"))
        service = _get(canary.props, "spec", "service", "name") or target.get("name")
        if not isinstance(service, str) or not service:
            continue
        ns = canary.namespace
        owned_names = {service, f"{service}-primary", f"{service}-canary"}
        owned_hosts = {fqdn(n, ns) for n in owned_names}

        for vs in stack.of(ISTIO_GROUP, "VirtualService"):
            hosts = [fqdn(h, vs.namespace) for h in _seq(_get(vs.props, "spec", "hosts")) if isinstance(h, str)]
            destinations = [fqdn(d.get("host"), vs.namespace)
                            for _, _, d in route_destinations(vs.props) if isinstance(d.get("host"), str)]
            same_object = vs.namespace == ns and vs.name == service
            if same_object or owned_hosts & (set(hosts) | set(destinations)):
                report(f"{vs.ref} routes {service}.{ns}, which {canary.ref} manages: Flagger generates that "
                       "VirtualService itself", vs.urn)
        for rule in stack.of(ISTIO_GROUP, "DestinationRule"):
            host = _get(rule.props, "spec", "host")
            host = fqdn(host, rule.namespace) if isinstance(host, str) else None
            if host in owned_hosts or (rule.namespace == ns and rule.name in owned_names):
                report(f"{rule.ref} is for {host}, which {canary.ref} manages: Flagger generates its "
                       "DestinationRules itself", rule.urn)

        if target.get("kind", "Deployment") == "Deployment":
            for deployment in stack.of("apps", "Deployment"):
                if deployment.namespace == ns and deployment.name == target.get("name"):
                    replicas = _get(deployment.props, "spec", "replicas")
                    if _is_int(replicas) and set_by_program(deployment.props, "spec", "replicas"):
                        report(f"{deployment.ref} is the target of {canary.ref} but sets replicas: {_num(replicas)}; "
                               "Flagger and the HPA scale it", deployment.urn)


PULUMI_FIELD_MANAGER = "pulumi-kubernetes"  # "pulumi-kubernetes-<suffix>" under server-side apply


def set_by_program(props: Any, *path: str) -> bool:
    """Whether the program sets the field at `path`, rather than a controller or API default.

    A stack policy sees a resource's outputs: the inputs for an object still to be created,
    but the live object once it exists, where `spec.replicas` is always filled in (by the
    API server, the HPA, Flagger). Of a live object, only the fields Pulumi's field manager
    owns (`metadata.managedFields`) are the program's.
    """
    if _get(props, *path) is None:
        return False
    live = isinstance(_get(props, "metadata", "uid"), str) or isinstance(_get(props, "status"), Mapping)
    if not live:
        return True
    for entry in _seq(_get(props, "metadata", "managedFields")):
        if str(_get(entry, "manager") or "").startswith(PULUMI_FIELD_MANAGER):
            fields = _get(entry, "fieldsV1")
            if _get(fields, *(f"f:{key}" for key in path)) is not None:
                return True
    return False


def _check_flagger_metrics_server(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    servers: set[tuple[str, str, int]] = set()
    for release in stack.charts("prometheus"):
        servers |= prometheus_urls(release)
    known = sorted({f"http://{host}:{port}" for scheme, host, port in servers if scheme == "http" and host.count(".") == 1})

    def check(url: Any, where: str, urn: str) -> None:
        if _matches_server(url, servers):
            return
        report(f"{where} is {url!r}, which is not the URL of a Prometheus release in the plan "
               f"({', '.join(known) or 'none installed'}): every analysis would fail with 'no values found'", urn)

    for flagger in stack.charts("flagger"):
        url = _get(flagger.values, "metricsServer")
        if url is not UNKNOWN:
            # Unset, the chart's default is http://prometheus:9090: a Prometheus nobody installed.
            check(url if url is not None else "http://prometheus:9090 (the chart default)",
                  f"Flagger release {flagger.namespace}/{flagger.name} metricsServer", flagger.urn)
    for template in stack.of(FLAGGER_GROUP, "MetricTemplate"):
        provider = _map(_get(template.props, "spec", "provider"))
        address = provider.get("address")
        if provider.get("type") == "prometheus" and address is not None and address is not UNKNOWN:
            check(address, f"{template.ref} provider.address", template.urn)


def _matches_server(url: Any, servers: set[tuple[str, str, int]]) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    return parts.path in ("", "/") and (parts.scheme, parts.hostname or "", port) in servers


# Keys whose string value is a credential. A key that *names* a credential held elsewhere
# (`existingSecret`, `passwordKey`, `secretKeyRef`, `tokenFile`) does not match.
_SENSITIVE_KEY = re.compile(
    r"(password|passwd|token|api[-_]?key|secret[-_]?key|client[-_]?secret|private[-_]?key|webhook([-_]?url)?)$",
    re.IGNORECASE)
# Chart values where `url`/`address` is a chat webhook (Flagger's `slack.url`, `msteams.url`).
_NOTIFIERS = frozenset({"slack", "msteams", "teams", "discord", "rocket", "rocketchat", "googlechat", "gchat", "mattermost"})
_SENSITIVE_ENV = re.compile(r"(PASSWORD|PASSWD|TOKEN|API_?KEY|SECRET|WEBHOOK|(SLACK|MSTEAMS|TEAMS|DISCORD|ROCKET)_URL)",
                            re.IGNORECASE)
_REFERENCE_ENV = re.compile(r"(_FILE|_PATH|_NAME)$", re.IGNORECASE)


def credential_paths(props: Any, path: str = "", parent_key: str = "") -> Iterator[str]:
    """Paths of credentials held in `props` (plain, see `plain`) as literal strings rather than
    references to a Secret. A value a preview cannot know yet counts as a literal: it is computed
    by the program, not a reference."""
    if isinstance(props, Mapping):
        # An env entry `{name: SLACK_URL, value: ...}` holds a credential in `value`.
        env_name = _text(props.get("name")) if "value" in props else None
        for key, value in props.items():
            here = f"{path}.{key}" if path else str(key)
            literal = value is UNKNOWN or (isinstance(value, str) and value != "")
            if literal and (_SENSITIVE_KEY.search(str(key))
                            or (parent_key.lower() in _NOTIFIERS and key in ("url", "address"))
                            or (key == "value" and env_name and _SENSITIVE_ENV.search(env_name)
                                and not _REFERENCE_ENV.search(env_name))):
                yield here
            else:
                yield from credential_paths(value, here, str(key))
    elif isinstance(props, list):
        for i, value in enumerate(props):
            yield from credential_paths(value, f"{path}[{i}]", parent_key)


# Kubernetes Secrets: pulumi-kubernetes makes `data` and `stringData` secret whatever the program passes.
_ALWAYS_SECRET = {"kubernetes:core/v1:Secret": frozenset({"data", "stringData"})}


def _check_secrets_are_secret(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    objects = {o.urn: o for o in stack.objects}
    releases = {r.urn: r for r in stack.releases}
    for resource in stack.resources:
        if resource.resource_type == "pulumi:pulumi:Stack":
            continue
        secret_props = set(_ALWAYS_SECRET.get(resource.resource_type, ())) | set(
            getattr(resource.opts, "additional_secret_outputs", None) or ())
        paths = [p for p in credential_paths(stack.props[resource.urn])
                 if re.split(r"[.\[]", p, maxsplit=1)[0] not in secret_props]
        if not paths:
            continue
        obj, release = objects.get(resource.urn), releases.get(resource.urn)
        what = (obj.ref if obj else f"Helm release {release.namespace}/{release.name}" if release
                else f"{resource.resource_type} {resource.name}")
        # Paths only: a violation message must never repeat the credential.
        report(f"{what} holds credentials in plain inputs: {', '.join(paths)}", resource.urn)


# --- the pack -------------------------------------------------------------------------------

virtualservice_weights = ResourceValidationPolicy(
    name="virtualservice-weights",
    description="Give every destination of a VirtualService route an integer weight 0..100, the weights of one route "
                "summing to 100; for a weighted app, set apps.<app>.weights in Pulumi.<stack>.yaml (ga + canary = 100).",
    enforcement_level=MANDATORY,
    validate=_check_virtualservice_weights,
)

pinned_images = ResourceValidationPolicy(
    name="pinned-images",
    description="Pin every container image to a version tag (ghcr.io/org/app:6.13.0) or a sha256: digest; never "
                "latest or no tag. App tags live in apps.<app> in Pulumi.<stack>.yaml; chart images in the chart's values.",
    enforcement_level=MANDATORY,
    validate=_check_pinned_images,
)

pinned_charts = ResourceValidationPolicy(
    name="pinned-charts",
    description="Install every Helm release from an https:// (or oci://) repository at an exact chart version "
                "(X.Y.Z, no range): set the version in platform.* of Pulumi.<stack>.yaml and repositoryOpts.repo.",
    enforcement_level=MANDATORY,
    validate=_check_pinned_charts,
)

workload_resources = ResourceValidationPolicy(
    name="workload-resources",
    description="Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every "
                "container (init containers too), so the scheduler and the HPA have numbers to work with.",
    enforcement_level=MANDATORY,
    validate=_check_workload_resources,
)

workload_security = ResourceValidationPolicy(
    name="workload-security",
    description="Run every container as non-root (runAsNonRoot: true or a non-zero runAsUser) with "
                "allowPrivilegeEscalation: false and readOnlyRootFilesystem: true, and never privileged.",
    enforcement_level=ADVISORY,
    validate=_check_workload_security,
)

gke_hardening = ResourceValidationPolicy(
    name="gke-hardening",
    description="Harden GKE: Workload Identity on, shielded nodes on, a release channel set, legacy ABAC off, no "
                "client certificate or basic auth, deletion protection on; node pools with auto-repair, auto-upgrade "
                "and their own service account (not the default compute one). See components/cluster.py.",
    enforcement_level=MANDATORY,
    validate=_check_gke_hardening,
)

sidecar_injection = StackValidationPolicy(
    name="sidecar-injection",
    description="Declare every namespace that holds app workloads in the program with the label "
                "istio-injection: enabled (or istio.io/rev: <revision>), so each pod gets its sidecar.",
    enforcement_level=MANDATORY,
    validate=_check_sidecar_injection,
)

routing_consistency = StackValidationPolicy(
    name="routing-consistency",
    description="Route only to subsets a DestinationRule for the same host declares, and give each subset labels "
                "(together with its Service's selector) that the pods of a Deployment in the program carry.",
    enforcement_level=MANDATORY,
    validate=_check_routing_consistency,
)

gateway_selector = StackValidationPolicy(
    name="gateway-selector",
    description="Make each Gateway's selector match the pod labels of an Istio gateway release: the gateway chart "
                "labels its pods istio: <release name without 'istio-'> unless values.labels.istio is set.",
    enforcement_level=MANDATORY,
    validate=_check_gateway_selector,
)

workloads_wait_for_istiod = StackValidationPolicy(
    name="workloads-wait-for-istiod",
    description="Make every workload that gets a sidecar wait for the istiod release: depends_on istiod, directly "
                "or through its namespace or parent component (the app namespaces depend on istiod), and keep "
                "skipAwait off on istiod.",
    enforcement_level=MANDATORY,
    validate=_check_workloads_wait_for_istiod,
)

flagger_owns_routing = StackValidationPolicy(
    name="flagger-owns-routing",
    description="For an app a Flagger Canary manages, define no VirtualService or DestinationRule (Flagger "
                "generates them) and no replicas on its Deployment (scale it with an autoscaling/v2 HPA).",
    enforcement_level=MANDATORY,
    validate=_check_flagger_owns_routing,
)

flagger_metrics_server = StackValidationPolicy(
    name="flagger-metrics-server",
    description="Point Flagger's metricsServer (and each prometheus MetricTemplate's provider.address) at the "
                "Prometheus release this program installs: http://<server service>.<namespace>:<port>.",
    enforcement_level=MANDATORY,
    validate=_check_flagger_metrics_server,
)

secrets_are_secret = StackValidationPolicy(
    name="secrets-are-secret",
    description="Keep passwords, tokens and webhook URLs out of plain inputs and Helm values: put them in a "
                "kubernetes Secret (stored as a Pulumi secret) and reference it (admin.existingSecret, env "
                "valueFrom.secretKeyRef, secretRef), or list the property in the resource's additional_secret_outputs.",
    enforcement_level=MANDATORY,
    validate=_check_secrets_are_secret,
)

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    virtualservice_weights,
    pinned_images,
    pinned_charts,
    workload_resources,
    workload_security,
    sidecar_injection,
    gke_hardening,
    routing_consistency,
    gateway_selector,
    workloads_wait_for_istiod,
    flagger_owns_routing,
    flagger_metrics_server,
    secrets_are_secret,
]
