"""Schemas: built-in kinds by kubernetes-validate (strict) at the target version; custom
resources by the CRD that a release of the plan installs, with unknown fields rejected as the
API server's strict field validation does for a structural schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import jsonschema
from kubernetes_validate import utils as kv_utils

from delivery.plan.verify.state import Obj, Report


def is_builtin(api_version: str) -> bool:
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return "." not in group or group.endswith(".k8s.io")


def _schema_dir(kubernetes_version: str) -> str:
    shipped = {kv_utils.major_minor(v): v for v in kv_utils.all_versions()}
    minor = kv_utils.major_minor(kubernetes_version)
    if minor not in shipped:
        # kubernetes_validate.validate() would fall back to an older version without a word.
        raise LookupError(f"kubernetes-validate {kv_utils.__version__} ships no schemas for Kubernetes {minor}")
    return f"v{shipped[minor]}-local-strict"


@cache
def _definitions(kubernetes_version: str) -> dict:
    return kv_utils.schema_contents(
        f"kubernetes-json-schema/{_schema_dir(kubernetes_version)}/_definitions.json", kubernetes_version
    )


def builtin_definitions(kubernetes_version: str) -> dict[str, dict]:
    return _definitions(kubernetes_version)["$defs"]


@cache
def served_api_versions(kubernetes_version: str) -> tuple[str, ...]:
    """`group/version` and `group/version/Kind` for every GA API the target version serves.

    Taken from kubernetes-validate's OpenAPI definitions for that version. Alpha and beta
    versions are left out: since Kubernetes 1.24 new beta APIs are off by default (KEP-3136),
    and GKE does not enable alpha APIs on regular clusters. Helm offline knows group/versions
    only, so charts testing `.Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget"`
    need the Kind entries too.
    """
    entries: set[str] = set()
    for definition in builtin_definitions(kubernetes_version).values():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            version = gvk["version"]
            if not (version.startswith("v") and version[1:].isdigit()):
                continue
            group_version = f"{gvk['group']}/{version}" if gvk["group"] else version
            entries.update({group_version, f"{group_version}/{gvk['kind']}"})
    return tuple(sorted(entries))


@cache
def _builtin_validator(kubernetes_version: str, api_version: str, kind: str) -> jsonschema.Validator | None:
    """kubernetes-validate's strict schema for one kind, loaded once (its validate() reloads
    1.5 MB of definitions per object)."""
    from referencing import Registry, Resource

    slug = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(
            f"kubernetes-json-schema/{_schema_dir(kubernetes_version)}/{kind.lower()}-{slug}.json", kubernetes_version
        )
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(_definitions(kubernetes_version)) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


_DATA_KEYS = frozenset({"enum", "default", "example", "required", "x-kubernetes-list-map-keys"})


def _strict(schema: Any) -> Any:
    """Reject unknown fields wherever a structural schema lists the allowed ones."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: (v if k in _DATA_KEYS or k == "properties" else _strict(v)) for k, v in schema.items()}
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {name: _strict(s) for name, s in schema["properties"].items()}
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


class CRDs:
    """The custom resource kinds the desired state defines: (group, version, kind) -> schema."""

    def __init__(self, objects: Iterable[Obj]):
        self.kinds: dict[tuple[str, str], Obj] = {}  # (apiVersion, kind) -> the CRD object
        self.schemas: dict[tuple[str, str], dict] = {}
        self.scopes: dict[tuple[str, str], str] = {}
        self._validators: dict[tuple[str, str], jsonschema.Validator] = {}
        for obj in objects:
            if obj.kind != "CustomResourceDefinition" or not obj.api_version.startswith("apiextensions.k8s.io/"):
                continue
            spec = obj.manifest.get("spec") or {}
            for version in spec.get("versions") or []:
                if not version.get("served"):
                    continue
                key = (f"{spec.get('group')}/{version.get('name')}", str((spec.get("names") or {}).get("kind", "")))
                self.kinds[key] = obj
                self.scopes[key] = spec.get("scope", "Namespaced")
                self.schemas[key] = (version.get("schema") or {}).get("openAPIV3Schema") or {}

    def namespaced(self, api_version: str, kind: str) -> bool | None:
        scope = self.scopes.get((api_version, kind))
        return None if scope is None else scope == "Namespaced"

    def validator(self, api_version: str, kind: str) -> jsonschema.Validator:
        """One validator per kind (built on first use: many objects share a kind)."""
        if (api_version, kind) not in self._validators:
            self._validators[(api_version, kind)] = self._build_validator(api_version, kind)
        return self._validators[(api_version, kind)]

    def _build_validator(self, api_version: str, kind: str) -> jsonschema.Validator:
        top = self.schemas[(api_version, kind)]
        properties = {name: _strict(s) for name, s in (top.get("properties") or {}).items()}
        # apiVersion, kind and metadata belong to the API server, which checks them itself.
        properties.update(apiVersion={"type": "string"}, kind={"type": "string"}, metadata={"type": "object"})
        schema = {**top, "properties": properties}
        if not top.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        return jsonschema.Draft7Validator(schema)


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def check(objects: list[Obj], crds: CRDs, kubernetes_version: str, report: Report) -> None:
    for obj in objects:
        if is_builtin(obj.api_version) and (obj.api_version, obj.kind) not in crds.kinds:
            validator = _builtin_validator(kubernetes_version, obj.api_version, obj.kind)
            if validator is None:
                report.defect(
                    "schema",
                    f"{obj.label}: {obj.api_version} {obj.kind} is not served by Kubernetes {kubernetes_version}",
                )
                continue
            schema_source = f"Kubernetes {kubernetes_version}"
        elif (obj.api_version, obj.kind) in crds.kinds:
            validator = crds.validator(obj.api_version, obj.kind)
            schema_source = crds.kinds[(obj.api_version, obj.kind)].label
        else:
            report.defect(
                "schema",
                f"{obj.label}: no CustomResourceDefinition in the plan serves "
                f"{obj.api_version} {obj.kind} (no release installs it)",
            )
            continue
        errors = sorted(validator.iter_errors(obj.manifest), key=lambda e: list(e.absolute_path))
        for error in errors[:5]:
            report.defect("schema", f"{obj.label}: {error.message} at {_where(error)} (schema: {schema_source})")
        if not errors:
            report.validated.append(f"{obj.label} against {schema_source}")
