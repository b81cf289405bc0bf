"""Raise each pinned chart version to the newest patch release of its minor.

    python -m delivery upgrades --stack dev [--dry-run]
    python -m delivery upgrades --stack dev --repo istio=https://mirror.example.com/istio

Reads each chart repository's index.yaml (the repositories the program installs from),
keeps the released versions (no pre-releases) with the same major.minor as the stack's
`platform.<chart>Version`, and sets the highest through the safe stack-file edit. Istio's
version applies to three charts (base, istiod, gateway): only a version all three publish
counts. A newer minor is reported, never applied: it needs a reviewed upgrade. Keys the
stack file does not set (the settings defaults apply) are left alone. Exit 0 with "up to
date" when nothing changes; 2 bad input; 3 a repository that cannot be read (the file is
untouched).
"""

from __future__ import annotations

import argparse

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.clients.charts import fetch_index
from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import upgrades
from model.charts import REPOSITORIES
from model.settings import PROJECT

HELP = "raise platform chart versions to the newest patch of their minor"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="NAME=URL",
        help=f"read repository NAME ({', '.join(REPOSITORIES)}) from URL instead (a mirror)",
    )


def run(args: argparse.Namespace) -> ExitStatus:
    repos = upgrades.repositories(args.repo)
    # Read and validate the file before going to the network.
    stack_file = stack.load(args.stack, args.project_dir)
    path = stack_file.path
    found = upgrades.find_upgrades(stack_file.config.get(f"{PROJECT}:platform") or {}, repos, fetch_index)

    for up in found:
        if up.newer_minor:
            print(f"platform.{up.key}: {up.newer_minor} is a newer minor; not applied (upgrade it in a reviewed PR)")
    todo = [up for up in found if up.patch]
    if not todo:
        print(f"{path.name}: up to date (every chart is on the newest patch of its minor)")
        return ExitStatus.OK

    def mutate(config: CommentedMap) -> list[str]:
        platform_map = stack.sub_mapping(config, f"{PROJECT}:platform", "config")
        for up in todo:
            stack.set_scalar(platform_map, up.key, up.patch)
        return [f"platform.{up.key}: {up.current} -> {up.patch}" for up in todo]

    return common.apply(args, mutate)
