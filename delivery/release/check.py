"""Pull-request checks of a stack file against its version at the base of the PR.

Apps are judged by what serves their traffic (model/serving.py: strategy, image reference and
pod-spec fingerprint per side, hosts), not by name: an app of the PR takes over the traffic of the
base app of the same name, of every base app that served one of its hosts, and (renamed) of the
base apps of its namespace that ran its image repository. Finds a problem when, between REF and
the work tree:
- a weighted app's canary weight goes past the next step (`delivery.steps`, each move at most
  `delivery.maxWeightStep`; the base's values: a PR cannot change the limits and use them at once);
- a new canary build (tag, image or any pod-spec key of the canary side) holds more traffic than
  the first step: a new build restarts at `delivery.steps[0]`;
- a tag is outside its side's `track`;
- the build serving everyone else (a weighted app's GA, a new Flagger app's primary, which
  Flagger's first rollout initialises without analysis) changes while a canary it takes traffic
  from holds traffic (at the base or after the PR), or is not a build the traffic's Flagger app
  ran. Finalizing is the exception: GA takes the build the canary served to 100% of the traffic;
- a weighted app that is not in the base by name (new, or renamed) starts with canary weight > 0.
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
from delivery.release import steps
from model import serving, weights
from model.settings import Delivery, Settings
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
    limits = (base or head).delivery
    if base is not None:
        for key, old, new in (
            ("maxWeightStep", base.delivery.max_weight_step, head.delivery.max_weight_step),
            ("steps", list(base.delivery.steps), list(head.delivery.steps)),
        ):
            if old != new:
                findings.append(Finding(NOTE, f"delivery.{key} {old} -> {new}: this PR is held to {old}"))
    if base is not None:
        findings.extend(_namespace_ownership(base, head))
    old_apps = serving.serving_all(base.apps) if base is not None else {}
    for name, app in serving.serving_all(head.apps).items():
        if base is None:
            continue  # a new stack serves no users yet: nothing shifts
        preds = serving.predecessors(app, old_apps)
        same = old_apps.get(name)
        if same is None:
            taken = ", ".join(f"apps.{p.name}" for p in preds)
            findings.append(
                Finding(
                    NOTE, f"apps.{name}: new {app.strategy} app" + (f", takes over traffic of {taken}" if taken else "")
                )
            )
        elif same.strategy != app.strategy:
            findings.append(Finding(NOTE, f"apps.{name}: strategy {same.strategy} -> {app.strategy}"))
            # Each strategy is its own component (its own URNs) owning objects of the same Kubernetes
            # names: Pulumi creates the new ones before deleting the old, and since pulumi-kubernetes
            # 4.29 a create of an existing object fails ("already exists", pulumi-kubernetes#4278);
            # weighted <-> Flagger also hands Services and the VirtualService to Flagger while Pulumi
            # deletes its own of the same names. A switch is two PRs, or a new name.
            findings.append(
                Finding(
                    FAIL,
                    f"apps.{name}.strategy {same.strategy} -> {app.strategy}: one `pulumi up` cannot replace "
                    "an app's objects by others of the same names; remove the app in one PR and add it back "
                    "in the next, or add it under a new name that takes over its hosts",
                )
            )
        if app.weighted:
            findings.extend(_weighted(app, same, preds, limits))
        else:
            findings.extend(_flagger(app, same, preds))
    for name in old_apps:
        if name not in head.apps:
            findings.append(Finding(NOTE, f"apps.{name}: removed"))
    return findings


def _namespace_ownership(base: Settings, head: Settings) -> list[Finding]:
    """A namespace the base's apps run in keeps its owner: created by the program, or only labelled.
    A `Namespace` and a `NamespacePatch` are different resources: flipping `create` to false makes
    Pulumi delete the Namespace it created (and everything in it); to true, it creates one that
    already exists and fails (pulumi-kubernetes#4278)."""
    findings = []
    for namespace in sorted({app.namespace for app in base.apps.values()} & {a.namespace for a in head.apps.values()}):
        was, now = base.creates_namespace(namespace), head.creates_namespace(namespace)
        if was != now:
            findings.append(
                Finding(
                    FAIL,
                    f"namespaces.{namespace}.create {str(was).lower()} -> {str(now).lower()}: "
                    + (
                        "Pulumi would delete the namespace it created, with every object in it"
                        if was
                        else "the namespace exists: creating it fails"
                    )
                    + "; keep the namespace's owner (move the apps to a new namespace instead)",
                )
            )
    return findings


def _change(path: str, old: serving.Build, new: serving.Build) -> str:
    """What changed between two builds, by key path: the tag, the image or pod-spec keys."""
    if old.image != new.image:
        return f"{path}: image {old.ref} -> {new.ref}"
    if old.tag != new.tag:
        return f"{path}.tag {old.tag} -> {new.tag}"
    was, now = dict(old.pod), dict(new.pod)
    keys = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
    return f"{path}: pod spec ({', '.join(keys)}) changed, fingerprint {old.fingerprint} -> {new.fingerprint}"


def _baseline(path: str, build: serving.Build, pred: serving.Serving, head_canary: int, ga_path: str) -> Finding | None:
    """Whether `build` may serve everyone `pred` served at the base (None: it already did)."""
    if build.same_as(pred.baseline):
        return None
    of = "" if path == f"apps.{pred.name}" else f" (the traffic of apps.{pred.name})"
    change = _change(ga_path, pred.baseline, build) + of
    if not pred.weighted:
        return Finding(
            FAIL,
            f"{change}: apps.{pred.name} is a Flagger app that never ran {build.ref}; this would serve it "
            "to all of its traffic without an analysis. Keep the build it runs, then release the new one",
        )
    was = pred.canary_weight
    if was == 100 and build.same_as(pred.canary):
        return Finding(OK, f"{change}: GA takes the tag the canary served to 100% (finalize)")
    if was == 0 and head_canary == 0:
        return Finding(OK, f"{change} (the canary holds no traffic)")
    unjudged = " (the canary's build, which has not passed every step)" if build.same_as(pred.canary) else ""
    return Finding(
        FAIL,
        f"{change}{unjudged} while the canary holds traffic (canary {was} at the base, {head_canary} "
        "after this PR): change GA with the canary at 0, or finalize",
    )


def _weighted(app: serving.Serving, same: serving.Serving | None, preds: list, limits: Delivery) -> list[Finding]:
    path = f"apps.{app.name}"
    now = app.canary_weight
    canary = app.canary
    assert canary is not None  # a weighted app has both sides
    findings = []
    if same is None and now != 0:
        # A new app (or an app renamed: the base knows it by another name) would put its
        # canary in front of users without one reviewed step: it starts with canary 0.
        findings.append(
            Finding(
                FAIL,
                f"{path}.weights.canary is {now} for an app that is not in the base "
                "(new or renamed): a weighted app starts with canary 0, then promotes in steps",
            )
        )
    elif same is None and not preds:
        findings.append(Finding(OK, f"{path}.weights: starts at {weights.split(100 - now, now)}"))
    if same is not None:
        was = same.canary_weight if same.weighted else 0
        # The build the canary side ran at the base (from a Flagger app: the only build it ran).
        ran = same.canary if same.canary is not None else same.baseline
        new_build = not canary.same_as(ran)
        start = 0 if new_build else was
        limit = steps.next_step(limits, start)
        if new_build and same.weighted:
            findings.append(Finding(OK, _change(f"{path}.canary", ran, canary)))
        if now > limit and new_build and was > 0:
            findings.append(
                Finding(
                    FAIL,
                    f"{path}.canary runs a new build while the canary holds {now}: a new canary build restarts "
                    f"at the first step, canary {limit} or less (delivery.steps {list(limits.steps)})",
                )
            )
        elif now > limit:
            findings.append(
                Finding(
                    FAIL,
                    f"{path}.weights.canary {start} -> {now} goes past the next step {limit} "
                    f"(delivery.steps {list(limits.steps)}, at most +{limits.max_weight_step} per PR by "
                    "delivery.maxWeightStep): promote one step at a time (python -m delivery promote --step)",
                )
            )
        elif now != was:
            findings.append(Finding(OK, f"{path}.weights.canary {was} -> {now} (next step {limit})"))
    # GA serves everyone else: a build this app already served to everyone stays; any other may
    # change only as it may for every app whose traffic it takes.
    if same is not None and app.baseline.same_as(same.baseline):
        return findings
    for pred in preds:
        found = _baseline(path, app.baseline, pred, now, f"{path}.ga")
        if found is not None:
            findings.append(found)
    return findings


def _flagger(app: serving.Serving, same: serving.Serving | None, preds: list) -> list[Finding]:
    path = f"apps.{app.name}"
    # Flagger analyses a change of the target it already runs: same strategy, same namespace (a
    # Canary in another namespace is a new Canary, whose first rollout skips the analysis).
    if same is not None and same.strategy == app.strategy and same.namespace == app.namespace:
        if same.baseline.same_as(app.baseline):
            return []
        change = _change(path, same.baseline, app.baseline)
        if same.checks != app.checks:
            # The analysis that judges a build must be the one reviewed before it: a PR that both
            # relaxes it (no metrics, stepWeight 100) and ships a build would skip the judging.
            return [
                Finding(
                    FAIL,
                    f"{change} in the same PR as a change of apps.{app.name}.analysis/match: change the "
                    "analysis in its own PR, then the build",
                )
            ]
        return [Finding(OK, f"{change}: Flagger runs its analysis")]
    # A Flagger app the cluster does not run yet: its first rollout initialises the primary with
    # the target's spec and sends it all traffic; only later changes of the target are analysed
    # (fluxcd/flagger docs/gitbook/usage/how-it-works.md, "primary deployment ... stable release").
    findings: list[Finding] = []
    if same is not None and app.baseline.same_as(same.baseline):
        return findings
    for pred in preds:
        found = _baseline(path, app.baseline, pred, 0, path)
        if found is not None:
            findings.append(found)
    return findings


def check(stack_name: str, ref: str, project_dir: Path) -> list[Finding]:
    path = stack.stack_path(stack_name, project_dir)
    head, head_outside = typed(stack.read_config(path), path.name)
    # The file as git names it (under stackConfigDir, a symlink followed in the base's tree).
    relative = stack.relative_path(path, project_dir)
    old_config = stack.config_at(project_dir, ref, relative)
    if old_config is None:
        # A PR that moves stackConfigDir: the base's file is where the base's Pulumi.yaml says.
        relative = stack.path_at(project_dir, ref, stack_name)
        old_config = stack.config_at(project_dir, ref, relative)
    if old_config is None:
        findings = [Finding(NOTE, f"{relative} does not exist at {ref}: a new stack, no weights to compare")]
        return findings + head_outside + compare(None, head)
    base, _ = typed(old_config, f"{relative} at {ref}")
    return head_outside + compare(base, head)
