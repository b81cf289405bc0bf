"""Pull-request checks of a stack file against its version at the base of the PR.

    istio-canary check --stack dev --base origin/main
    istio-canary check --stack dev --base origin/main --json   # one JSON document (keys in the README)

Fails (exit 1) when, between REF and the work tree:
- a weighted app's canary weight rises by more than `delivery.maxWeightStep` (the base's value:
  a PR cannot raise the limit and use it at once);
- a tag is outside its side's `track`;
- a weighted app's GA tag changes while its canary holds traffic (at the base or after the PR),
  which would swap the baseline the canary is compared with. Finalizing is the exception: GA
  takes the tag the canary served to 100% of the traffic.
Prints every finding either way. Exit 2: unknown ref, missing stack file, invalid config.
A stack file that does not exist at REF is a new stack: only its tags and tracks are checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release.check import FAIL, NOTE, OK, Finding, check

JSON_VERSION = 1
HELP = "PR check: weight steps, tags inside tracks, GA untouched while the canary holds traffic"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, what="checks")
    parser.add_argument("--base", required=True, metavar="REF", help="git ref of the PR's base (e.g. origin/main)")
    common.add_json(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    findings = check(args.stack, args.base, Path(args.project_dir))
    if not any(f.level != NOTE for f in findings):
        findings.append(Finding(OK, "no weight or tag changes"))
    problems = sum(1 for f in findings if f.level == FAIL)
    if args.json:
        body = {
            "stack": args.stack,
            "base": args.base,
            "passed": not problems,
            "problems": problems,
            "findings": [{"level": f.level, "text": f.text} for f in findings],
        }
        common.print_json("check", JSON_VERSION, body)
    else:
        print(f"check Pulumi.{args.stack}.yaml: {args.base} -> work tree")
        for finding in findings:
            print(f"  {finding.level:<5} {finding.text}")
    if problems:
        print(f"{problems} problem{'s' if problems > 1 else ''}: fix them before merging", file=sys.stderr)
        return ExitStatus.FAILED
    if not args.json:
        print("check passed")
    return ExitStatus.OK
