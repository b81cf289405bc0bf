"""Shift traffic of a weighted app to its canary: weights become 100-N (GA) and N (canary).

    python -m delivery promote --stack dev podinfo --canary 60
    python -m delivery promote --stack dev podinfo --step          # + delivery.maxWeightStep, at most 100
    python -m delivery promote --stack dev podinfo --step --prometheus http://localhost:9090

With --prometheus, a weight that rises must first get the judge's `pass` (`gate`, on counts over
--window); on `fail` or `inconclusive` the file is left untouched (exit 1).
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
        "--step", action="store_true", help="raise the canary weight by delivery.maxWeightStep, capped at 100"
    )
    parser.add_argument("--prometheus", metavar="URL", help="run the promotion gate against this Prometheus first")
    parser.add_argument("--window", default="5m", help="gate window, a Prometheus duration (default: 5m)")


def run(args: argparse.Namespace) -> ExitStatus:
    path = stack.stack_path(args.stack, args.project_dir)
    settings = stack.load_settings(path)
    current = settings.apps.get(args.app)
    if current is None:
        raise UsageError(f"no app {args.app!r} in {path.name}; apps: {', '.join(settings.apps) or 'none'}")
    if not isinstance(current, WeightedApp):
        raise UsageError(
            f"apps.{args.app} has strategy {current.strategy!r}: Flagger shifts its traffic itself; "
            "promote applies to weighted apps only"
        )

    step = settings.delivery.max_weight_step
    old = current.weights.canary
    new = min(100, old + step) if args.step else args.canary
    if new - old > step:
        print(
            f"warning: the canary weight rises by {new - old}, more than delivery.maxWeightStep {step}: "
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
                f"error: the promotion gate failed: apps.{args.app} stays at canary {old}; {path.name} untouched",
                file=sys.stderr,
            )
            return ExitStatus.FAILED
    elif args.prometheus:
        print(f"promotion gate skipped: the canary weight does not rise ({old} -> {new})")

    return common.apply(args, lambda config: steps.set_canary(config, args.app, new))
