"""Promotion gate: is a weighted app's canary worse than GA? (delivery/release/gate.py, judge.py)

Counts since the app's release step began (from git, --base; or over --window), the judge's
test statistics and bounds, and its verdict: pass, fail or inconclusive.

Exit codes: 0 pass, 1 fail or inconclusive (do not promote), 2 bad input (stack, app, window),
3 Prometheus could not be queried or git could not be read.
"""

from __future__ import annotations

import argparse
import time

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import gate, step_history

HELP = "judge a weighted app's canary against GA from Prometheus counts (exit 1 = do not promote)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser)
    parser.add_argument("app", metavar="APP", help="a weighted app of the stack (apps.<APP>.strategy: weighted)")
    parser.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="Prometheus base URL, e.g. http://127.0.0.1:9090 (kubectl -n monitoring port-forward "
        "svc/prometheus-server 9090:80)",
    )
    parser.add_argument(
        "--window",
        help="count over this Prometheus duration instead of since the step began (default: since the "
        "base-branch commit that last changed the app's canary weight or tag)",
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help=f"the base branch whose history times the step (default: {step_history.DEFAULT_BASE}, else HEAD)",
    )
    common.add_json(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    path = stack.stack_path(args.stack, args.project_dir)
    settings = stack.load_settings(path)
    gate.weighted_app(settings, args.app)
    previous = None
    if args.window is not None:
        window = gate.check_window(args.window)
    else:
        window, previous = gate.since_step(
            args.project_dir, args.base, stack.relative_path(path, args.project_dir), args.app, time.time()
        )
    result = gate.evaluate(settings, args.app, args.prometheus, window, previous)
    if args.json:
        common.print_json("gate", 1, gate.to_json(result))
    else:
        print(result.report)
    return ExitStatus.OK if result.passed else ExitStatus.FAILED
