"""Offline preview: run the real program under mocks, print the resource tree like `pulumi
preview`, run the policy pack, and write `build/preview/<stack>/plan.json` and `manifests/`.

`--policy-config FILE` sets policies' enforcement levels as `pulumi preview --policy-pack-config
FILE` does (a teardown's `{"gke-deletion-protection": "advisory"}`).

Exit codes: 0 ok, 1 a mandatory policy violation, 2 invalid config or policy config (no resource
registered).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from delivery import progress
from delivery.commands import common
from delivery.errors import ExitStatus, UsageError
from model.settings import ConfigError

if TYPE_CHECKING:  # the plan modules load Pulumi: only `run` needs them, not `--help` or other commands
    from delivery.plan import engine

HELP = "render a stack offline: resource tree, policies, plan.json and manifests"


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser)
    common.add_stack_dir(parser)
    common.add_out_dir(parser)
    common.add_policy_config(parser)
    parser.add_argument("--quiet", action="store_true", help="do not print the resource tree")


def run(args: argparse.Namespace) -> ExitStatus:
    from delivery.plan import engine, policy_runner
    from delivery.plan.manifests import write_outputs

    project_dir = Path(args.project_dir)
    levels = common.policy_levels(args.policy_config)  # a bad file stops before the program runs
    try:
        with progress.step(f"preview {args.stack}: run the program offline, under mocks") as step:
            plan = engine.render(args.stack, project_dir=project_dir, stack_dir=args.stack_dir)
            step.result = f"{sum(1 for r in plan.resources if not r.get('read'))} resources to create"
    except ConfigError as exc:
        raise UsageError(f"Pulumi.{args.stack}.yaml: {exc}") from None

    plan.violations = policy_runner.evaluate(plan.to_json(), levels=levels)
    policies = policy_runner.summary(plan.violations, levels=levels)
    out_dir = args.out or project_dir / "build" / "preview" / args.stack
    write_outputs(plan, out_dir)

    if not args.quiet:
        print(f"Previewing update ({plan.stack}) offline, under mocks:\n")
        print("\n".join(tree_lines(plan)))
        print("\nOutputs:")
        for name, value in plan.outputs.items():
            print(f"    {name:<20}: {json.dumps(value)}")
    print(f"\nResources: + {sum(1 for r in plan.resources if not r.get('read'))} to create")
    print(policies)
    if plan.violations:
        print("\nPolicy violations:")
        common.print_violations(plan.violations)
    print(f"\nWrote {out_dir}/plan.json and {out_dir}/manifests/")
    if policy_runner.has_mandatory(plan.violations):
        print("error: mandatory policy violations: the update would be blocked", file=sys.stderr)
        return ExitStatus.FAILED
    return ExitStatus.OK
