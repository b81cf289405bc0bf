"""Istio: route weights, sidecar injection, subsets that select pods, the gateway selector, istiod ordering."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .base import MANDATORY, _get, _is_int, _map, _seq, _show, _str_map
from .kubernetes import (
    INJECT_LABEL,
    ISTIO_GROUP,
    POD_INJECT,
    UNKNOWN_NAMESPACE,
    K8sObject,
    _has_unknown_labels,
    _pod_opt_out,
    fqdn,
    gateway_pod_labels,
    injected_namespace,
    k8s_object,
    pod_labels,
    route_destinations,
    service_of,
    stack_view,
    waits_for,
)


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
            weights: list[Any] = [entry.get("weight") for entry in route]
            bad = [w for w in weights if not _is_int(w) or not 0 <= w <= 100]
            if bad:
                report(f"{where}: every weight must be an integer 0..100, got {_show(weights)}")
            elif sum(int(w) for w in weights) != 100:
                report(f"{where}: weights {_show(weights)} sum to {sum(int(w) for w in weights)}, not 100")


virtualservice_weights = ResourceValidationPolicy(
    name="virtualservice-weights",
    description="Give every destination of a VirtualService route an integer weight 0..100, the weights of one route "
    "summing to 100; for a weighted app, set apps.<app>.weights in Pulumi.<stack>.yaml (ga + canary = 100).",
    enforcement_level=MANDATORY,
    validate=_check_virtualservice_weights,
)


def _check_sidecar_injection(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = stack_view(args)
    namespaces = stack.namespaces()
    reported: set[str] = set()
    for workload in stack.workloads():
        if _pod_opt_out(workload) or workload.namespace == UNKNOWN_NAMESPACE:
            continue
        ns = namespaces.get(workload.namespace)
        if ns is None:
            report(
                f"{workload.ref} is in namespace {workload.namespace!r}, which the program does not declare, "
                f"so nothing guarantees it has {INJECT_LABEL}: enabled",
                workload.urn,
            )
        elif ns.urn not in reported and not injected_namespace(ns) and not _has_unknown_labels(ns):
            reported.add(ns.urn)
            labels = _str_map(_get(ns.props, "metadata", "labels"))
            report(f"{ns.ref} holds {workload.ref} but is not injected (labels {labels})", ns.urn)


sidecar_injection = StackValidationPolicy(
    name="sidecar-injection",
    description="Declare every namespace that holds app workloads in the program with the label "
    "istio-injection: enabled (or istio.io/rev: <revision>), so each pod gets its sidecar.",
    enforcement_level=MANDATORY,
    validate=_check_sidecar_injection,
)


def _check_routing_consistency(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = stack_view(args)
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
                report(
                    f"{vs.ref} {where} routes to subset {subset!r} of {host}, but no DestinationRule for that "
                    f"host declares it (declared: {declared or 'none'})",
                    vs.urn,
                )

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
                report(
                    f"{rule.ref} subset {name!r} selects pods labelled {wanted} in namespace {service[1]!r}, "
                    f"but no workload in the plan runs such pods",
                    rule.urn,
                )


routing_consistency = StackValidationPolicy(
    name="routing-consistency",
    description="Route only to subsets a DestinationRule for the same host declares, and give each subset labels "
    "(together with its Service's selector) that the pods of a Deployment in the program carry.",
    enforcement_level=MANDATORY,
    validate=_check_routing_consistency,
)


def _check_gateway_selector(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = stack_view(args)
    gateways = [(release, gateway_pod_labels(release)) for release in stack.charts("gateway")]
    for gw in stack.of(ISTIO_GROUP, "Gateway"):
        selector = _str_map(_get(gw.props, "spec", "selector"))
        if not selector:
            report(f"{gw.ref} has no selector: it would apply to every gateway pod", gw.urn)
        elif not any(selector.items() <= labels.items() for _, labels in gateways):
            found = "; ".join(f"{r.namespace}/{r.name}: istio={labels['istio']}" for r, labels in gateways)
            report(
                f"{gw.ref} selects {selector}, which no gateway release's pods carry "
                f"({found or 'no gateway release in the plan'})",
                gw.urn,
            )


gateway_selector = StackValidationPolicy(
    name="gateway-selector",
    description="Make each Gateway's selector match the pod labels of an Istio gateway release: the gateway chart "
    "labels its pods istio: <release name without 'istio-'> unless values.labels.istio is set.",
    enforcement_level=MANDATORY,
    validate=_check_gateway_selector,
)


def _check_workloads_wait_for_istiod(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = stack_view(args)
    istiods = stack.charts("istiod")
    injected_ns = {name for name, ns in stack.namespaces().items() if injected_namespace(ns)}

    injected: list[tuple[str, str]] = []  # (urn, what)
    for w in stack.workloads():
        in_ns = w.namespace in injected_ns and not _pod_opt_out(w)
        if in_ns or pod_labels(w).get(POD_INJECT) == "true":
            injected.append((w.urn, w.ref))
    for release in stack.releases:
        if release.chart == "gateway":
            injected.append(
                (release.urn, f"gateway release {release.namespace}/{release.name} (its pods opt in to injection)")
            )
        elif release.namespace in injected_ns and release.chart != "istiod":
            injected.append((release.urn, f"Helm release {release.namespace}/{release.name} in injected namespace"))
    if not injected:
        return

    for istiod in istiods:
        if _get(istiod.props, "skipAwait") is True:
            report(
                f"istiod release {istiod.namespace}/{istiod.name} sets skipAwait: waiting for it does not wait for "
                "its injection webhook",
                istiod.urn,
            )
    targets = {r.urn for r in istiods}
    for urn, what in injected:
        if not targets:
            report(f"{what} gets a sidecar from istiod, but there is no istiod release in the plan", urn)
        elif not waits_for(stack.by_urn[urn], targets):
            report(
                f"{what} has no dependency path to the istiod release: its pods may start before the "
                "injection webhook answers and run without a sidecar",
                urn,
            )


workloads_wait_for_istiod = StackValidationPolicy(
    name="workloads-wait-for-istiod",
    description="Make every workload that gets a sidecar wait for the istiod release: depends_on istiod, directly "
    "or through its namespace or parent component (the app namespaces depend on istiod), and keep "
    "skipAwait off on istiod.",
    enforcement_level=MANDATORY,
    validate=_check_workloads_wait_for_istiod,
)
