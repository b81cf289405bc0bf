"""References between Kubernetes objects: what a pod mounts and reads, what a Service selects
and where its ports lead, what a URL reaches. Each resolved reference is counted; each broken
one is a defect naming both ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from delivery.plan.verify.state import Obj, Report

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


def pod_template(obj: Obj) -> tuple[dict, dict] | None:
    """(labels, pod spec) of a workload's pods."""
    if obj.kind == "Pod":
        return obj.labels, obj.spec
    template = obj.spec.get("template") or {}
    if obj.kind == "CronJob":
        template = ((obj.spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    if not template:
        return None
    return (template.get("metadata") or {}).get("labels") or {}, template.get("spec") or {}


def containers(pod_spec: dict) -> list[dict]:
    return [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]


def selects(selector: dict | None, labels: dict) -> bool:
    """A label selector (a plain map, or matchLabels/matchExpressions) against a label set."""
    if not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        plain = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    else:
        plain, expressions = selector, []
    if any(labels.get(k) != v for k, v in plain.items()):
        return False
    for expr in expressions:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return bool(plain or expressions)


@dataclass
class Index:
    objects: list[Obj]
    by_ref: dict[tuple[str, str | None, str], Obj] = field(default_factory=dict)
    workloads: list[tuple[Obj, dict, dict]] = field(default_factory=list)
    # (consumer, what it needs, why): the apply-order checks prove each of these.
    needs: list[tuple[Obj, Obj, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for obj in self.objects:
            self.by_ref.setdefault((obj.kind, obj.namespace, obj.name), obj)
            template = pod_template(obj) if obj.kind in WORKLOAD_KINDS else None
            if template is not None:
                self.workloads.append((obj, *template))

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        return self.by_ref.get((kind, namespace, name))

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o.kind == kind]

    def pods_selected(self, selector: dict | None, namespace: str | None) -> list[tuple[Obj, dict, dict]]:
        return [
            w for w in self.workloads if (namespace is None or w[0].namespace == namespace) and selects(selector, w[1])
        ]

    def near_misses(self, selector: dict | None, namespace: str | None) -> str:
        """The pod templates carrying any key of a selector that matched nothing: the other end."""
        plain = (selector or {}).get("matchLabels", selector) if isinstance(selector, dict) else {}
        keys = set(plain or {})
        found = [
            f"{w[0].ref} has { ({k: w[1][k] for k in sorted(keys) if k in w[1]}) }"
            for w in self.workloads
            if (namespace is None or w[0].namespace == namespace) and keys & set(w[1])
        ]
        return "; ".join(found) if found else "no pod template has any of those label keys"

    def service_for_host(self, host: str, from_namespace: str | None) -> Obj | None:
        """`name`, `name.ns`, `name.ns.svc` or `name.ns.svc.cluster.local` as cluster DNS resolves it."""
        parts = host.split(".")
        if len(parts) == 1:
            return self.get("Service", from_namespace, parts[0])
        if len(parts) == 2 or parts[2:] in (["svc"], ["svc", "cluster", "local"]):
            return self.get("Service", parts[1], parts[0])
        return None


def _keys(obj: Obj) -> set[str]:
    if obj.kind == "Secret":
        return set(obj.manifest.get("data") or {}) | set(obj.manifest.get("stringData") or {})
    return set(obj.manifest.get("data") or {}) | set(obj.manifest.get("binaryData") or {})


def _need(
    index: Index,
    report: Report,
    consumer: Obj,
    kind: str,
    name: str | None,
    why: str,
    key: str | None = None,
    optional: bool = False,
    external: bool = False,
) -> None:
    """`external`: a reference the stack declares to an object the team creates (apps.<app>.envFrom,
    secretEnv, imagePullSecrets): listed when the program does not create it, not a defect."""
    if not name:
        return
    target = index.get(kind, consumer.namespace, name)
    if target is None and external and consumer.release is None:
        report.external.append(
            f"{consumer.ref} {why} {kind} {consumer.namespace}/{name}" + (f" key {key}" if key else "")
        )
        return
    if target is None:
        if not optional:
            report.defect(
                "reference", f"{consumer.label} {why} {kind} {consumer.namespace}/{name}, which nothing creates"
            )
        return
    if key is not None and key not in _keys(target):
        if not optional:
            report.defect(
                "reference",
                f"{consumer.label} {why} key {key!r} of {target.label}, which has keys {sorted(_keys(target))}",
            )
        return
    report.resolved(f"{consumer.ref} {why} {target.ref}" + (f" key {key}" if key else ""))
    if target.source_urn != consumer.source_urn and kind in (
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "ServiceAccount",
    ):
        index.needs.append((consumer, target, f"{consumer.ref} {why} {target.ref}"))


def check_pods(index: Index, report: Report) -> None:
    """ServiceAccounts, ConfigMaps, Secrets (and keys) and PVCs every pod template names."""
    for obj, _labels, spec in index.workloads:
        account = spec.get("serviceAccountName") or spec.get("serviceAccount")
        if account and account != "default":
            _need(index, report, obj, "ServiceAccount", account, "runs as")
        for secret in spec.get("imagePullSecrets") or []:
            _need(index, report, obj, "Secret", secret.get("name"), "pulls images with", external=True)
        for volume in spec.get("volumes") or []:
            sources = [volume] + [s for s in ((volume.get("projected") or {}).get("sources") or [])]
            for source in sources:
                if "configMap" in source:
                    cm = source["configMap"]
                    for item in cm.get("items") or [{}]:
                        _need(
                            index,
                            report,
                            obj,
                            "ConfigMap",
                            cm.get("name"),
                            "mounts",
                            item.get("key"),
                            cm.get("optional", False),
                        )
                if "secret" in source:
                    secret = source["secret"]
                    name = secret.get("secretName") or secret.get("name")
                    for item in secret.get("items") or [{}]:
                        _need(
                            index, report, obj, "Secret", name, "mounts", item.get("key"), secret.get("optional", False)
                        )
            if "persistentVolumeClaim" in volume:
                _need(
                    index,
                    report,
                    obj,
                    "PersistentVolumeClaim",
                    volume["persistentVolumeClaim"].get("claimName"),
                    "mounts",
                )
        for container in containers(spec):
            for env in container.get("env") or []:
                source = env.get("valueFrom") or {}
                for kind, field_ in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if field_ in source:
                        ref = source[field_]
                        _need(
                            index,
                            report,
                            obj,
                            kind,
                            ref.get("name"),
                            f"reads env {env.get('name')} from",
                            ref.get("key"),
                            ref.get("optional", False),
                            external=True,
                        )
            for env_from in container.get("envFrom") or []:
                for kind, field_ in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if field_ in env_from:
                        ref = env_from[field_]
                        _need(
                            index,
                            report,
                            obj,
                            kind,
                            ref.get("name"),
                            "reads env from",
                            None,
                            ref.get("optional", False),
                            external=True,
                        )


def container_port(pods: list[tuple[Obj, dict, dict]], target: int | str) -> tuple[Obj, dict] | None:
    """The pod's container port a Service targetPort (number or name) maps to."""
    for obj, _labels, spec in pods:
        for container in containers(spec):
            for port in container.get("ports") or []:
                if (isinstance(target, str) and not target.isdigit() and port.get("name") == target) or str(
                    port.get("containerPort")
                ) == str(target):
                    return obj, port
    return None


def check_services(index: Index, report: Report) -> None:
    """A Service's selector selects pods, and each named targetPort is a port those pods declare."""
    for service in index.of_kind("Service"):
        selector = service.spec.get("selector")
        if not selector or service.spec.get("type") == "ExternalName":
            continue
        pods = index.pods_selected(selector, service.namespace)
        if not pods:
            report.defect(
                "reference",
                f"{service.label} selects {selector}, which no pod template in "
                f"{service.namespace} carries ({index.near_misses(selector, service.namespace)})",
            )
            continue
        report.resolved(f"{service.ref} selects {', '.join(p[0].ref for p in pods)}")
        for port in service.spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str) and not target.isdigit() and container_port(pods, target) is None:
                report.defect(
                    "reference",
                    f"{service.label} port {port.get('port')} targets port {target!r}, which "
                    f"no container of {', '.join(p[0].ref for p in pods)} names",
                )


def reach(index: Index, report: Report, url: str, consumer: str, from_namespace: str | None) -> Obj | None:
    """`consumer` calls `url`: it must name a Service port that leads to a declared container port."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        report.defect("reference", f"{consumer} uses {url!r}, which is not an http(s) URL")
        return None
    service = index.service_for_host(parts.hostname, from_namespace)
    if service is None:
        report.defect("reference", f"{consumer} calls {url}: no Service {parts.hostname} in the desired state")
        return None
    number = parts.port or (443 if parts.scheme == "https" else 80)
    port = next((p for p in service.spec.get("ports") or [] if p.get("port") == number), None)
    if port is None:
        served = sorted(p.get("port") for p in service.spec.get("ports") or [])
        report.defect("reference", f"{consumer} calls {url}, but {service.label} has no port {number} (ports {served})")
        return None
    target = port.get("targetPort", number)
    pods = index.pods_selected(service.spec.get("selector"), service.namespace)
    found = container_port(pods, target)
    if found is None:
        report.defect(
            "reference",
            f"{consumer} calls {url}: {service.label} port {number} targets {target!r}, which "
            f"no container of its pods ({', '.join(p[0].ref for p in pods) or 'none'}) declares",
        )
        return None
    report.resolved(
        f"{consumer} reaches {service.ref}:{number} -> {found[0].ref} container port {found[1].get('containerPort')}"
    )
    return service


def check_selectors(index: Index, report: Report) -> None:
    """PodDisruptionBudgets and HPAs point at pods and workloads that exist."""
    for pdb in index.of_kind("PodDisruptionBudget"):
        pods = index.pods_selected(pdb.spec.get("selector"), pdb.namespace)
        if pods:
            report.resolved(f"{pdb.ref} covers {', '.join(p[0].ref for p in pods)}")
        else:
            report.defect(
                "reference",
                f"{pdb.label} selects {pdb.spec.get('selector')}, which no pod template carries "
                f"({index.near_misses(pdb.spec.get('selector'), pdb.namespace)})",
            )
    for hpa in index.of_kind("HorizontalPodAutoscaler"):
        ref = hpa.spec.get("scaleTargetRef") or {}
        target = index.get(ref.get("kind", ""), hpa.namespace, ref.get("name", ""))
        if target is None:
            report.defect(
                "reference",
                f"{hpa.label} scales {ref.get('kind')} {hpa.namespace}/{ref.get('name')}, which nothing creates",
            )
        else:
            report.resolved(f"{hpa.ref} scales {target.ref}")
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for config in index.of_kind(kind):
            for hook in config.manifest.get("webhooks") or []:
                service = (hook.get("clientConfig") or {}).get("service")
                if not service:
                    continue
                target = index.get("Service", service.get("namespace"), service.get("name"))
                if target is None:
                    report.defect(
                        "reference",
                        f"{config.label} webhook {hook.get('name')} calls Service "
                        f"{service.get('namespace')}/{service.get('name')}, which nothing creates",
                    )
                elif service.get("port", 443) not in [p.get("port") for p in target.spec.get("ports") or []]:
                    report.defect(
                        "reference",
                        f"{config.label} webhook {hook.get('name')} calls port "
                        f"{service.get('port', 443)} of {target.label}, which it does not serve",
                    )
                else:
                    report.resolved(f"{config.ref} webhook {hook.get('name')} calls {target.ref}")
