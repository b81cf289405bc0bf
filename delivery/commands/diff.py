"""Plan diff of a stack between a git ref and the work tree, in Markdown for a PR comment.

The stack file `Pulumi.<stack>.yaml` is read twice: as of `--base` (`git show REF:...`)
and as it is in the work tree. Both configs are rendered offline with the program code
of the WORK TREE, so the diff shows what the config edit does, not what code edits do.
It lists the resources added, removed and changed, and for each change the input paths
with old -> new values. Secrets are never printed: plans carry them as "[secret]".
"""

from __future__ import annotations

import argparse

from delivery import stack
from delivery.errors import ExitStatus, UsageError
from delivery.plan import engine
from delivery.plan.diff import compare
from delivery.plan.markdown import to_markdown
from model.settings import ConfigError

HELP = "plan diff of a stack between a git ref and the work tree (Markdown)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: diffs Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument(
        "--base",
        default="HEAD",
        help="git ref for the old side (default: HEAD). Only the stack file is taken from it: "
        "both sides run the program code of the work tree",
    )


def run(args: argparse.Namespace) -> ExitStatus:
    filename = f"Pulumi.{args.stack}.yaml"
    stack_dir = stack.stack_config_dir(engine.PROJECT_DIR)
    new_config = stack.load_config(args.stack, stack_dir)
    old_config = stack.config_at(stack_dir, args.base, filename)
    if old_config is None:
        raise UsageError(f"{filename} does not exist at {args.base!r}: the stack is new, nothing to diff against")
    plans = []
    for side, config in ((f"{filename} at {args.base}", old_config), (filename, new_config)):
        try:
            plans.append(engine.render(args.stack, config))
        except ConfigError as exc:
            raise UsageError(f"{side}: {exc}") from None
    print(to_markdown(compare(*plans), args.stack, args.base), end="")
    return ExitStatus.OK
