"""Where each release stands: per app its strategy, tags per side, traffic split and URL.

    istio-canary status                       # the dev stack
    istio-canary status --stack local
    istio-canary status --all                 # every Pulumi.<stack>.yaml of the project
    istio-canary status --json                # one JSON document (keys: docs/reference/cli.md)

The tags and weights come from the stack file (what Git says). The ingress address and app
URLs come from the stack's outputs: `pulumi stack output --json` when the Pulumi CLI is
installed and the stack is reachable, else the outputs of the last offline preview
(build/preview/<stack>/plan.json, mock values); the output says which.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus, UsageError
from delivery.release.status import AppStatus, StackStatus, status

HELP = "show per app: strategy, tags, traffic split and URL"
JSON_VERSION = 1

HEADER = ["APP", "STRATEGY", "NAMESPACE", "GA TAG (TRACK)", "CANARY TAG (TRACK)", "TRAFFIC", "URL"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser)
    parser.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml of the project (not --stack)")
    common.add_json(parser)


def _side(side: dict[str, str | None] | None) -> str:
    if side is None:
        return "(Flagger)"
    return f"{side['tag']} ({side['track']})" if side["track"] else str(side["tag"])


def row(app: AppStatus) -> list[str]:
    url = ", ".join(app.urls) or "- (in-mesh only)"
    return [app.name, app.strategy, app.namespace, _side(app.ga), _side(app.canary), app.traffic, url]


def table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [header, *body]
    )


def show(found: StackStatus) -> None:
    print(f"stack {found.stack} ({found.file})")
    print(f"outputs: {found.outputs_source}")
    if found.outputs_found:
        print(f"ingress: {found.ingress or 'not exported'}")
    print()
    print(table(HEADER, [row(a) for a in found.apps]) if found.apps else "no apps")


def to_json(found: StackStatus) -> dict:
    return {
        "stack": found.stack,
        "file": found.file,
        "outputsSource": found.outputs_source,
        "ingress": found.ingress,
        "apps": [asdict(a) for a in found.apps],
    }


def run(args: argparse.Namespace) -> ExitStatus:
    project_dir = Path(args.project_dir)
    stacks = stack.stack_names(project_dir) if args.all else [args.stack]
    if not stacks:
        raise UsageError(f"no Pulumi.<stack>.yaml in {project_dir.resolve()}")
    found = [status(name, project_dir) for name in stacks]
    if args.json:
        common.print_json("status", JSON_VERSION, {"stacks": [to_json(s) for s in found]})
        return ExitStatus.OK
    for i, one in enumerate(found):
        if i:
            print()
        show(one)
    return ExitStatus.OK
