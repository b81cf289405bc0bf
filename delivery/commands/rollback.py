"""Send all of a weighted app's traffic back to GA: GA 100 / canary 0.

    python -m delivery rollback --stack dev podinfo

The canary Deployment keeps running (at weight 0) so it can be inspected; its tag is unchanged.
A `git revert` of the promoting commit does the same thing through the same PR pipeline.
"""

from __future__ import annotations

import argparse

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus
from model import weights

HELP = "set a weighted app's canary weight to 0 (all traffic to GA)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument("app", metavar="APP", help="a weighted app of the stack (apps.<APP>)")


def run(args: argparse.Namespace) -> ExitStatus:
    def mutate(config: CommentedMap) -> list[str]:
        app = stack.require_weighted(config, args.app, "rollback")
        old = stack.sub_mapping(app, "weights", f"apps.{args.app}")
        before = (old.get("ga"), old.get("canary"))
        stack.set_weights(app, args.app, 0)
        return [f"apps.{args.app}.weights: {weights.shift(before, (100, 0))}"]

    return common.apply(args, mutate)
