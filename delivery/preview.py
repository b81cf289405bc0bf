"""Offline preview: run the real program under mocks, print the resource tree like `pulumi
preview`, run the policy pack, and write `build/preview/<stack>/plan.json` and `manifests/`.

Exit codes: 0 ok, 1 a mandatory policy violation, 2 invalid config (no resource registered).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import yaml

from delivery import engine
from delivery.errors import EXIT_FAILED, EXIT_OK, fail

HELP = "render a stack offline: resource tree, policies, plan.json and manifests"
BUILD_DIR = engine.PROJECT_DIR / "build" / "preview"


def short_type(type_: str) -> str:
    """`gcp:compute/network:Network` -> `gcp:compute:Network`, as `pulumi preview` shows it: the
    module's last segment is dropped when it only repeats the type name (`core/v1` stays)."""
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        module, last = parts[1].rsplit("/", 1)
        if last == parts[2][:1].lower() + parts[2][1:]:
            parts[1] = module
    return ":".join(parts)


def tree_lines(plan: engine.Plan) -> list[str]:
    children: dict[str | None, list[dict]] = {}
    for r in plan.resources:
        children.setdefault(r.get("parent"), []).append(r)
    width = max((len(short_type(r["type"])) for r in plan.resources), default=20) + 8
    lines = [f"     {'Type':<{width}} Name"]

    def walk(resource: dict, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        label = prefix + branch + short_type(resource["type"])
        marker = " >-" if resource.get("read") else " + "
        lines.append(f"{marker}  {label:<{width}} {resource['name']}")
        kids = children.get(resource["urn"], [])
        for i, kid in enumerate(kids):
            walk(kid, prefix + ("" if root else ("   " if last else "│  ")), i == len(kids) - 1, False)

    for top in children.get(None, []):
        walk(top, "", True, True)
    return lines


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
        return {"release": inputs.get("name"), "namespace": inputs.get("namespace"), "chart": inputs.get("chart"),
                "version": inputs.get("version"), "repository": repo, "values": inputs.get("values", {})}
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


def add_arguments(parser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--stack-dir", type=Path, default=None, metavar="DIR",
                        help="directory holding Pulumi.<stack>.yaml (default: the project's, or its stackConfigDir)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: build/preview/<stack>)")
    parser.add_argument("--quiet", action="store_true", help="do not print the resource tree")


def run(args) -> int:
    from components.settings import ConfigError
    from delivery import policy

    try:
        plan = engine.render(args.stack, stack_dir=args.stack_dir)
    except engine.StackFileError as exc:
        return fail(str(exc))
    except ConfigError as exc:
        return fail(f"Pulumi.{args.stack}.yaml: {exc}")

    plan.violations = policy.evaluate(plan.to_json())
    out_dir = args.out or BUILD_DIR / args.stack
    write_outputs(plan, out_dir)

    if not args.quiet:
        print(f"Previewing update ({plan.stack}) offline, under mocks:\n")
        print("\n".join(tree_lines(plan)))
        print("\nOutputs:")
        for name, value in plan.outputs.items():
            print(f"    {name:<20}: {json.dumps(value)}")
    print(f"\nResources: + {sum(1 for r in plan.resources if not r.get('read'))} to create")
    if plan.violations:
        print("\nPolicy violations:")
        policy.print_violations(plan.violations)
    print(f"\nWrote {out_dir}/plan.json and {out_dir}/manifests/")
    if policy.has_mandatory(plan.violations):
        print("error: mandatory policy violations: the update would be blocked", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
