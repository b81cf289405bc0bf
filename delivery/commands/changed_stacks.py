"""Which stacks a change touches, as a JSON list for a GitHub Actions matrix.

    python -m delivery changed-stacks --base origin/main     # ["dev"]
    python -m delivery changed-stacks --all

Explanations go to stderr, the JSON list to stdout. Which stacks count (stated once, in
delivery/release/changed_stacks.py):
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import changed_stacks as release_changed_stacks
from delivery.release.changed_stacks import touched

__doc__ = f"{__doc__}\n{(release_changed_stacks.__doc__ or '').partition(chr(10) * 2)[2]}"

HELP = "JSON list of the deployable stacks a change touches (for CI matrices)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--base", metavar="REF", help="git ref to compare the work tree with")
    which.add_argument("--all", action="store_true", help="every deployable stack")
    parser.add_argument(
        "--any-cluster",
        action="store_true",
        help="keep stacks on an existing cluster too (for offline checks such as check and diff)",
    )
    common.add_project_dir(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    stacks = touched(Path(args.project_dir), None if args.all else args.base, args.any_cluster)
    print(json.dumps(stacks))
    return ExitStatus.OK
