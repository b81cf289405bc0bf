"""What a plan writes to disk: `plan.json` and one YAML manifest per Kubernetes object and Helm release."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from delivery.plan import engine


def _manifest_path(resource: dict) -> Path | None:
    inputs = resource["inputs"]
    if resource["type"] == "kubernetes:helm.sh/v3:Release":
        return Path("helm") / f"{inputs.get('namespace', 'default')}-{inputs.get('name', resource['name'])}.yaml"
    if resource["type"].startswith("kubernetes:") and "kind" in inputs and not resource.get("read"):
        meta = inputs.get("metadata") or {}
        namespace = meta.get("namespace", "_cluster")
        return Path(namespace) / f"{inputs['kind'].lower()}-{meta.get('name', resource['name'])}.yaml"
    return None


def manifest(resource: dict) -> dict:
    """A Kubernetes object as it would be applied, or a Helm release's chart and values."""
    inputs = resource["inputs"]
    if resource["type"] == "kubernetes:helm.sh/v3:Release":
        repo = (inputs.get("repositoryOpts") or {}).get("repo")
        return {
            "release": inputs.get("name"),
            "namespace": inputs.get("namespace"),
            "chart": inputs.get("chart"),
            "version": inputs.get("version"),
            "repository": repo,
            "values": inputs.get("values", {}),
        }
    first = ("apiVersion", "kind", "metadata")
    return {**{k: inputs[k] for k in first if k in inputs}, **{k: v for k, v in inputs.items() if k not in first}}


def write_outputs(plan: engine.Plan, out_dir: Path) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "manifests").mkdir(parents=True)
    (out_dir / "plan.json").write_text(json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n")
    for resource in plan.resources:
        rel = _manifest_path(resource)
        if rel is None:
            continue
        path = out_dir / "manifests" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(manifest(resource), sort_keys=False, default_flow_style=False))
