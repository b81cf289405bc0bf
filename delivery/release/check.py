"""Pull-request checks of a stack file against its version at the base of the PR.

Finds a problem when, between REF and the work tree:
- a weighted app's canary weight rises by more than `delivery.maxWeightStep` (the base's value:
  a PR cannot raise the limit and use it at once);
- a tag is outside its side's `track`;
- a weighted app's GA tag changes while its canary holds traffic (at the base or after the PR),
  which would swap the baseline the canary is compared with. Finalizing is the exception: GA
  takes the tag the canary served to 100% of the traffic.
A weighted app that is not in the base (new, or renamed) must start with canary weight 0.
A stack file that does not exist at REF is a new stack: only its tags and tracks are checked.
Only git's "not in that commit" means absent at REF; any other git failure is exit 3.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delivery import stack
from model import weights
from model.settings import Settings, WeightedApp
from model.versions import Track, TrackError

OK, NOTE, FAIL = "ok", "note", "FAIL"


@dataclass(frozen=True)
class Finding:
    level: str
    text: str


def _sides(app: Any, name: str) -> list[tuple[str, Any]]:
    """(key path, mapping holding tag/track) of each side of a raw app mapping."""
    if not isinstance(app, dict):
        return []
    if app.get("strategy") == "weighted":
        return [(f"apps.{name}.{side}", app[side]) for side in ("ga", "canary") if isinstance(app.get(side), dict)]
    return [(f"apps.{name}", app)]


def typed(config: Mapping[str, Any], source: str) -> tuple[Settings, list[Finding]]:
    """Settings of a stack config, plus its tags that are outside their tracks as findings.

    The program rejects such a tag too; here it is the finding the PR check reports (exit 1),
    so the config is parsed with those tracks set aside to check everything else.
    """
    config = copy.deepcopy(dict(config))
    outside = []
    apps = config.get(stack.APPS_KEY)
    for name, app in apps.items() if isinstance(apps, dict) else []:
        for path, holder in _sides(app, name):
            tag, track = holder.get("tag"), holder.get("track")
            if not (isinstance(tag, str) and isinstance(track, str)):
                continue
            try:
                inside = Track.parse(track).admits_tag(tag)
            except TrackError:
                continue  # settings names the broken track
            if not inside:
                outside.append(Finding(FAIL, f"{path}.tag {tag} is outside its track {track!r}"))
                del holder["track"]
    return stack.parse_settings(config, source), outside


def compare(base: Settings | None, head: Settings) -> list[Finding]:
    findings: list[Finding] = []
    step = (base or head).delivery.max_weight_step
    if base is not None and base.delivery.max_weight_step != head.delivery.max_weight_step:
        findings.append(
            Finding(
                NOTE,
                f"delivery.maxWeightStep {base.delivery.max_weight_step} -> "
                f"{head.delivery.max_weight_step}: this PR is held to {step}",
            )
        )
    for name, app in head.apps.items():
        old = base.apps.get(name) if base is not None else None
        if base is not None and old is None:
            findings.append(Finding(NOTE, f"apps.{name}: new {app.strategy} app"))
        if isinstance(app, WeightedApp):
            findings.extend(_weighted(name, old, app, step, base is None))
        else:
            findings.extend(_tags(name, old, app))
    for name in base.apps if base is not None else {}:
        if name not in head.apps:
            findings.append(Finding(NOTE, f"apps.{name}: removed"))
    return findings


def _weighted(name: str, old: Any, new: WeightedApp, step: int, new_stack: bool) -> list[Finding]:
    path = f"apps.{name}"
    if old is None:
        if new_stack:
            return []  # a new stack serves no users yet: nothing shifts
        if new.weights.canary != 0:
            # A new app (or an app renamed: the base knows it by another name) would put its
            # canary in front of users without one reviewed step: it starts with canary 0.
            return [
                Finding(
                    FAIL,
                    f"{path}.weights.canary is {new.weights.canary} for an app that is not in the base "
                    "(new or renamed): a weighted app starts with canary 0, then promotes in steps",
                )
            ]
        return [Finding(OK, f"{path}.weights: starts at {weights.split(new.weights.ga, new.weights.canary)}")]
    findings = []
    was = old.weights.canary if isinstance(old, WeightedApp) else 0
    now = new.weights.canary
    rise = now - was
    if rise > step:
        findings.append(
            Finding(
                FAIL,
                f"{path}.weights.canary {was} -> {now} rises by {rise}, more than "
                f"delivery.maxWeightStep {step}: promote in steps (python -m delivery promote --step)",
            )
        )
    elif now != was:
        findings.append(Finding(OK, f"{path}.weights.canary {was} -> {now} ({rise:+d}, at most +{step} per PR)"))
    if not isinstance(old, WeightedApp):
        findings.append(Finding(NOTE, f"{path}: strategy {old.strategy} -> weighted"))
        return findings
    if old.ga.tag != new.ga.tag:
        finalize = was == 100 and new.ga.tag == old.canary.tag
        change = f"{path}.ga.tag {old.ga.tag} -> {new.ga.tag}"
        if finalize:
            findings.append(Finding(OK, f"{change}: GA takes the tag the canary served to 100% (finalize)"))
        elif was > 0 or now > 0:
            findings.append(
                Finding(
                    FAIL,
                    f"{change} while the canary holds traffic (canary {was} at the base, {now} "
                    "after this PR): change GA with the canary at 0, or finalize",
                )
            )
        else:
            findings.append(Finding(OK, f"{change} (the canary holds no traffic)"))
    if old.canary.tag != new.canary.tag:
        findings.append(Finding(OK, f"{path}.canary.tag {old.canary.tag} -> {new.canary.tag}"))
    return findings


def _tags(name: str, old: Any, new: Any) -> list[Finding]:
    if old is None or isinstance(old, WeightedApp) or old.tag == new.tag:
        return []
    return [Finding(OK, f"apps.{name}.tag {old.tag} -> {new.tag}: Flagger runs its analysis")]


def check(stack_name: str, ref: str, project_dir: Path) -> list[Finding]:
    path = stack.stack_path(stack_name, project_dir)
    head, head_outside = typed(stack.read_config(path), path.name)
    old_config = stack.config_at(project_dir, ref, path.name)
    if old_config is None:
        findings = [Finding(NOTE, f"{path.name} does not exist at {ref}: a new stack, no weights to compare")]
        return findings + head_outside + compare(None, head)
    base, _ = typed(old_config, f"{path.name} at {ref}")
    return head_outside + compare(base, head)
