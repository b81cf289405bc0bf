"""The release steps: the one notion of "the next step" (`next_step`), and the steps as edits of a
stack file's `config:` mapping, the one code path that `promote`, `rollback`, `finalize` and
`autopilot --write` change weights and tags through.

Each function takes the round-trip mapping that `stack.edit` hands to its callback, changes
one weighted app, and returns the lines that describe the change; it raises
`stack.StackFileError` to refuse (the file is then untouched).
"""

from __future__ import annotations

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from model import weights
from model.settings import Delivery


def next_step(delivery: Delivery, canary: int) -> int:
    """The canary weight after `canary`: the smallest of `delivery.steps` above it, capped at
    `canary + delivery.maxWeightStep` and 100. `promote --step` and autopilot move to it, and
    `check` refuses a PR whose canary goes past it.

    Both keys stay: `steps` are the weights a release walks (validated: rising from 0 to 100, each
    rise at most maxWeightStep when steps are written); maxWeightStep caps any one move, so a stack
    that lowers it with the default steps still moves in small steps."""
    target = next((s for s in delivery.steps if s > canary), 100)
    return min(target, canary + delivery.max_weight_step, 100)


def first_step(delivery: Delivery) -> int:
    """Where a new canary build starts: the next step from 0."""
    return next_step(delivery, 0)


def set_canary(config: CommentedMap, app: str, canary: int, command: str = "promote") -> list[str]:
    """Weights become GA 100-N / canary N."""
    found = stack.require_weighted(config, app, command)
    old = stack.sub_mapping(found, "weights", f"apps.{app}")
    before = (old.get("ga"), old.get("canary"))
    stack.set_weights(found, app, canary)
    return [f"apps.{app}.weights: {weights.shift(before, (100 - canary, canary))}"]


def rollback(config: CommentedMap, app: str) -> list[str]:
    """All traffic back to GA; the canary keeps running at weight 0 with its tag."""
    found = stack.require_weighted(config, app, "rollback")
    old = stack.sub_mapping(found, "weights", f"apps.{app}")
    before = (old.get("ga"), old.get("canary"))
    stack.set_weights(found, app, 0)
    return [f"apps.{app}.weights: {weights.shift(before, (100, 0))}"]


def finalize(config: CommentedMap, app: str, stack_name: str) -> list[str]:
    """With the canary at 100: GA takes its tag and track, weights back to GA 100 / canary 0."""
    path = f"apps.{app}"
    found = stack.require_weighted(config, app, "finalize")
    split = stack.sub_mapping(found, "weights", path)
    if split.get("canary") != 100:
        raise stack.StackFileError(
            f"{path}.weights.canary is {split.get('canary')}: finalize needs the canary at 100 "
            f"(python -m delivery promote --stack {stack_name} {app} --canary 100, merged and deployed)"
        )
    ga = stack.sub_mapping(found, "ga", path)
    canary = stack.sub_mapping(found, "canary", path)
    lines = [f"{path}.ga.tag: {ga.get('tag')} -> {canary.get('tag')}"]
    stack.set_scalar(ga, "tag", canary.get("tag"))
    if "track" in canary:
        if ga.get("track") != canary["track"]:
            lines.append(f"{path}.ga.track: {ga.get('track')} -> {canary['track']}")
        stack.set_scalar(ga, "track", canary["track"])
    elif "track" in ga:
        lines.append(f"{path}.ga.track: {ga['track']} removed (the canary has none)")
        del ga["track"]
    stack.set_weights(found, app, 0)
    lines.append(f"{path}.weights: {weights.shift((0, 100), (100, 0))}")
    return lines
