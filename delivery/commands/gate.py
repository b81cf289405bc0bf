"""Promotion gate: is a weighted app's canary as healthy as its GA side? (delivery/release/gate.py)

Exit codes: 0 the canary passes, 1 it fails (or there is nothing to judge),
2 bad input (stack, app, window), 3 Prometheus could not be queried.
"""

from __future__ import annotations

import argparse

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import gate
from model import promql

HELP = "judge a weighted app's canary against GA from Prometheus metrics (exit 1 = do not promote)"


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
        "--window", default=promql.WINDOW, help=f"rate window as a Prometheus duration (default: {promql.WINDOW})"
    )


def run(args: argparse.Namespace) -> ExitStatus:
    settings = stack.load_settings(stack.stack_path(args.stack, args.project_dir))
    gate.weighted_app(settings, args.app)
    gate.check_window(args.window)
    result = gate.evaluate(settings, args.app, args.prometheus, args.window)
    print(result.report)
    return ExitStatus.OK if result.passed else ExitStatus.FAILED
