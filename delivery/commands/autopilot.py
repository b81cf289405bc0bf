"""Decide, per weighted app, the next release step from Git history and the promotion gate.

    python -m delivery autopilot --stack dev --prometheus http://127.0.0.1:9090
    python -m delivery autopilot --stack dev --prometheus http://127.0.0.1:9090 --write --json

One action per weighted app, with its evidence: hold, promote (to the next of delivery.steps),
finalize, rollback, none (nothing in flight) or skip (paused by `autopilot: false`). The bake
time of a step runs from the base-branch commit that last changed the app's canary weight or
canary tag (--base, default origin/main, else HEAD); the gate uses the same counts and judge
as `gate` (delivery/release/judge.py). The full table: docs/releases/autopilot.md.

--write edits Pulumi.<stack>.yaml through the same editor as promote/rollback/finalize and
prints a pull-request title and Markdown body; --json prints one JSON document instead.

Exit codes: 0 decided, 2 bad input, 3 Prometheus unreachable or answering garbage (the apps
that needed it hold; nothing is promoted or rolled back on missing data).
"""

from __future__ import annotations

import argparse
from typing import Any

from delivery.commands import common
from delivery.errors import ExitStatus, UnavailableError
from delivery.release import autopilot, autopilot_report, step_history

HELP = "decide each weighted app's next step (hold/promote/finalize/rollback) and optionally write it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser)
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help="Prometheus base URL for the gate, e.g. http://127.0.0.1:9090 (without it, "
        "apps whose canary holds traffic hold)",
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help=f"the base branch whose history times each step (default: {step_history.DEFAULT_BASE}, else HEAD)",
    )
    parser.add_argument(
        "--write", action="store_true", help="edit the stack file and print a pull-request title and body"
    )
    common.add_json(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    decided = autopilot.decide(args.stack, args.project_dir, args.prometheus, args.base)
    written = autopilot.write(decided, args.project_dir)[0] if args.write and decided.edits else None
    status = ExitStatus.UNAVAILABLE if decided.metrics_unavailable else ExitStatus.OK
    pull = autopilot_report.pull_request(decided) if written is not None and written.changed else None
    if args.json:
        common.print_json("autopilot", 1, autopilot_report.document(decided, status, pull))
    else:
        _print(decided, pull)
    if status == ExitStatus.UNAVAILABLE:
        # Raised after the decisions are printed: CI reads them, __main__ turns this into exit 3.
        raise UnavailableError("Prometheus could not be queried: the apps that needed it hold")
    return status


def _print(decided: autopilot.Run, pull: dict[str, Any] | None) -> None:
    delivery = decided.settings.delivery
    print(
        f"autopilot {decided.stack_file}: base {decided.base} ({decided.base_commit[:12]}), "
        f"steps {list(delivery.steps)}, bake time {delivery.bake_time}"
    )
    if not decided.decisions:
        print("  no weighted apps")
    for d in decided.decisions:
        print(f"  {d.app:<20} {d.action:<9} {autopilot_report.traffic(d):<38} {d.reason}")
        if d.gate is not None:
            print("    " + d.gate.report.replace("\n", "\n    "))
    if pull is not None:
        print(
            f"\nwrote {decided.stack_file}\n\nPR title: {pull['title']}\n"
            f"PR labels: {', '.join(pull['labels'])}\n\n{pull['body']}",
            end="",
        )
