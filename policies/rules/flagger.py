"""Flagger: it owns the routing of what it canaries, and its metrics server is our Prometheus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from .base import MANDATORY, UNKNOWN, _get, _is_int, _map, _num, _seq
from .kubernetes import FLAGGER_GROUP, ISTIO_GROUP, fqdn, prometheus_urls, route_destinations, stack_view


def _check_flagger_owns_routing(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = stack_view(args)
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
            destinations = [
                fqdn(d.get("host"), vs.namespace)
                for _, _, d in route_destinations(vs.props)
                if isinstance(d.get("host"), str)
            ]
            same_object = vs.namespace == ns and vs.name == service
            if same_object or owned_hosts & (set(hosts) | set(destinations)):
                report(
                    f"{vs.ref} routes {service}.{ns}, which {canary.ref} manages: Flagger generates that "
                    "VirtualService itself",
                    vs.urn,
                )
        for rule in stack.of(ISTIO_GROUP, "DestinationRule"):
            host = _get(rule.props, "spec", "host")
            host = fqdn(host, rule.namespace) if isinstance(host, str) else None
            if host in owned_hosts or (rule.namespace == ns and rule.name in owned_names):
                report(
                    f"{rule.ref} is for {host}, which {canary.ref} manages: Flagger generates its "
                    "DestinationRules itself",
                    rule.urn,
                )

        if target.get("kind", "Deployment") == "Deployment":
            for deployment in stack.of("apps", "Deployment"):
                if deployment.namespace == ns and deployment.name == target.get("name"):
                    replicas = _get(deployment.props, "spec", "replicas")
                    if _is_int(replicas) and set_by_program(deployment.props, "spec", "replicas"):
                        report(
                            f"{deployment.ref} is the target of {canary.ref} but sets replicas: {_num(replicas)}; "
                            "Flagger and the HPA scale it",
                            deployment.urn,
                        )


flagger_owns_routing = StackValidationPolicy(
    name="flagger-owns-routing",
    description="For an app a Flagger Canary manages, define no VirtualService or DestinationRule (Flagger "
    "generates them) and no replicas on its Deployment (scale it with an autoscaling/v2 HPA).",
    enforcement_level=MANDATORY,
    validate=_check_flagger_owns_routing,
)
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
    stack = stack_view(args)
    servers: set[tuple[str, str, int]] = set()
    for release in stack.charts("prometheus"):
        servers |= prometheus_urls(release)
    known = sorted(
        {f"http://{host}:{port}" for scheme, host, port in servers if scheme == "http" and host.count(".") == 1}
    )

    def check(url: Any, where: str, urn: str) -> None:
        if _matches_server(url, servers):
            return
        report(
            f"{where} is {url!r}, which is not the URL of a Prometheus release in the plan "
            f"({', '.join(known) or 'none installed'}): every analysis would fail with 'no values found'",
            urn,
        )

    for flagger in stack.charts("flagger"):
        url = _get(flagger.values, "metricsServer")
        if url is not UNKNOWN:
            # Unset, the chart's default is http://prometheus:9090: a Prometheus nobody installed.
            check(
                url if url is not None else "http://prometheus:9090 (the chart default)",
                f"Flagger release {flagger.namespace}/{flagger.name} metricsServer",
                flagger.urn,
            )
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


flagger_metrics_server = StackValidationPolicy(
    name="flagger-metrics-server",
    description="Point Flagger's metricsServer (and each prometheus MetricTemplate's provider.address) at the "
    "Prometheus release this program installs: http://<server service>.<namespace>:<port>.",
    enforcement_level=MANDATORY,
    validate=_check_flagger_metrics_server,
)
