"""The desired cluster state: every object the program creates plus every object a release
renders, each knowing where it comes from (a program resource or a release) so a defect can
name both ends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from delivery.plan import engine
from delivery.plan.render import BUILTIN_NAMESPACES, RELEASE_TYPE, Release, Rendered

# Built-in kinds that are not namespaced (everything else built in is).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "APIService",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "CertificateSigningRequest",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "VolumeAttributesClass",
        "DeviceClass",
    }
)


@dataclass
class Defect:
    check: str
    message: str


@dataclass
class Report:
    validated: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    # References to objects the program does not create by design (a team's Secrets, an existing
    # namespace): listed for a reviewer, not defects.
    external: list[str] = field(default_factory=list)

    def defect(self, check: str, message: str) -> None:
        self.defects.append(Defect(check, message))

    def resolved(self, message: str) -> None:
        self.references.append(message)

    def to_json(self) -> dict:
        return {
            "validated": self.validated,
            "references": self.references,
            "orderingEdges": self.edges,
            "external": self.external,
            "defects": [{"check": d.check, "message": d.message} for d in self.defects],
        }


@dataclass
class Obj:
    manifest: dict
    namespace: str | None  # None: cluster-scoped
    source_urn: str  # the program resource, or the release that renders it
    release: Release | None = None
    program_name: str | None = None
    # A Patch resource: it labels an object that exists already instead of creating one.
    patch: bool = False

    @property
    def api_version(self) -> str:
        return str(self.manifest.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.manifest.get("metadata") or {}).get("name", ""))

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        group = self.api_version.rsplit("/", 1)[0] if "/" in self.api_version else ""
        return (group, self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def origin(self) -> str:
        return self.release.label if self.release else f"program resource {self.program_name!r}"

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.origin})"

    @property
    def labels(self) -> dict:
        return (self.manifest.get("metadata") or {}).get("labels") or {}

    @property
    def spec(self) -> dict:
        spec = self.manifest.get("spec")
        return spec if isinstance(spec, dict) else {}


def program_manifest(resource: dict) -> dict:
    """A program object as applied: Pulumi names it after the resource when metadata.name is unset;
    a Secret's redacted map gets its key names back (values stay "[secret]")."""
    obj = copy.deepcopy(resource["inputs"])
    obj.setdefault("metadata", {}).setdefault("name", resource["name"])
    for prop, keys in (resource.get("secretKeys") or {}).items():
        if obj.get(prop) == engine.SECRET:
            obj[prop] = {key: engine.SECRET for key in keys}
    return obj


def is_program_object(resource: dict) -> bool:
    return (
        resource["type"].startswith("kubernetes:")
        and resource["type"] != RELEASE_TYPE
        and not resource.get("read")
        and "kind" in resource["inputs"]
    )


def collect(
    resources: list[dict], rendered: Iterable[Rendered], namespaced_crd: Callable[[str, str], bool | None]
) -> list[Obj]:
    """Every object of the desired state. `namespaced_crd(api_version, kind)` answers for custom kinds."""

    def namespace_of(manifest: dict, default: str) -> str | None:
        kind, api_version = manifest.get("kind", ""), manifest.get("apiVersion", "")
        scoped = namespaced_crd(api_version, kind)
        if scoped is False or (scoped is None and kind in CLUSTER_SCOPED):
            return None
        return (manifest.get("metadata") or {}).get("namespace") or default

    objects = []
    for resource in resources:
        if is_program_object(resource):
            manifest = program_manifest(resource)
            # The provider applies an object without a namespace to "default".
            objects.append(
                Obj(
                    manifest,
                    namespace_of(manifest, "default"),
                    resource["urn"],
                    program_name=resource["name"],
                    patch=resource["type"].endswith("Patch"),
                )
            )
    for item in rendered:
        for manifest in item.objects:
            manifest = {**manifest, "metadata": dict(manifest.get("metadata") or {})}
            objects.append(
                Obj(manifest, namespace_of(manifest, item.release.namespace), item.release.urn, release=item.release)
            )
    return objects


def check_unique(objects: list[Obj], report: Report) -> None:
    """Each object is created once: two owners (two releases, or a release and the program)
    fight over it, and the second install fails on an object it does not own."""
    seen: dict[tuple, Obj] = {}
    for obj in objects:
        first = seen.setdefault(obj.key, obj)
        if first is not obj:
            report.defect("unique", f"{obj.ref} is created twice: by {first.origin} and by {obj.origin}")


def check_namespaces_exist(objects: list[Obj], report: Report) -> None:
    created = {o.name for o in objects if o.kind == "Namespace" and o.namespace is None}
    for patched in (o for o in objects if o.kind == "Namespace" and o.patch):
        report.external.append(f"Namespace {patched.name} exists already ({patched.origin} labels it)")
    for obj in objects:
        if obj.namespace and obj.namespace not in created and obj.namespace not in BUILTIN_NAMESPACES:
            report.defect("reference", f"{obj.label} is in namespace {obj.namespace!r}, which nothing creates")
