"""Plan diff of a stack between a git ref and the work tree, in Markdown for a PR comment.

    istio-canary diff --stack dev --base origin/main           # Markdown on stdout
    istio-canary diff --stack dev --base origin/main --json    # one JSON document (keys: docs/reference/cli.md)

The stack file `Pulumi.<stack>.yaml` is read twice: as of `--base` (`git show REF:...`)
and as it is in the work tree. Both configs are rendered offline with the program code
of the WORK TREE, so the diff shows what the config edit does, not what code edits do. It
lists the traffic splits that change, the resources added, removed and changed, and for each
change the input paths with old -> new
values. Secrets are never printed: plans carry them as "[secret]". Progress goes to stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from delivery import progress, stack
from delivery.commands import common
from delivery.errors import ExitStatus, UsageError
from delivery.plan.diff import compare, traffic_changes
from delivery.plan.markdown import to_markdown
from model.settings import ConfigError

HELP = "plan diff of a stack between a git ref and the work tree (Markdown or --json)"
JSON_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, what="diffs")
    parser.add_argument(
        "--base",
        default="HEAD",
        help="git ref for the old side (default: HEAD). Only the stack file is taken from it: "
        "both sides run the program code of the work tree",
    )
    common.add_json(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    project_dir = Path(args.project_dir)
    filename = f"Pulumi.{args.stack}.yaml"
    stack_dir = stack.stack_config_dir(project_dir)
    new_config = stack.load_config(args.stack, stack_dir)
    old_config = stack.config_at(stack_dir, args.base, filename)
    if old_config is None:
        raise UsageError(f"{filename} does not exist at {args.base!r}: the stack is new, nothing to diff against")
    sides = (f"{filename} at {args.base}", filename)
    # Invalid config fails here, in a second, before any render starts.
    old_settings, new_settings = (
        stack.parse_settings(c, s) for c, s in zip((old_config, new_config), sides, strict=True)
    )
    # One process, one side after the other: imports cost ~80% of a render and cannot be shared
    # across processes, so two processes measured 1.5-3x slower (`make bench` prints the diff time).
    from delivery.plan import engine  # loads Pulumi: not for `--help`

    plans = []
    with progress.step(f"diff {args.stack}: render {args.base} and the work tree offline") as step:
        for side, config in zip(sides, (old_config, new_config), strict=True):
            try:
                plans.append(engine.render(args.stack, config, project_dir=project_dir))
            except ConfigError as exc:
                raise UsageError(f"{side}: {exc}") from None
        diff = compare(*plans)
        step.result = f"{len(diff.changed)} to change, {len(diff.added)} to add, {len(diff.removed)} to remove"
    traffic = traffic_changes(old_settings, new_settings)
    if args.json:
        body = {"stack": args.stack, "base": args.base, "traffic": [t.to_json() for t in traffic], **diff.to_json()}
        common.print_json("diff", JSON_VERSION, body)
    else:
        print(to_markdown(diff, args.stack, args.base, traffic), end="")
    return ExitStatus.OK
