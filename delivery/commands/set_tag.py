"""Set the image tag of one app side.

    python -m delivery set-tag --stack dev podinfo --side canary 6.14.2     # weighted: ga or canary
    python -m delivery set-tag --stack dev backend 6.13.1                   # Flagger app: no --side
    python -m delivery set-tag --stack dev podinfo --side canary 6.15.0 --track 6.15.x   # a new minor


A weighted app runs two tags, so --side is required. A Flagger app (strategy canary/ab) has a
single tag in Git: Flagger runs it as the canary and promotes it to primary after the analysis,
so --side is refused there. The tag must stay inside its side's `track` (the program's rule);
`--track` moves the side to a new track in the same edit (tag and track change together, and the
new tag must satisfy the new track), leaving every other key as it was.
"""

from __future__ import annotations

import argparse

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus

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
    def mutate(config: CommentedMap) -> list[str]:
        holder, path = stack.tag_holder(config, args.app, args.side)
        lines = [f"{path}.tag: {holder.get('tag')} -> {args.tag}"]
        stack.set_scalar(holder, "tag", args.tag)
        if args.track is not None:
            lines.append(f"{path}.track: {holder.get('track')} -> {args.track}")
            stack.set_track(holder, args.track)
        return lines

    return common.apply(args, mutate)
