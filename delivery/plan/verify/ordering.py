"""Apply order, proven from the plan's dependency edges.

The rule applied, as Pulumi schedules a `pulumi up`: a resource is created once every resource
in its `dependencies` is created (explicit `depends_on` plus resources whose outputs it reads),
so waiting is transitive along those edges. A `depends_on` on a component is expanded by the
SDK to the component's custom-resource descendants before it reaches the engine, which is what
the recorded dependencies hold (pulumi/pulumi#1743, #12462). The parent link is NOT a wait: a
component has no create step, and a child does not wait for its parent's other children nor for
its parent's dependencies (pulumi/pulumi#2295 proposed it and was closed). So `parent=self`
proves nothing here; only dependency edges count.

What must hold:
- every custom resource waits for the release that installs its CRD (else "no matches for kind");
- every namespaced object waits for its Namespace (program objects via their own edges, chart
  objects via their release's);
- every release waits for the program's Secrets, ConfigMaps, ServiceAccounts and PVCs its pods
  use (else its pods start without them and the install times out);
- every read (`Service.get`) waits for whoever creates the object read: by a dependency edge,
  or because its ID is computed from that resource's outputs (recorded as `idDependencies`).
"""

from __future__ import annotations

from delivery.plan.verify.references import Index
from delivery.plan.verify.schemas import CRDs
from delivery.plan.verify.state import Obj, Report


class Waits:
    """Transitive 'is created after' over the plan's dependency edges, and for a read the
    resources its ID is computed from (the SDK sends the read once that ID resolves)."""

    def __init__(self, resources: list[dict]):
        self.by_urn = {r["urn"]: r for r in resources}
        self._memo: dict[str, frozenset[str]] = {}

    def before(self, urn: str) -> frozenset[str]:
        if urn not in self._memo:
            self._memo[urn] = frozenset()  # a cycle is the engine's error, not a wait
            found: set[str] = set()
            resource = self.by_urn.get(urn) or {}
            for dep in [*(resource.get("dependencies") or []), *(resource.get("idDependencies") or [])]:
                found.add(dep)
                found |= self.before(dep)
            self._memo[urn] = frozenset(found)
        return self._memo[urn]

    def name(self, urn: str) -> str:
        resource = self.by_urn.get(urn)
        return f"{resource['type'].rsplit(':', 1)[-1]} {resource['name']!r}" if resource else urn


def _prove(
    waits: Waits,
    report: Report,
    consumer: str,
    consumer_label: str,
    needed: str,
    needed_label: str,
    why: str,
    seen: set[tuple[str, str]],
) -> None:
    if consumer == needed or (consumer, needed) in seen:
        return
    seen.add((consumer, needed))
    if needed in waits.before(consumer):
        report.edges.append(f"{waits.name(consumer)} waits for {waits.name(needed)} ({why})")
    else:
        report.defect(
            "order",
            f"{consumer_label} does not wait for {needed_label}: {why}, but no dependency "
            f"chain leads from {waits.name(consumer)} to {waits.name(needed)}",
        )


def check(resources: list[dict], objects: list[Obj], crds: CRDs, index: Index, report: Report) -> None:
    waits = Waits(resources)
    seen: set[tuple[str, str]] = set()
    namespaces = {o.name: o for o in objects if o.kind == "Namespace" and o.namespace is None}
    for obj in objects:
        who = obj.source_urn
        crd = crds.kinds.get((obj.api_version, obj.kind))
        if crd is not None:
            _prove(
                waits,
                report,
                who,
                obj.label,
                crd.source_urn,
                crd.label,
                f"{obj.kind} is a kind defined by {crd.origin}",
                seen,
            )
        if obj.namespace in namespaces:
            ns = namespaces[obj.namespace]
            _prove(
                waits,
                report,
                who,
                obj.label,
                ns.source_urn,
                ns.label,
                f"it is created in namespace {obj.namespace}",
                seen,
            )
    for consumer, needed, why in index.needs:
        _prove(waits, report, consumer.source_urn, consumer.label, needed.source_urn, needed.label, why, seen)
    for resource in resources:
        if not resource.get("read"):
            continue
        kind = resource["type"].rsplit(":", 1)[-1]
        read_namespace, _, name = str(resource.get("id", "")).rpartition("/")
        target = index.get(kind, read_namespace or None, name)
        label = f"read of {kind} {resource.get('id')} (program resource {resource['name']!r})"
        if target is None:
            report.defect("reference", f"{label}: nothing in the desired state creates it")
            continue
        report.resolved(f"{label} -> {target.label}")
        _prove(waits, report, resource["urn"], label, target.source_urn, target.label, "it reads that object", seen)
