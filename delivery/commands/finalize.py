"""Make a fully promoted canary the new GA.

    python -m delivery finalize --stack dev podinfo

Only when the canary holds 100% of the traffic: GA takes the canary's tag and track, and the
weights return to GA 100 / canary 0, so the next release starts from a clean split. Replicas
stay as they are (GA keeps its capacity).
"""

from __future__ import annotations

import argparse

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus
from model import weights

HELP = "when the canary holds 100: GA takes its tag and track, the split goes back to GA 100 / canary 0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument("app", metavar="APP", help="a weighted app of the stack (apps.<APP>)")


def run(args: argparse.Namespace) -> ExitStatus:
    def mutate(config: CommentedMap) -> list[str]:
        path = f"apps.{args.app}"
        app = stack.require_weighted(config, args.app, "finalize")
        split = stack.sub_mapping(app, "weights", path)
        if split.get("canary") != 100:
            raise stack.StackFileError(
                f"{path}.weights.canary is {split.get('canary')}: finalize needs the canary at 100 "
                f"(python -m delivery promote --stack {args.stack} {args.app} --canary 100, merged and deployed)"
            )
        ga = stack.sub_mapping(app, "ga", path)
        canary = stack.sub_mapping(app, "canary", path)
        lines = [f"{path}.ga.tag: {ga.get('tag')} -> {canary.get('tag')}"]
        stack.set_scalar(ga, "tag", canary.get("tag"))
        if "track" in canary:
            if ga.get("track") != canary["track"]:
                lines.append(f"{path}.ga.track: {ga.get('track')} -> {canary['track']}")
            stack.set_scalar(ga, "track", canary["track"])
        elif "track" in ga:
            lines.append(f"{path}.ga.track: {ga['track']} removed (the canary has none)")
            del ga["track"]
        stack.set_weights(app, args.app, 0)
        lines.append(f"{path}.weights: {weights.shift((0, 100), (100, 0))}")
        return lines

    return common.apply(args, mutate)
