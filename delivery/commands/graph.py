"""The plan's dependency graph: what waits for what, with the components as clusters.

    istio-canary graph                          # Mermaid, for a PR description or the README
    istio-canary graph --format dot             # Graphviz dot
    istio-canary graph --output plan.svg        # rendered by Graphviz `dot` (apt-get install graphviz)

The plan is rendered offline (as `preview` does, under mocks) from Pulumi.<stack>.yaml. An edge
A --> B means A waits for B: a dependency (solid) or its provider (dotted).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from delivery import progress
from delivery.commands import common
from delivery.errors import ExitStatus, UsageError
from delivery.plan.graph import to_dot, to_mermaid
from model.settings import ConfigError

HELP = "the plan's dependency graph as Mermaid (default) or Graphviz dot, or rendered to SVG"
INSTALL = "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser)
    common.add_stack_dir(parser)
    parser.add_argument(
        "--format", choices=("mermaid", "dot"), default="mermaid", help="text format (default: mermaid)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write to FILE instead of stdout; FILE.svg is rendered with Graphviz `dot`",
    )


def run(args: argparse.Namespace) -> ExitStatus:
    from delivery.plan import engine  # loads Pulumi: not for `--help`

    svg = args.output is not None and args.output.suffix.lower() == ".svg"
    dot = shutil.which("dot")
    if svg and dot is None:
        raise UsageError(
            f"--output {args.output}: rendering SVG needs Graphviz's `dot`, which is not installed: {INSTALL}"
        )
    try:
        with progress.step(f"graph {args.stack}: render the plan offline") as step:
            plan = engine.render(args.stack, project_dir=Path(args.project_dir), stack_dir=args.stack_dir).to_json()
            step.result = f"{len(plan['resources'])} resources"
    except ConfigError as exc:
        raise UsageError(f"Pulumi.{args.stack}.yaml: {exc}") from None
    if svg:
        assert dot is not None
        done = subprocess.run(
            [dot, "-Tsvg", "-o", str(args.output)], input=to_dot(plan), text=True, capture_output=True
        )
        if done.returncode:
            raise UsageError(f"--output {args.output}: dot failed: {done.stderr.strip()}")
        print(f"wrote {args.output}")
        return ExitStatus.OK
    text = to_dot(plan) if args.format == "dot" else to_mermaid(plan)
    if args.output is not None:
        args.output.write_text(text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return ExitStatus.OK
