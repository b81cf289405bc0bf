"""Verify the whole desired cluster state of a plan: the program's objects plus every object its
Helm releases render. Schemas (built-in and CRD), references, uniqueness and apply order.

`verify_plan(resources)` renders and checks; it raises `render.ChartUnavailable` when an archive
can be neither found nor pulled, and reports everything else wrong as defects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from delivery.plan import render
from delivery.plan.verify import mesh, ordering, references, schemas, state
from delivery.plan.verify.state import Obj, Report

__all__ = ["Result", "verify_plan", "Report", "Obj"]


@dataclass
class Result:
    report: Report
    rendered: list[render.Rendered] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)


def _crd_api_versions(item: render.Rendered) -> set[str]:
    entries = set()
    for manifest in item.objects:
        if manifest.get("kind") != "CustomResourceDefinition":
            continue
        spec = manifest.get("spec") or {}
        for version in spec.get("versions") or []:
            if version.get("served"):
                group_version = f"{spec.get('group')}/{version.get('name')}"
                entries.update({group_version, f"{group_version}/{(spec.get('names') or {}).get('kind')}"})
    return entries


def render_all(
    resources: list[dict],
    report: Report,
    kubernetes_version: str = render.KUBERNETES_VERSION,
    dirs: list[Path] | None = None,
    cache: Path | None = None,
) -> list[render.Rendered]:
    """Render each release against the built-in APIs plus the CRDs of the releases it waits for:
    what discovery will answer when Pulumi installs it."""
    builtin = schemas.served_api_versions(kubernetes_version)
    waits = ordering.Waits(resources)
    pending = render.releases({"resources": resources})
    done: dict[str, render.Rendered] = {}
    while pending:
        # Releases in dependency order; a cycle would be the engine's error: take the rest as they come.
        ready = [r for r in pending if not (waits.before(r.urn) & {p.urn for p in pending})] or pending[:1]
        for release in ready:
            pending.remove(release)
            archive = render.resolve_archive(release.chart, release.version, release.repo, dirs=dirs, cache=cache)
            extra = set().union(*(_crd_api_versions(done[u]) for u in waits.before(release.urn) if u in done))
            try:
                item = render.render_release(release, archive, sorted({*builtin, *extra}), kubernetes_version)
            except render.RenderError as exc:
                report.defect("render", str(exc))
                continue
            if not render.check_kube_version(item.kube_version_constraint, kubernetes_version):
                report.defect(
                    "render",
                    f"{release.label} requires Kubernetes {item.kube_version_constraint} "
                    f"(Chart.yaml kubeVersion); the target is {kubernetes_version}",
                )
            done[release.urn] = item
    return list(done.values())


def verify_plan(
    resources: list[dict],
    kubernetes_version: str = render.KUBERNETES_VERSION,
    dirs: list[Path] | None = None,
    cache: Path | None = None,
) -> Result:
    report = Report()
    rendered = render_all(resources, report, kubernetes_version, dirs, cache)
    # Custom kinds' scope comes from their CRDs: collect once to find the CRDs, then for real.
    crds = schemas.CRDs(state.collect(resources, rendered, lambda api_version, kind: None))
    objects = state.collect(resources, rendered, crds.namespaced)

    state.check_unique(objects, report)
    state.check_namespaces_exist(objects, report)
    schemas.check(objects, crds, kubernetes_version, report)
    index = references.Index(objects)
    references.check_pods(index, report)
    references.check_services(index, report)
    references.check_selectors(index, report)
    mesh.check_gateways(index, report)
    mesh.check_workload_selectors(index, report)
    mesh.check_routes(index, report)
    mesh.check_canaries(index, report)
    mesh.check_prometheus_consumers(index, report)
    ordering.check(resources, objects, crds, index, report)
    return Result(report, rendered, objects)
