"""Decide, per weighted app, the next release step from Git history and the promotion gate.

    python -m delivery autopilot --stack dev --prometheus http://127.0.0.1:9090
    python -m delivery autopilot --stack dev --prometheus http://127.0.0.1:9090 --write --json

One action per weighted app, with its evidence: hold, promote (to the next of delivery.steps),
finalize, rollback, none (nothing in flight) or skip (paused by `autopilot: false`). The bake
time of a step runs from the base-branch commit that last changed the app's canary weight or
canary tag (--base, default origin/main, else HEAD); the gate uses the same queries and
thresholds as `gate`. See the README's "Autopilot" section for the full table.

--write edits Pulumi.<stack>.yaml through the same editor as promote/rollback/finalize and
prints a pull-request title and Markdown body; --json prints one JSON document instead.

Exit codes: 0 decided, 2 bad input, 3 Prometheus unreachable or answering garbage (the apps
that needed it hold; nothing is promoted or rolled back on missing data).
"""

from __future__ import annotations

import json
import sys

from delivery import edit, engine, stackfile
from delivery.errors import EXIT_OK, UsageError, fail
from delivery.release import autopilot

HELP = "decide each weighted app's next step (hold/promote/finalize/rollback) and optionally write it"
EXIT_UNAVAILABLE = 3


def add_arguments(parser) -> None:
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    edit.add_project_dir(parser)
    parser.add_argument("--prometheus", metavar="URL",
                        help="Prometheus base URL for the gate, e.g. http://127.0.0.1:9090 (without it, "
                             "apps whose canary holds traffic hold)")
    parser.add_argument("--base", metavar="REF",
                        help=f"the base branch whose history times each step (default: {autopilot.DEFAULT_BASE}, "
                             "else HEAD)")
    parser.add_argument("--write", action="store_true",
                        help="edit the stack file and print a pull-request title and body")
    parser.add_argument("--json", action="store_true", help="print one JSON document (keys in the README)")


def run(args) -> int:
    try:
        decided = autopilot.decide(args.stack, args.project_dir, args.prometheus, args.base)
        written = autopilot.write(decided, args.project_dir)[0] if args.write and decided.edits else None
    except (UsageError, stackfile.EditError, engine.StackFileError) as exc:
        return fail(str(exc))
    code = EXIT_UNAVAILABLE if decided.metrics_unavailable else EXIT_OK
    pull_request = None
    if written is not None and written.changed:
        pull_request = {"title": autopilot.title(decided), "body": autopilot.body(decided),
                        "labels": autopilot.labels(decided),
                        "automerge": autopilot.AUTOMERGE_LABEL in autopilot.labels(decided)}
    if args.json:
        delivery = decided.settings.delivery
        print(json.dumps({
            "stack": decided.stack,
            "stack_file": decided.stack_file,
            "base": decided.base,
            "base_commit": decided.base_commit,
            "decided_at": int(decided.decided_at),
            "prometheus": autopilot.redact(decided.prometheus),
            "exit_code": code,
            "decisions": [autopilot.decision_json(d, delivery) for d in decided.decisions],
            "changed": pull_request is not None,
            "pull_request": pull_request,
        }, indent=2))
    else:
        _print(decided, pull_request)
    if code == EXIT_UNAVAILABLE:
        print("error: Prometheus could not be queried: the apps that needed it hold", file=sys.stderr)
    return code


def _print(decided: autopilot.Run, pull_request: dict | None) -> None:
    print(f"autopilot {decided.stack_file}: base {decided.base} ({decided.base_commit[:12]}), "
          f"steps {list(decided.settings.delivery.steps)}, bake time {decided.settings.delivery.bake_time}")
    if not decided.decisions:
        print("  no weighted apps")
    for d in decided.decisions:
        weight = f"canary {d.canary_from}" + (f" -> {d.canary_to}" if d.canary_to != d.canary_from else "")
        print(f"  {d.app:<20} {d.action:<9} {weight:<16} {d.reason}")
        if d.gate is not None:
            print("    " + d.gate.report.replace("\n", "\n    "))
    if pull_request is not None:
        print(f"\nwrote {decided.stack_file}\n\nPR title: {pull_request['title']}\n"
              f"PR labels: {', '.join(pull_request['labels'])}\n\n{pull_request['body']}", end="")
