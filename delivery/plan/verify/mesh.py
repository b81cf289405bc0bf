"""Mesh and delivery wiring: Istio Gateways, VirtualServices and DestinationRules; Flagger
Canaries, MetricTemplates and webhooks; Flagger's and Grafana's Prometheus address.
"""

from __future__ import annotations

import fnmatch
import re
import shlex

import yaml

from delivery.plan.verify.references import Index, container_port, pod_template, reach, selects
from delivery.plan.verify.state import Obj, Report


def _gateway(index: Index, ref: str, namespace: str | None) -> Obj | None:
    ns, _, name = ref.rpartition("/")
    return index.get("Gateway", ns or namespace, name)


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.split("/", 1)[-1]  # `ns/host` in a Gateway server
    return pattern == "*" or fnmatch.fnmatchcase(host, pattern) or fnmatch.fnmatchcase(pattern, host)


def check_gateways(index: Index, report: Report) -> None:
    """A Gateway's selector picks gateway pods, and each server port is a port their Service
    forwards to (Istio listens on the container port: istio.io Gateway reference, `port`)."""
    for gateway in index.of_kind("Gateway"):
        selector = gateway.spec.get("selector") or {}
        pods = [w for w in index.workloads if selects(selector, w[1])]
        if not pods:
            report.defect(
                "reference",
                f"{gateway.label} selects pods labelled {selector}, but no pod template "
                f"carries those labels: it routes nothing ({index.near_misses(selector, None)})",
            )
            continue
        report.resolved(f"{gateway.ref} selects {', '.join(p[0].ref for p in pods)}")
        services = [
            s
            for s in index.of_kind("Service")
            if any(s.namespace == p[0].namespace and selects(s.spec.get("selector"), p[1]) for p in pods)
        ]
        targets = {str(p.get("targetPort", p.get("port"))) for s in services for p in s.spec.get("ports") or []}
        for server in gateway.spec.get("servers") or []:
            credential = (server.get("tls") or {}).get("credentialName")
            if credential:
                # Istio reads the certificate from a Secret in the gateway's namespace (istio.io Gateway
                # reference, ServerTLSSettings.credentialName); the team makes it (cert-manager, by hand).
                secret = index.get("Secret", gateway.namespace, credential)
                if secret is None:
                    report.external.append(f"{gateway.ref} serves TLS with Secret {gateway.namespace}/{credential}")
                else:
                    report.resolved(f"{gateway.ref} serves TLS with {secret.ref}")
            number = (server.get("port") or {}).get("number")
            if str(number) in targets:
                report.resolved(f"{gateway.ref} port {number} is forwarded by {', '.join(s.ref for s in services)}")
            else:
                report.defect(
                    "reference",
                    f"{gateway.label} listens on {number}, which no Service of its pods "
                    f"({', '.join(s.ref for s in services) or 'none'}) forwards to",
                )


def check_workload_selectors(index: Index, report: Report) -> None:
    """Istio policies scoped by `selector.matchLabels` select pods of their namespace (the root
    namespace's apply mesh-wide), and a per-port mTLS mode names a port those pods declare."""
    for kind in ("PeerAuthentication", "AuthorizationPolicy", "Sidecar", "RequestAuthentication", "Telemetry"):
        for policy in index.of_kind(kind):
            selector = policy.spec.get("selector") or policy.spec.get("workloadSelector") or {}
            labels = selector.get("matchLabels") or selector.get("labels")
            if not labels:
                continue
            pods = index.pods_selected(labels, policy.namespace)
            if not pods:
                report.defect(
                    "reference",
                    f"{policy.label} selects pods labelled {labels}, which no pod template "
                    f"in {policy.namespace} carries ({index.near_misses(labels, policy.namespace)})",
                )
                continue
            report.resolved(f"{policy.ref} selects {', '.join(p[0].ref for p in pods)}")
            for port in policy.spec.get("portLevelMtls") or {}:
                if container_port(pods, int(port)) is None:
                    report.defect(
                        "reference",
                        f"{policy.label} sets mTLS for port {port}, which no container of "
                        f"{', '.join(p[0].ref for p in pods)} declares",
                    )


def _subsets(index: Index, service: Obj) -> dict[str, tuple[Obj, dict]]:
    subsets = {}
    for rule in index.of_kind("DestinationRule"):
        target = index.service_for_host(rule.spec.get("host", ""), rule.namespace)
        if target is service:
            for subset in rule.spec.get("subsets") or []:
                subsets[subset.get("name")] = (rule, subset)
    return subsets


def check_routes(index: Index, report: Report) -> None:
    for rule in index.of_kind("DestinationRule"):
        service = index.service_for_host(rule.spec.get("host", ""), rule.namespace)
        if service is None:
            report.defect(
                "reference", f"{rule.label} host {rule.spec.get('host')!r} is no Service of the desired state"
            )
            continue
        report.resolved(f"{rule.ref} host -> {service.ref}")
        for subset in rule.spec.get("subsets") or []:
            labels = {**(service.spec.get("selector") or {}), **(subset.get("labels") or {})}
            workloads = {w[0].ref for w in index.pods_selected(labels, service.namespace)}
            if len(workloads) != 1:
                report.defect(
                    "reference",
                    f"{rule.label} subset {subset.get('name')!r} (labels {subset.get('labels')}) "
                    f"selects {len(workloads)} workloads behind {service.ref}, not exactly one: "
                    f"{sorted(workloads) or index.near_misses(labels, service.namespace)}",
                )
            else:
                report.resolved(f"{rule.ref} subset {subset.get('name')} -> {workloads.pop()}")

    for vs in index.of_kind("VirtualService"):
        for ref in vs.spec.get("gateways") or []:
            if ref == "mesh":
                continue
            gateway = _gateway(index, ref, vs.namespace)
            if gateway is None:
                report.defect("reference", f"{vs.label} binds to Gateway {ref}, which nothing creates")
                continue
            hosts = [h for s in gateway.spec.get("servers") or [] for h in s.get("hosts") or []]
            if any(_host_matches(h, p) for h in vs.spec.get("hosts") or [] for p in hosts):
                report.resolved(f"{vs.ref} binds to {gateway.ref}")
            else:
                report.defect(
                    "reference",
                    f"{vs.label} hosts {vs.spec.get('hosts')} match none of {gateway.label} server hosts {hosts}",
                )
        routes = [
            r for kind in ("http", "tcp", "tls") for rule in vs.spec.get(kind) or [] for r in rule.get("route") or []
        ]
        for route in routes:
            dest = route.get("destination") or {}
            service = index.service_for_host(dest.get("host", ""), vs.namespace)
            if service is None:
                report.defect("reference", f"{vs.label} routes to host {dest.get('host')!r}, which is no Service")
                continue
            number = (dest.get("port") or {}).get("number")
            if number is not None and number not in [p.get("port") for p in service.spec.get("ports") or []]:
                report.defect(
                    "reference", f"{vs.label} routes to port {number} of {service.label}, which it does not serve"
                )
                continue
            subset = dest.get("subset")
            if subset is not None and subset not in _subsets(index, service):
                report.defect(
                    "reference",
                    f"{vs.label} routes to subset {subset!r} of {service.ref}, which no DestinationRule defines",
                )
                continue
            report.resolved(f"{vs.ref} routes to {service.ref}" + (f" subset {subset}" if subset else ""))


def check_canaries(index: Index, report: Report) -> None:
    for canary in index.of_kind("Canary"):
        spec, ns = canary.spec, canary.namespace
        target_ref = spec.get("targetRef") or {}
        target = index.get(target_ref.get("kind", ""), ns, target_ref.get("name", ""))
        if target is None:
            report.defect(
                "reference",
                f"{canary.label} targets {target_ref.get('kind')} {ns}/{target_ref.get('name')}, which nothing creates",
            )
        else:
            report.resolved(f"{canary.ref} targets {target.ref}")
            port = (spec.get("service") or {}).get("targetPort", (spec.get("service") or {}).get("port"))
            pods = pod_template(target)
            if port is not None and (pods is None or container_port([(target, *pods)], port) is None):
                report.defect(
                    "reference", f"{canary.label} service targetPort {port} is no container port of {target.label}"
                )
        auto_ref = spec.get("autoscalerRef")
        if auto_ref:
            hpa = index.get(auto_ref.get("kind", ""), ns, auto_ref.get("name", ""))
            if hpa is None:
                report.defect(
                    "reference",
                    f"{canary.label} autoscalerRef {auto_ref.get('kind')} {ns}/{auto_ref.get('name')} is not created",
                )
            elif target is not None and (hpa.spec.get("scaleTargetRef") or {}).get("name") != target.name:
                report.defect(
                    "reference",
                    f"{canary.label}: {hpa.label} scales "
                    f"{(hpa.spec.get('scaleTargetRef') or {}).get('name')}, not {target.ref}",
                )
            else:
                report.resolved(f"{canary.ref} autoscaler {hpa.ref}")
        for ref in (spec.get("service") or {}).get("gateways") or []:
            if ref != "mesh" and _gateway(index, ref, ns) is None:
                report.defect("reference", f"{canary.label} exposes on Gateway {ref}, which nothing creates")
            elif ref != "mesh":
                report.resolved(f"{canary.ref} exposes on Gateway {ref}")
        analysis = spec.get("analysis") or {}
        for metric in analysis.get("metrics") or []:
            ref = metric.get("templateRef")
            if not ref:
                continue
            template = index.get("MetricTemplate", ref.get("namespace") or ns, ref.get("name", ""))
            if template is None:
                report.defect(
                    "reference",
                    f"{canary.label} metric {metric.get('name')!r} uses MetricTemplate "
                    f"{ref.get('namespace') or ns}/{ref.get('name')}, which nothing creates",
                )
            else:
                report.resolved(f"{canary.ref} metric {metric.get('name')} -> {template.ref}")
        for hook in analysis.get("webhooks") or []:
            reach(index, report, hook.get("url", ""), f"{canary.label} webhook {hook.get('name')!r}", ns)
    for template in index.of_kind("MetricTemplate"):
        address = (template.spec.get("provider") or {}).get("address")
        if address:
            reach(index, report, address, f"{template.label} provider", template.namespace)


_FLAG = re.compile(r"^-{1,2}metrics-server=(.+)$")


def check_prometheus_consumers(index: Index, report: Report) -> None:
    """Flagger's `-metrics-server` and every Grafana Prometheus datasource reach Prometheus."""
    for obj, _labels, spec in index.workloads:
        for container in spec.get("containers") or []:
            words = [*(container.get("command") or []), *(container.get("args") or [])]
            for word in (w for text in words for w in shlex.split(str(text))):
                match = _FLAG.match(word)
                if match:
                    reach(
                        index,
                        report,
                        match.group(1),
                        f"{obj.label} container {container.get('name')!r} -metrics-server",
                        obj.namespace,
                    )
    for config in index.of_kind("ConfigMap"):
        for key, text in (config.manifest.get("data") or {}).items():
            if not key.startswith("datasources") or not isinstance(text, str):
                continue
            try:
                doc = yaml.safe_load(text) or {}
            except yaml.YAMLError:
                report.defect("reference", f"{config.label} key {key!r} is not YAML")
                continue
            for source in doc.get("datasources") or []:
                if source.get("type") == "prometheus" and source.get("url"):
                    reach(
                        index,
                        report,
                        source["url"],
                        f"{config.label} datasource {source.get('name')!r}",
                        config.namespace,
                    )
