"""Every Kubernetes object the program renders is valid for the API server that will receive it.

Built-in kinds: kubernetes-validate's strict schemas for Kubernetes 1.33 (unknown fields fail).
Istio and Flagger kinds: the openAPIV3Schema of their CRDs, upstream copies in ../shared/reference,
with unknown fields rejected as the API server's strict field validation does.
"""

from __future__ import annotations

import copy
from functools import cache

import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import reference_file

from delivery.plan import engine

KUBERNETES_VERSION = "1.33"
CRD_FILES = {
    "networking.istio.io": "istio/1.30.3/crd-all.gen.yaml",
    "security.istio.io": "istio/1.30.3/crd-all.gen.yaml",
    "telemetry.istio.io": "istio/1.30.3/crd-all.gen.yaml",
    "flagger.app": "flagger/crd.yaml",
}


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _builtin(api_version: str) -> bool:
    group = _group(api_version)
    return "." not in group or group.endswith(".k8s.io")


def _objects(plan) -> list[dict]:
    return [
        r
        for r in plan.resources
        if r["type"].startswith("kubernetes:")
        and not r.get("read")
        and "kind" in r["inputs"]
        and r["type"] != "kubernetes:helm.sh/v3:Release"
    ]


def _manifest(resource: dict) -> dict:
    """The object as applied: Pulumi names it after the resource when metadata.name is not set."""
    obj = copy.deepcopy(resource["inputs"])
    obj.setdefault("metadata", {}).setdefault("name", resource["name"])
    if obj["kind"] == "Secret":
        # A secret map is redacted whole in the plan; its real value is a map of strings.
        for key in ("data", "stringData"):
            if obj.get(key) == engine.SECRET:
                obj[key] = {"redacted": engine.SECRET}
    return obj


def _strict(schema: dict) -> dict:
    """Reject unknown fields wherever the schema lists the allowed ones (the API server prunes or refuses them)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(s) for s in schema]
    return schema


@cache
def _crd_schemas(relative: str) -> dict[tuple[str, str, str], dict]:
    path = reference_file(relative)
    schemas = {}
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        for version in doc["spec"]["versions"]:
            if version.get("served"):
                key = (doc["spec"]["group"], version["name"], doc["spec"]["names"]["kind"])
                schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def _crd_schema(obj: dict) -> dict:
    group, version = obj["apiVersion"].split("/")
    schemas = _crd_schemas(CRD_FILES[group])
    key = (group, version, obj["kind"])
    assert key in schemas, f"{obj['apiVersion']} {obj['kind']} is not served by the CRDs in {CRD_FILES[group]}"
    top = schemas[key]
    # apiVersion, kind and metadata are the API server's; the CRD schema governs the rest.
    return {**top, "properties": {name: _strict(s) for name, s in top["properties"].items()}}


@pytest.fixture(scope="module")
def plans(dev_plan, local_plan):
    return {"dev": dev_plan, "local": local_plan}


def test_kubernetes_validate_has_schemas_of_the_target_version():
    # Otherwise it silently falls back to the closest older version it ships.
    shipped = {kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()}
    assert kubernetes_validate.utils.major_minor(KUBERNETES_VERSION) in shipped


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_builtin_objects_pass_strict_kubernetes_schemas(plans, stack):
    objects = [r for r in _objects(plans[stack]) if _builtin(r["inputs"]["apiVersion"])]
    assert {r["inputs"]["kind"] for r in objects} >= {"Namespace", "Deployment", "Service", "HorizontalPodAutoscaler"}
    errors = []
    for resource in objects:
        try:
            kubernetes_validate.validate(_manifest(resource), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{resource['inputs']['kind']} {resource['name']}: {exc.message} at {list(exc.path)}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_istio_and_flagger_objects_match_their_crd_schemas(plans, stack):
    objects = [r for r in _objects(plans[stack]) if _group(r["inputs"]["apiVersion"]) in CRD_FILES]
    assert {r["inputs"]["kind"] for r in objects} >= {"VirtualService", "DestinationRule", "Canary"}
    errors = []
    for resource in objects:
        obj = _manifest(resource)
        for error in jsonschema.Draft7Validator(_crd_schema(obj)).iter_errors(obj):
            errors.append(f"{obj['kind']} {resource['name']}: {error.message} at {list(error.absolute_path)}")
    assert not errors, "\n".join(errors)


def test_crd_check_rejects_an_unknown_field():
    obj = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "x"},
        "spec": {"hosts": ["x"], "http": [{"route": [{"destination": {"name": "x"}}]}]},
    }
    messages = [e.message for e in jsonschema.Draft7Validator(_crd_schema(obj)).iter_errors(obj)]
    # The seeds' v1alpha3 `destination.name`: unknown today, and `host` is required.
    assert any("'name' was unexpected" in m for m in messages)
    assert any("'host' is a required property" in m for m in messages)
