"""Which stacks a change touches, as a JSON list for a GitHub Actions matrix.

    python -m delivery changed-stacks --base origin/main     # ["dev"]
    python -m delivery changed-stacks --all

A stack is touched when its Pulumi.<stack>.yaml changed since REF; every stack is touched
when the program changed (PROGRAM_PATHS: what `pulumi up` runs). Stacks on an existing
cluster (`cluster.provider: existing`) are left out unless --any-cluster: CI has no
kubeconfig for a kind or minikube context, but can still check and diff them offline.
A base of all zeros (GitHub's `before` of a new branch) means every stack.
Explanations go to stderr, the JSON list to stdout.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release.changed_stacks import touched

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
