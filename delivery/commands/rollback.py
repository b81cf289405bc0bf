"""Send all of a weighted app's traffic back to GA: canary weight 0, GA 100.

    python -m delivery rollback --stack dev podinfo

The canary Deployment keeps running (at weight 0) so it can be inspected; its tag is unchanged.
A `git revert` of the promoting commit does the same thing through the same PR pipeline.
"""

from __future__ import annotations

import argparse

from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import steps

HELP = "set a weighted app's canary weight to 0 (all traffic to GA)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument("app", metavar="APP", help="a weighted app of the stack (apps.<APP>)")


def run(args: argparse.Namespace) -> ExitStatus:
    return common.apply(args, lambda config: steps.rollback(config, args.app))
