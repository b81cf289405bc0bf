"""Make a fully promoted canary the new GA.

    python -m delivery finalize --stack dev podinfo

Only when the canary holds 100% of the traffic: GA takes the canary's tag and track, and the
weights return to GA 100 / canary 0, so the next release starts from a clean split. Replicas
stay as they are (GA keeps its capacity).
"""

from __future__ import annotations

import argparse

from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import steps

HELP = "when the canary holds 100: GA takes its tag and track, weights back to GA 100 / canary 0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument("app", metavar="APP", help="a weighted app of the stack (apps.<APP>)")


def run(args: argparse.Namespace) -> ExitStatus:
    return common.apply(args, lambda config: steps.finalize(config, args.app, args.stack))
