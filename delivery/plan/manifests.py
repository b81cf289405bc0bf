"""What a plan writes to disk: `plan.json` and one YAML manifest per Kubernetes object and Helm release."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import yaml

from delivery.errors import UsageError
from delivery.plan import engine
from delivery.stack.writing import os_error

# Lists, in the output directory, the files a preview wrote there: the next preview removes
# those and only those. A directory without it is the user's: a preview never deletes from it.
MARKER = ".istio-canary-preview"


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


def _outputs(plan: engine.Plan) -> dict[str, str]:
    """Relative path -> text of everything a preview writes."""
    files = {"plan.json": json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n"}
    for resource in plan.resources:
        rel = _manifest_path(resource)
        if rel is not None:
            text = yaml.safe_dump(manifest(resource), sort_keys=False, default_flow_style=False)
            files[(Path("manifests") / rel).as_posix()] = text
    return files


def _owned(out_dir: Path) -> set[str]:
    """The files an earlier preview wrote into `out_dir`; refuses a directory that is not ours."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return set()
    if not out_dir.is_dir():
        raise UsageError(f"--out {out_dir}: exists and is not a directory")
    marker = out_dir / MARKER
    if marker.is_file() and not marker.is_symlink():
        try:
            listed = json.loads(marker.read_text())
        except (OSError, ValueError):
            listed = None
        if isinstance(listed, list) and all(isinstance(p, str) for p in listed):
            return {p for p in listed if _inside(p)}
        raise UsageError(f"--out {out_dir}: {MARKER} is not a list of files a preview wrote; remove the directory")
    names = {p.name for p in out_dir.iterdir()}
    if names and names <= {"plan.json", "manifests"} and _is_plan(out_dir / "plan.json"):
        # Written by a preview from before the marker existed: exactly our layout.
        return {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file() and not p.is_symlink()}
    if names:
        raise UsageError(
            f"--out {out_dir}: the directory is not empty and was not written by a preview (no {MARKER}); "
            "a preview never deletes files it did not write: give an empty or new directory "
            "(or delete this one yourself if an older istio-canary, which wrote no marker, made it)"
        )
    return set()


def _is_plan(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and {"project", "stack", "resources"} <= set(doc)


def _inside(rel: str) -> bool:
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts


def write_outputs(plan: engine.Plan, out_dir: Path) -> None:
    """Write plan.json and the manifests into `out_dir`, removing only what an earlier preview wrote."""
    write_owned(out_dir, _outputs(plan))


def write_owned(out_dir: Path, files: dict[str, str]) -> None:
    """Write `files` (relative path -> text) into `out_dir`, which must be new, empty or written
    by this tool before; removes only the files the tool wrote there last time."""
    try:
        owned = _owned(out_dir)
        for rel in files:
            path = out_dir / rel
            if rel not in owned and (path.exists() or path.is_symlink()):
                raise UsageError(f"--out {out_dir}: {rel} exists and was not written by a preview; nothing written")
        out_dir.mkdir(parents=True, exist_ok=True)
        # The marker first, listing old and new files: an interrupted preview stays cleanable.
        (out_dir / MARKER).write_text(json.dumps(sorted(owned | set(files)), indent=0) + "\n")
        for rel in sorted(owned - set(files)):
            path = out_dir / rel
            if path.is_file() or path.is_symlink():
                path.unlink()
            with contextlib.suppress(OSError):  # only an empty directory goes, and only ours
                for parent in Path(rel).parents:
                    if parent != Path("."):
                        (out_dir / parent).rmdir()
        for rel, text in files.items():
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                path.unlink()  # ours (listed): never write through a link
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        (out_dir / MARKER).write_text(json.dumps(sorted(files), indent=0) + "\n")
    except OSError as exc:
        raise os_error("write the preview to", out_dir, exc) from None
