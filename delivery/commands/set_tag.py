"""Set the image tag of one app side.

    python -m delivery set-tag --stack dev podinfo --side canary 6.14.2     # weighted: ga or canary
    python -m delivery set-tag --stack dev backend 6.13.1                   # Flagger app: no --side
    python -m delivery set-tag --stack dev podinfo --side canary 6.15.0 --track 6.15.x   # a new minor


A weighted app runs two tags, so --side is required. A Flagger app (strategy canary/ab) has a
single tag in Git: Flagger runs it as the canary and promotes it to primary after the analysis,
so --side is refused there. The tag must stay inside its side's `track` (the program's rule);
`--track` moves the side to a new track in the same edit (tag and track change together, and the
new tag must satisfy the new track), leaving every other key as it was.

A new canary build restarts at the first step: when the canary holds more traffic than
`steps.first_step` (the first of delivery.steps), the same edit lowers its weight to it, as the
pull-request check requires. Setting GA's tag while the canary holds traffic is refused by the
check: a warning says so.
"""

from __future__ import annotations

import argparse
import sys

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus
from delivery.release import steps
from model import weights
from model.settings import WeightedApp

HELP = "set the image tag of a weighted app's side, or of a Flagger app"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument("app", metavar="APP", help="an app of the stack (apps.<APP>)")
    parser.add_argument("tag", metavar="TAG", help="the new image tag (e.g. 6.14.2, or a sha256: digest without track)")
    parser.add_argument(
        "--side",
        choices=stack.WEIGHTED_SIDES,
        help="weighted apps: which Deployment takes the tag; not allowed for Flagger apps",
    )
    parser.add_argument(
        "--track",
        metavar="TRACK",
        help="also set the side's semver track (e.g. 6.15.x) in the same edit; the tag must satisfy it",
    )


def run(args: argparse.Namespace) -> ExitStatus:
    path = stack.stack_path(args.stack, args.project_dir)
    read = stack.read_bytes(path)
    settings = stack.parse_settings(stack.config_from_bytes(read, path.name), path.name)
    current = settings.apps.get(args.app)
    first = steps.first_step(settings.delivery)
    # (the canary weight before the edit, its tag) when a new canary build must restart
    restart = (
        (current.weights.canary, current.canary.tag)
        if isinstance(current, WeightedApp) and args.side == "canary" and current.weights.canary > first
        else None
    )
    if isinstance(current, WeightedApp) and args.side == "ga" and current.weights.canary > 0:
        print(
            f"warning: apps.{args.app}.canary holds {current.weights.canary}% of the traffic: the pull-request "
            "check refuses a GA change until the canary is at 0 (finalize or rollback)",
            file=sys.stderr,
        )

    def mutate(config: CommentedMap) -> list[str]:
        holder, key = stack.tag_holder(config, args.app, args.side)
        lines = [f"{key}.tag: {holder.get('tag')} -> {args.tag}"]
        stack.set_scalar(holder, "tag", args.tag)
        if args.track is not None:
            lines.append(f"{key}.track: {holder.get('track')} -> {args.track}")
            stack.set_track(holder, args.track)
        if restart is not None and args.tag != restart[1]:
            was = restart[0]
            stack.set_weights(stack.app(config, args.app), args.app, first)
            split = weights.shift((100 - was, was), (100 - first, first))
            lines.append(f"apps.{args.app}.weights: {split} (a new canary build restarts at the first step)")
        return lines

    return common.apply(args, mutate, expected=read)
