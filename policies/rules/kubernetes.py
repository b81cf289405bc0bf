"""Kubernetes, Helm and Istio facts the rules share, and the plan as a stack policy sees it (`stack_view`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from .base import UNKNOWN, _get, _known, _map, _seq, _str_map, _text, plain

HELM_RELEASE_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
ISTIO_GROUP = "networking.istio.io"
FLAGGER_GROUP = "flagger.app"
CLUSTER_DOMAIN = "cluster.local"
# Kinds whose objects run pods, and where their pod template lives.
_TEMPLATE_KINDS = {
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("core", "ReplicationController"),
    ("batch", "Job"),
}
WORKLOAD_KINDS = frozenset(_TEMPLATE_KINDS | {("core", "Pod"), ("batch", "CronJob")})
INJECT_LABEL, REV_LABEL, POD_INJECT = "istio-injection", "istio.io/rev", "sidecar.istio.io/inject"
# The namespace of an object whose namespace a preview cannot know yet.
UNKNOWN_NAMESPACE = "(unknown)"
_K8S_TYPE = re.compile(r"kubernetes:(?P<group>[^:/]+)/(?P<version>[^:/]+):(?P<kind>\w+)")


def group_kind(resource_type: str) -> tuple[str, str] | None:
    """`kubernetes:apps/v1:Deployment` -> ("apps", "Deployment"); the core group is "core".

    Typed resources and `apiextensions.CustomResource` objects share this token format.
    """
    match = _K8S_TYPE.fullmatch(resource_type)
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
    return K8sObject(
        urn,
        gk[0],
        gk[1],
        name if isinstance(name, str) else None,
        namespace if isinstance(namespace, str) else UNKNOWN_NAMESPACE,
        props,
    )


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
    return HelmRelease(
        urn,
        chart,
        name if isinstance(name, str) else None,
        namespace if isinstance(namespace, str) else UNKNOWN_NAMESPACE,
        _map(_get(props, "values")),
        props,
    )


def gateway_pod_labels(release: HelmRelease) -> dict[str, str]:
    """The pod labels Istio's `gateway` chart gives its pods (gateway/_helpers.tpl, deployment.yaml)."""
    values = release.values
    name = _text(_get(values, "name")) or release.name or "istio-ingressgateway"
    labels = _str_map(_get(values, "labels"))
    pod = {
        POD_INJECT: "true",
        "app.kubernetes.io/name": name,
        "app": labels.get("app") or name,
        "istio": labels.get("istio") or name.removeprefix("istio-"),
    }
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
        """Namespaces the program declares: created, or patched when they exist already (`default`,
        `namespaces.<ns>.create: false`), where the patch's labels are what it applies."""
        declared = [*self.of("core", "Namespace"), *self.of("core", "NamespacePatch")]
        return {o.name: o for o in declared if o.name}


# The last stack seen and its view: every stack policy of one run shares it. The offline runner
# hands all stack policies one StackValidationArgs; the CrossGuard analyzer builds new
# PolicyResource objects per policy (pulumi_policy/policy.py, AnalyzeStack), so there the view is
# rebuilt per policy, as before.
_last_view: tuple[list[PolicyResource], Stack] | None = None


def stack_view(args: StackValidationArgs) -> Stack:
    """The plan as the stack policies see it, built once per stack (not once per policy)."""
    global _last_view
    resources = list(args.resources)
    if _last_view is not None:
        seen, view = _last_view
        if len(seen) == len(resources) and all(a is b for a, b in zip(seen, resources, strict=True)):
            return view
    view = Stack(resources)
    _last_view = (resources, view)
    return view


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
