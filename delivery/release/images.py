"""Image automation: for each tracked app side, the newest registry tag inside its track.

For each app side with a `track` (a weighted app's `ga` and `canary`, a Flagger app's single
tag), the registry's tags are listed (delivery/clients/registry.py), the semver tags inside the
track kept, and the highest picked. A tag only moves forward: a registry that lost a tag never
downgrades the stack.

Only what `check` accepts is proposed (`admissible`): a weighted app's new canary build restarts at
the first step (its weight is lowered to `steps.first_step` when it held more), and GA's tag moves
only while the canary holds no traffic (else it waits, said in the output, for finalize or rollback).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from delivery.errors import UsageError
from delivery.release import steps
from model.settings import Settings, WeightedApp
from model.versions import Track, Version

INSECURE_ENV = "DELIVERY_INSECURE_REGISTRIES"
_REGISTRY_ADDRESS = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?")


@dataclass(frozen=True)
class SideUpdate:
    app: str
    side: str  # "ga"/"canary" for a weighted app, "" for a Flagger app's single tag
    image: str
    track: str
    old: str
    new: str | None  # the highest tag inside the track; None when the registry has none

    @property
    def label(self) -> str:
        return f"{self.app}.{self.side}" if self.side else self.app

    @property
    def changes(self) -> bool:
        old, new = Version.parse(self.old), Version.parse(self.new) if self.new is not None else None
        return new is not None and (old is None or new > old)


def plan(settings: Settings, tags_of: Callable[[str], list[str]]) -> list[SideUpdate]:
    """What each tracked side would move to; each repository is listed once."""
    listed: dict[str, list[str]] = {}
    updates = []
    for name, app in settings.apps.items():
        for side_name, side in app.sides().items():
            if side.track is None:
                continue
            if app.image not in listed:
                listed[app.image] = tags_of(app.image)
            best = Track.parse(side.track).highest(listed[app.image])
            updates.append(SideUpdate(name, side_name, app.image, side.track, side.tag, best))
    return updates


@dataclass(frozen=True)
class Proposal:
    tags: dict[tuple[str, str | None], str]  # (app, side or None) -> new tag
    canary_weights: dict[str, int]  # weighted app -> the canary weight a new build restarts at
    notes: list[str]


def admissible(settings: Settings, updates: list[SideUpdate]) -> Proposal:
    """The tag moves `check` accepts, with the weight changes they need."""
    tags: dict[tuple[str, str | None], str] = {}
    canary_weights: dict[str, int] = {}
    notes = []
    for u in updates:
        if not u.changes or u.new is None:
            continue
        app = settings.apps[u.app]
        if not isinstance(app, WeightedApp):
            tags[(u.app, None)] = u.new  # Flagger analyses the new tag
        elif u.side == "canary":
            tags[(u.app, "canary")] = u.new
            first = steps.first_step(settings.delivery)
            if app.weights.canary > first:
                canary_weights[u.app] = first
                notes.append(
                    f"{u.label}: a new canary build restarts at the first step: canary {app.weights.canary} -> {first}"
                )
        elif app.weights.canary == 0:
            tags[(u.app, "ga")] = u.new
        else:
            notes.append(
                f"{u.label}: {u.old} -> {u.new} waits: the canary holds {app.weights.canary}% of the traffic, "
                "GA moves with the canary at 0 (after finalize or rollback)"
            )
    return Proposal(tags, canary_weights, notes)


def describe(update: SideUpdate) -> str:
    head = f"{update.label}: {update.image} track {update.track}:"
    if update.new is None:
        return f"{head} no tag inside the track in the registry; keeping {update.old}"
    if update.changes:
        return f"{head} {update.old} -> {update.new}"
    return f"{head} {update.old} (up to date)"


def insecure_registries(values: list[str] | None) -> frozenset[str]:
    """The registries spoken to over plain http: `--insecure-registry` values and $DELIVERY_INSECURE_REGISTRIES."""
    from_env = [v.strip() for v in os.environ.get(INSECURE_ENV, "").split(",") if v.strip()]
    insecure = frozenset([*from_env, *(values or [])])
    for address in sorted(insecure):
        if not _REGISTRY_ADDRESS.fullmatch(address):
            raise UsageError(
                f"--insecure-registry {address!r}: give a registry as HOST or HOST:PORT, "
                "as written in the image (127.0.0.1:5000), without a scheme or path"
            )
    return insecure
