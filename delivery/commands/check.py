"""Pull-request checks of a stack file against its version at the base of the PR.

    istio-canary check --stack dev --base origin/main
    istio-canary check --stack dev --base origin/main --json   # one JSON document (keys: docs/reference/cli.md)

Prints every finding either way. Exit 1 when a check fails, 2 on bad input (missing stack file,
invalid config), 3 when git cannot read REF. The checks (stated once, in delivery/release/check.py):
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import check as release_check
from delivery.release.check import FAIL, NOTE, OK, Finding, check

__doc__ = f"{__doc__}\n{(release_check.__doc__ or '').partition(chr(10) * 2)[2]}"

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
