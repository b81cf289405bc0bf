"""Autopilot: decide the next release step of every weighted app from Git history and the gate.

For each weighted app, exactly one action, with its evidence:

- `skip`: the app (`apps.<app>.autopilot: false`) or the stack (`delivery.autopilot: false`) is paused;
- `none`: nothing in flight (canary weight 0 and the canary runs GA's tag);
- `promote`: from 0 to the first step as soon as a new canary tag is on the base branch (no metrics
  needed: the canary has no traffic yet); from a step to the next when the step has baked
  `delivery.bakeTime` and the judge (delivery/release/judge.py) says `pass` on the counts since
  the step began;
- `finalize`: the canary has held 100 for `bakeTime` and the judge passes it against GA's counts
  of the previous step (else `delivery.slo`);
- `rollback`: the judge says `fail` (`delivery.autoRollback`, default true);
- `hold`: anything else, with the reason: still baking, the judge inconclusive, metrics
  unavailable (never a promote or a rollback on missing data), the app's state in the work tree
  is not on the base branch yet, a rolled-back canary build (never promoted again until a person
  sets it again, `step_history`), the cluster serving other weights than Git (`--live-weights`:
  the deploy has not applied them, or someone changed them by hand), or a rollback of another app
  going first.

When each step started and which builds were rolled back comes from git (`step_history`); the
pull request's text and the JSON document from `autopilot_report`.

Steps: `steps.next_step`, the one notion `promote --step` and `check` share, so `delivery check`
accepts every edit by construction. The edit refuses a stack file whose bytes are no longer those
the decision read (exit 2, nothing written).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.errors import UnavailableError
from delivery.release import gate, step_history, steps
from delivery.release.step_history import RolledBack, StepStart
from model import serving, weights
from model.settings import Delivery, Settings, WeightedApp
from model.settings.fields import duration_seconds

HOLD, PROMOTE, FINALIZE, ROLLBACK, NONE, SKIP = "hold", "promote", "finalize", "rollback", "none", "skip"
EDITS = (PROMOTE, FINALIZE, ROLLBACK)


@dataclass(frozen=True)
class Decision:
    app: str
    action: str
    reason: str
    canary_from: int
    canary_to: int
    bake_required: float
    step: StepStart | None = None
    bake_observed: float | None = None
    gate: gate.GateResult | None = None
    gate_window: str | None = None
    metrics_unavailable: bool = False


@dataclass
class Run:
    stack: str
    stack_file: str
    base: str
    base_commit: str
    decided_at: float
    prometheus: str | None
    settings: Settings
    decisions: list[Decision] = field(default_factory=list)
    read: bytes = b""  # the stack file as the decision read it: the edit refuses any other bytes
    target: str = ""  # the file an edit writes (a symlink's target), relative to the project: for `git add`
    rolled_back: dict[str, RolledBack] = field(default_factory=dict)
    live: dict[tuple[str, str], tuple[int, int]] | None = None  # (namespace, app) -> (ga, canary)

    @property
    def edits(self) -> list[Decision]:
        return [d for d in self.decisions if d.action in EDITS]

    @property
    def metrics_unavailable(self) -> bool:
        return any(d.metrics_unavailable for d in self.decisions)


def next_step(delivery: Delivery, canary: int) -> int:
    return steps.next_step(delivery, canary)


def human(seconds: float) -> str:
    """`1h2m3s`, `10m`, `0s`."""
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs or not seconds else ""]
    return "".join(parts)


def _decide_app(
    name: str, app: WeightedApp, run: Run, start: StepStart | None, previous: gate.Previous | None = None
) -> Decision:
    delivery = run.settings.delivery
    bake = duration_seconds(delivery.bake_time)
    now_weight = app.weights.canary

    def decision(action: str, reason: str, to: int = now_weight, **evidence: Any) -> Decision:
        return Decision(name, action, reason, now_weight, to, bake, step=start, **evidence)

    if not delivery.autopilot:
        return decision(SKIP, "delivery.autopilot is false: the stack is paused")
    if not app.autopilot:
        return decision(SKIP, f"apps.{name}.autopilot is false: this app is released by hand")
    if now_weight == 0 and app.canary.tag == app.ga.tag:
        return decision(NONE, f"nothing in flight: canary at 0 runs GA's tag {app.ga.tag}")
    here = step_history.state(serving.serving(name, app))
    if start is None or start.after != here:
        return decision(
            HOLD,
            f"apps.{name} (canary {now_weight}, {app.image}:{app.canary.tag}, fingerprint "
            f"{app_fingerprint(name, app)}) in {run.stack_file} is not what {run.base} holds: merge that "
            "change first; bake time starts at its merge",
        )
    elapsed = max(0.0, run.decided_at - start.committed_at)
    if now_weight == 0:
        return decision(
            PROMOTE,
            f"canary tag {app.canary.tag} is on {run.base}: first step, no traffic to judge yet",
            to=next_step(delivery, 0),
            bake_observed=elapsed,
        )
    if run.prometheus is None:
        return decision(HOLD, "no --prometheus: the gate cannot judge the canary", bake_observed=elapsed)
    # The judge counts this step only: from its start (at least a minute, increase() needs samples).
    window = f"{int(max(elapsed, 60))}s"
    try:
        result = gate.evaluate(run.settings, name, run.prometheus, window, previous)
    except UnavailableError as exc:
        return decision(
            HOLD,
            f"metrics unavailable, holding: {exc}",
            bake_observed=elapsed,
            gate_window=window,
            metrics_unavailable=True,
        )
    evidence: dict[str, Any] = {"bake_observed": elapsed, "gate": result, "gate_window": window}
    numbers = "; ".join(result.reasons)
    if result.verdict == gate.FAIL:
        if delivery.auto_rollback:
            return decision(ROLLBACK, f"the judge failed the canary: {numbers}", to=0, **evidence)
        return decision(
            HOLD,
            "the judge failed the canary but delivery.autoRollback is false: a person decides "
            f"(python -m delivery rollback --stack {run.stack} {name}): {numbers}",
            **evidence,
        )
    if result.verdict != gate.PASS:
        return decision(HOLD, f"not enough evidence yet, the judge is inconclusive: {numbers}", **evidence)
    if elapsed < bake:
        return decision(
            HOLD,
            f"baking: the judge passed it after {human(elapsed)} of delivery.bakeTime {delivery.bake_time}: {numbers}",
            **evidence,
        )
    if now_weight == 100:
        return decision(
            FINALIZE,
            f"canary held 100 for {human(elapsed)} (delivery.bakeTime {delivery.bake_time}) and the judge "
            f"passed it against {result.reference_name}: GA takes tag {app.canary.tag}: {numbers}",
            to=0,
            **evidence,
        )
    return decision(
        PROMOTE,
        f"the judge passed it after {human(elapsed)} (delivery.bakeTime {delivery.bake_time}): next step: {numbers}",
        to=next_step(delivery, now_weight),
        **evidence,
    )


def _previous(
    history: step_history.History, name: str, app: WeightedApp, start: StepStart | None
) -> gate.Previous | None:
    """A canary at 100 is judged against GA over the previous step of its release (git)."""
    if start is None or app.weights.canary != 100 or start.after.canary_weight != 100:
        return None
    return gate.previous_step(history, name, start)


def _rollbacks_first(decisions: list[Decision]) -> list[Decision]:
    """A run that rolls back changes nothing else: that pull request can merge on its own, fast."""
    rolling = [d.app for d in decisions if d.action == ROLLBACK]
    if not rolling:
        return decisions
    deferred = f"deferred: this run only rolls back ({', '.join(rolling)}), so that pull request can merge alone"
    return [
        replace(d, action=HOLD, reason=f"{deferred}; then {d.action} ({d.reason})", canary_to=d.canary_from)
        if d.action in (PROMOTE, FINALIZE)
        else d
        for d in decisions
    ]


def app_fingerprint(name: str, app: WeightedApp) -> str:
    canary = serving.serving(name, app).canary
    return canary.fingerprint if canary is not None else "-"


def _guards(run: Run, decisions: list[Decision]) -> list[Decision]:
    """Holds that no metric can lift: a rolled-back build, and a cluster that serves other weights
    than Git. A rollback is never held: it only takes traffic away from a canary."""
    guarded = []
    for d in decisions:
        app = run.settings.apps[d.app]
        assert isinstance(app, WeightedApp)
        ref = serving.serving(d.app, app).canary
        memory = run.rolled_back.get(ref.ref) if ref is not None else None
        live = run.live.get((app.namespace, d.app)) if run.live is not None else None
        reason = None
        if d.action in (PROMOTE, FINALIZE) and memory is not None:
            reason = (
                f"canary {memory.ref} was rolled back in {memory.commit[:12]} (apps.{memory.app}): autopilot never "
                f"promotes it again; set a new canary tag, or a person sets it again with a commit whose message "
                f"has the trailer `{step_history.RETRY_TRAILER}: {app.canary.tag}`"
            )
        elif d.action not in (ROLLBACK, SKIP) and run.live is not None:
            git_split = (app.weights.ga, app.weights.canary)
            if live is None:
                reason = (
                    f"the cluster serves no VirtualService {app.namespace}/{d.app} splitting ga/canary: "
                    "the deploy of this commit has not applied it"
                )
            elif live != git_split:
                reason = (
                    f"the cluster serves {weights.split(*live)} (VirtualService {app.namespace}/{d.app}) but "
                    f"{run.base} says {weights.split(*git_split)}: the deploy has not applied it, or the "
                    "VirtualService was changed by hand"
                )
        guarded.append(
            replace(d, action=HOLD, reason=f"{reason}; was: {d.action} ({d.reason})", canary_to=d.canary_from)
            if reason is not None
            else d
        )
    return guarded


def decide(
    stack_name: str,
    project_dir: Path,
    prometheus: str | None,
    base: str | None = None,
    now: float | None = None,
    live: dict[tuple[str, str], tuple[int, int]] | None = None,
) -> Run:
    """Every weighted app's decision. Raises UsageError (a StackFileError among them) on bad input."""
    path = stack.stack_path(stack_name, project_dir)
    read = stack.read_bytes(path)
    settings = stack.parse_settings(stack.config_from_bytes(read, path.name), path.name)
    base = step_history.resolve_base(project_dir, base)
    base_commit = step_history.commit_of(project_dir, base)
    decided_at = time.time() if now is None else now
    run = Run(stack_name, path.name, base, base_commit, decided_at, prometheus, settings, read=read, live=live)
    run.target = stack.relative_path(stack.writing.target_of(path), project_dir)
    weighted = {name: app for name, app in settings.apps.items() if isinstance(app, WeightedApp)}
    history = step_history.read(project_dir, base, stack.relative_path(path, project_dir)) if weighted else None
    starts = history.step_starts(list(weighted)) if history else {}
    run.rolled_back = history.rolled_back if history else {}
    decisions = [
        _decide_app(name, app, run, start, _previous(history, name, app, start) if history else None)
        for name, app in weighted.items()
        for start in [starts.get(name)]
    ]
    run.decisions = _rollbacks_first(_guards(run, decisions))
    return run


def write(run: Run, project_dir: Path, dry_run: bool = False) -> tuple[stack.EditResult, list[str]]:
    """Apply the run's edits in one validated write, through the same steps as the commands, to the
    bytes the decision read (refused if the file changed since)."""
    described: list[str] = []

    def mutate(config: CommentedMap) -> None:
        for d in run.edits:
            if d.action == PROMOTE:
                described.extend(steps.set_canary(config, d.app, d.canary_to, "autopilot"))
            elif d.action == ROLLBACK:
                described.extend(steps.rollback(config, d.app))
            else:
                described.extend(steps.finalize(config, d.app, run.stack))

    path = stack.stack_path(run.stack, project_dir)
    return stack.edit(path, mutate, dry_run=dry_run, expected=run.read), described
