"""Shift traffic of a weighted app to its canary: weights become 100-N (GA) and N (canary).

    python -m delivery promote --stack dev podinfo --canary 60
    python -m delivery promote --stack dev podinfo --step          # the next of delivery.steps
    python -m delivery promote --stack dev podinfo --step --prometheus http://localhost:9090

--step moves to the next step as autopilot and `check` define it: the smallest of delivery.steps
above the current weight, at most delivery.maxWeightStep above it (delivery/release/steps.py).
With --prometheus, a weight that rises must first get the judge's `pass` (`gate`, on counts over
--window); on `fail` or `inconclusive` the file is left untouched (exit 1).
The edit is made to the bytes the decision was taken on: a file changed meanwhile (a rollback
merged while Prometheus answered) is refused, exit 2, nothing written.
Flagger apps (strategy canary/ab) shift their own traffic: promote refuses them.
"""

from __future__ import annotations

import argparse
import sys

from delivery import stack
from delivery.commands import common
from delivery.errors import DeliveryError, ExitStatus, UsageError
from delivery.release import gate, steps
from model.settings import WeightedApp

HELP = "raise (or set) a weighted app's canary weight, optionally behind the promotion gate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument("app", metavar="APP", help="a weighted app of the stack (apps.<APP>)")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--canary", type=common.weight, metavar="N", help="set the canary weight to N (0..100), GA to 100-N"
    )
    how.add_argument(
        "--step",
        action="store_true",
        help="raise the canary weight to the next of delivery.steps (at most +delivery.maxWeightStep)",
    )
    parser.add_argument("--prometheus", metavar="URL", help="run the promotion gate against this Prometheus first")
    parser.add_argument("--window", default="5m", help="gate window, a Prometheus duration (default: 5m)")


def run(args: argparse.Namespace) -> ExitStatus:
    path = stack.stack_path(args.stack, args.project_dir)
    read = stack.read_bytes(path)  # the bytes this decision is taken on, and the edit applies to
    settings = stack.parse_settings(stack.config_from_bytes(read, path.name), path.name)
    current = settings.apps.get(args.app)
    if current is None:
        raise UsageError(f"no app {args.app!r} in {path.name}; apps: {', '.join(settings.apps) or 'none'}")
    if not isinstance(current, WeightedApp):
        raise UsageError(
            f"apps.{args.app} has strategy {current.strategy!r}: Flagger shifts its traffic itself; "
            "promote applies to weighted apps only"
        )

    old = current.weights.canary
    limit = steps.next_step(settings.delivery, old)
    new = limit if args.step else args.canary
    if new > limit:
        print(
            f"warning: canary {old} -> {new} goes past the next step {limit} (delivery.steps "
            f"{list(settings.delivery.steps)}, delivery.maxWeightStep {settings.delivery.max_weight_step}): "
            "the pull-request check will fail (use --step)",
            file=sys.stderr,
        )

    if args.prometheus and new > old:
        try:
            result = gate.evaluate(settings, args.app, args.prometheus, args.window)
        except DeliveryError as exc:
            # Bad window: exit 2; Prometheus unreachable: exit 3. Either way the file is untouched.
            raise type(exc)(f"promotion gate: {exc}") from None
        print(result.report)
        if not result.passed:
            print(
                f"error: the judge's verdict is {result.verdict} (only pass promotes): apps.{args.app} stays at "
                f"canary {old}; {path.name} untouched",
                file=sys.stderr,
            )
            return ExitStatus.FAILED
    elif args.prometheus:
        print(f"promotion gate skipped: the canary weight does not rise ({old} -> {new})")

    return common.apply(args, lambda config: steps.set_canary(config, args.app, new), expected=read)
