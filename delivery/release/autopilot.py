"""Autopilot: decide the next release step of every weighted app from Git history and the gate.

For each weighted app, exactly one action, with its evidence:

- `skip`: the app (`apps.<app>.autopilot: false`) or the stack (`delivery.autopilot: false`) is paused;
- `none`: nothing in flight (canary weight 0 and the canary runs GA's tag);
- `promote`: from 0 to the first step as soon as a new canary tag is on the base branch (no metrics
  needed: the canary has no traffic yet); from a step to the next when the step has baked
  `delivery.bakeTime` and the gate passes over the bake window;
- `finalize`: the canary has held 100 for `bakeTime` and the gate passes;
- `rollback`: the gate judged the canary worse than GA (`delivery.autoRollback`, default true);
- `hold`: anything else, with the reason: still baking, not enough traffic to judge, metrics
  unavailable (never a promote or a rollback on missing data), the app's state in the work tree
  is not on the base branch yet, a rolled-back canary waiting for a new tag, or a rollback of
  another app going first.

Bake time is measured with git, never with a clock file: from the committer time of the newest
commit on the base branch's first-parent line that changed this app's canary weight or canary
tag in `Pulumi.<stack>.yaml` (the merge of the step's pull request).

Steps: the next step is the smallest of `delivery.steps` above the current weight, capped at
current + `delivery.maxWeightStep`, so `delivery check` accepts every edit by construction.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from components.settings import Delivery, Settings, WeightedApp, duration_seconds
from delivery import engine, gate, gitref, stackfile
from delivery.errors import UsageError
from delivery.release import steps

HOLD, PROMOTE, FINALIZE, ROLLBACK, NONE, SKIP = "hold", "promote", "finalize", "rollback", "none", "skip"
EDITS = (PROMOTE, FINALIZE, ROLLBACK)
DEFAULT_BASE = "origin/main"
AUTOMERGE_LABEL = "automerge"


@dataclass(frozen=True)
class AppState:
    """What starts a new step when it changes on the base branch."""

    canary_weight: Any
    canary_tag: Any


@dataclass(frozen=True)
class StepStart:
    """The base-branch commit that last changed an app's state: the step's start."""

    commit: str
    committed_at: int  # committer time, seconds since the epoch
    before: AppState | None  # None: the app was not in the file before
    after: AppState


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

    @property
    def edits(self) -> list[Decision]:
        return [d for d in self.decisions if d.action in EDITS]

    @property
    def metrics_unavailable(self) -> bool:
        return any(d.metrics_unavailable for d in self.decisions)


# --- history ---------------------------------------------------------------------------------

def _states(text: str | None, source: str) -> dict[str, AppState]:
    """Raw state of each app in a stack file's text (no schema: old commits predate today's rules)."""
    if text is None:
        return {}
    try:
        apps = engine.config_from_text(text, source).get(stackfile.APPS_KEY)
    except engine.StackFileError:
        return {}  # a broken file on the base branch changed nothing we can read
    states = {}
    for name, raw in (apps.items() if isinstance(apps, Mapping) else []):
        if isinstance(raw, Mapping):
            weights, canary = raw.get("weights"), raw.get("canary")
            states[name] = AppState(weights.get("canary") if isinstance(weights, Mapping) else None,
                                    canary.get("tag") if isinstance(canary, Mapping) else None)
    return states


def step_starts(project_dir: Path, base: str, filename: str, apps: list[str]) -> dict[str, StepStart | None]:
    """For each app, the newest commit on `base` that changed its state (None: the app is not on `base`)."""
    if gitref.is_shallow(project_dir):
        raise UsageError("the repository is a shallow clone: bake time is read from the stack file's history; "
                         "fetch it all (git fetch --unshallow, or actions/checkout with fetch-depth: 0)")
    found: dict[str, StepStart | None] = {name: None for name in apps}
    pending = set(apps)
    commits = gitref.commits_changing(project_dir, base, filename)
    after = _states(gitref.file_at(project_dir, commits[0][0], filename), filename) if commits else {}
    for i, (sha, when) in enumerate(commits):
        older = commits[i + 1][0] if i + 1 < len(commits) else None
        before = _states(gitref.file_at(project_dir, older, filename), filename) if older else {}
        for name in sorted(pending):
            if name not in after:
                pending.discard(name)  # not on the base branch at all
            elif before.get(name) != after[name]:
                found[name] = StepStart(sha, when, before.get(name), after[name])
                pending.discard(name)
        if not pending:
            break
        after = before
    return found


# --- decisions -------------------------------------------------------------------------------

def next_step(delivery: Delivery, canary: int) -> int:
    target = next((s for s in delivery.steps if s > canary), 100)
    return min(target, canary + delivery.max_weight_step, 100)


def human(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs or not seconds else ""]
    return "".join(parts)


def _decide_app(name: str, app: WeightedApp, run: Run, start: StepStart | None) -> Decision:
    delivery = run.settings.delivery
    bake = duration_seconds(delivery.bake_time)
    now_weight = app.weights.canary

    def decision(action: str, reason: str, to: int = now_weight, **evidence) -> Decision:
        return Decision(name, action, reason, now_weight, to, bake, step=start, **evidence)

    if not delivery.autopilot:
        return decision(SKIP, "delivery.autopilot is false: the stack is paused")
    if not app.autopilot:
        return decision(SKIP, f"apps.{name}.autopilot is false: this app is released by hand")
    if now_weight == 0 and app.canary.tag == app.ga.tag:
        return decision(NONE, f"nothing in flight: canary at 0 runs GA's tag {app.ga.tag}")
    here = AppState(now_weight, app.canary.tag)
    if start is None or start.after != here:
        return decision(HOLD, f"apps.{name} (canary {now_weight}, tag {app.canary.tag}) in {run.stack_file} is not "
                              f"what {run.base} holds: merge that change first; bake time starts at its merge")
    elapsed = max(0.0, run.decided_at - start.committed_at)
    if now_weight == 0:
        if (start.before is not None and start.before.canary_tag == app.canary.tag
                and isinstance(start.before.canary_weight, int) and start.before.canary_weight > 0):
            return decision(HOLD, f"canary {app.canary.tag} was rolled back in {start.commit[:12]}: "
                                  "set a new canary tag to start again", bake_observed=elapsed)
        target = next_step(delivery, 0)
        return decision(PROMOTE, f"canary tag {app.canary.tag} is on {run.base}: first step, no traffic to judge yet",
                        to=target, bake_observed=elapsed)
    if run.prometheus is None:
        return decision(HOLD, "no --prometheus: the gate cannot judge the canary", bake_observed=elapsed)
    # The gate looks at this step only: from its start (at least a minute, rate() needs samples)
    # up to the bake time.
    window = f"{int(min(max(elapsed, 60), bake))}s"
    try:
        result = gate.evaluate(run.settings, name, run.prometheus, window)
    except gate.GateError as exc:
        return decision(HOLD, f"metrics unavailable, holding: {exc}", bake_observed=elapsed,
                        gate_window=window, metrics_unavailable=True)
    evidence = {"bake_observed": elapsed, "gate": result, "gate_window": window}
    if not result.judged:
        return decision(HOLD, "not enough traffic to judge: " + "; ".join(result.reasons), **evidence)
    if not result.passed:
        if delivery.auto_rollback:
            return decision(ROLLBACK, "the gate failed: " + "; ".join(result.reasons), to=0, **evidence)
        return decision(HOLD, "the gate failed but delivery.autoRollback is false: a person decides "
                              f"(python -m delivery rollback --stack {run.stack} {name}): " + "; ".join(result.reasons),
                        **evidence)
    if elapsed < bake:
        return decision(HOLD, f"baking: healthy for {human(elapsed)} of delivery.bakeTime {delivery.bake_time}",
                        **evidence)
    if now_weight == 100:
        return decision(FINALIZE, f"canary held 100 healthy for {human(elapsed)} (delivery.bakeTime "
                                  f"{delivery.bake_time}): GA takes tag {app.canary.tag}", to=0, **evidence)
    target = next_step(delivery, now_weight)
    return decision(PROMOTE, f"healthy for {human(elapsed)} (delivery.bakeTime {delivery.bake_time}): next step",
                    to=target, **evidence)


def _rollbacks_first(decisions: list[Decision]) -> list[Decision]:
    """A run that rolls back changes nothing else: that pull request can merge on its own, fast."""
    rolling = [d.app for d in decisions if d.action == ROLLBACK]
    if not rolling:
        return decisions
    deferred = f"deferred: this run only rolls back ({', '.join(rolling)}), so that pull request can merge alone"
    return [Decision(d.app, HOLD, f"{deferred}; then {d.action} ({d.reason})", d.canary_from, d.canary_from,
                     d.bake_required, d.step, d.bake_observed, d.gate, d.gate_window)
            if d.action in (PROMOTE, FINALIZE) else d for d in decisions]


def resolve_base(project_dir: Path, base: str | None) -> str:
    """`base` as given, or origin/main, or HEAD when there is no origin/main."""
    if base is not None:
        gitref.require_commit(project_dir, base)
        return base
    try:
        gitref.require_commit(project_dir, DEFAULT_BASE)
        return DEFAULT_BASE
    except UsageError:
        gitref.require_commit(project_dir, "HEAD")
        return "HEAD"


def decide(stack: str, project_dir: Path, prometheus: str | None, base: str | None = None,
           now: float | None = None) -> Run:
    """Every weighted app's decision. Raises UsageError / stackfile.EditError on bad input."""
    path = stackfile.stack_path(stack, project_dir)
    settings = stackfile.load_settings(path)
    base = resolve_base(project_dir, base)
    base_commit = gitref.git(project_dir, "rev-parse", f"{base}^{{commit}}").stdout.strip()
    run = Run(stack, path.name, base, base_commit, time.time() if now is None else now, prometheus, settings)
    weighted = settings.apps_by_strategy("weighted")
    starts = step_starts(project_dir, base, path.name, list(weighted)) if weighted else {}
    decisions = [_decide_app(name, app, run, starts.get(name)) for name, app in weighted.items()]
    run.decisions = _rollbacks_first(decisions)
    return run


# --- the edit ----------------------------------------------------------------------------------

def write(run: Run, project_dir: Path, dry_run: bool = False) -> tuple[stackfile.EditResult, list[str]]:
    """Apply the run's edits in one validated write, through the same steps as the commands."""
    described: list[str] = []

    def mutate(config) -> None:
        for d in run.edits:
            if d.action == PROMOTE:
                described.extend(steps.set_canary(config, d.app, d.canary_to, "autopilot"))
            elif d.action == ROLLBACK:
                described.extend(steps.rollback(config, d.app))
            else:
                described.extend(steps.finalize(config, d.app, run.stack))

    path = stackfile.stack_path(run.stack, project_dir)
    return stackfile.edit(path, mutate, dry_run=dry_run), described


# --- pull request ------------------------------------------------------------------------------

def redact(url: str | None) -> str | None:
    """A URL without the credentials it may carry."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _step(d: Decision) -> str:
    return f"{d.canary_from} -> {d.canary_to}" if d.canary_to != d.canary_from else str(d.canary_from)


def title(run: Run) -> str:
    moves = [f"{d.action} {d.app} {'canary ' + _step(d) if d.action != FINALIZE else '(GA takes the canary tag)'}"
             for d in run.edits]
    return f"autopilot({run.stack}): " + ("; ".join(moves) if moves else "no change")


def labels(run: Run) -> list[str]:
    actions = sorted({d.action for d in run.edits})
    found = ["autopilot", *(f"autopilot:{a}" for a in actions)]
    if actions == [ROLLBACK]:
        found.append(AUTOMERGE_LABEL)
    return found


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _gate_table(d: Decision, delivery: Delivery) -> list[str]:
    result = d.gate
    c, g = result.canary, result.ga
    verdict = "passed" if result.passed else ("failed" if result.judged else "could not judge")
    return [
        f"Gate over the last {d.gate_window}: **{verdict}**" + ("" if result.passed else ": " + "; ".join(result.reasons)),
        "",
        "| | canary | GA | limit |",
        "|---|---:|---:|---|",
        f"| requests/s | {_number(c.requests, '.2f')} | {_number(g.requests, '.2f')} | > 0 on both sides |",
        f"| error rate (%) | {_number(c.error_rate, '.2f')} | {_number(g.error_rate, '.2f')} "
        f"| canary <= GA + {delivery.max_error_rate_delta:g} |",
        f"| p99 latency (ms) | {_number(c.p99, '.1f')} | {_number(g.p99, '.1f')} "
        f"| canary <= GA x {delivery.max_latency_ratio:g} |",
    ]


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def body(run: Run) -> str:
    delivery = run.settings.delivery
    lines = [
        f"`python -m delivery autopilot` for stack `{run.stack}`, decided {_when(run.decided_at)} "
        f"on `{run.base}` ({run.base_commit[:12]}). Steps {list(delivery.steps)}, bake time {delivery.bake_time}.",
        "",
        "| app | action | canary weight | bake time observed / required | step started by |",
        "|---|---|---|---|---|",
    ]
    for d in run.decisions:
        observed = "-" if d.bake_observed is None else human(d.bake_observed)
        started = f"{d.step.commit[:12]} ({_when(d.step.committed_at)})" if d.step else "-"
        lines.append(f"| {d.app} | **{d.action}** | {_step(d)} | {observed} / {delivery.bake_time} | {started} |")
    for d in run.decisions:
        lines += ["", f"### {d.app}: {d.action}", "", d.reason + "."]
        if d.gate is not None:
            lines += [""] + _gate_table(d, delivery)
    lines += ["", "Merging applies this with `pulumi up`; the next step's bake time starts at the merge commit. "
                  "Close this pull request to skip the step; set `autopilot: false` on the app to pause it."]
    return "\n".join(lines) + "\n"


# --- JSON ---------------------------------------------------------------------------------------

def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _side(side: gate.SideMetrics) -> dict:
    return {"workload": side.workload, "requests_per_second": _finite(side.requests),
            "error_rate_percent": _finite(side.error_rate), "p99_ms": _finite(side.p99)}


def decision_json(d: Decision, delivery: Delivery) -> dict:
    result = d.gate
    return {
        "app": d.app,
        "action": d.action,
        "reason": d.reason,
        "canary": {"from": d.canary_from, "to": d.canary_to},
        "bake": {
            "required_seconds": d.bake_required,
            "observed_seconds": None if d.bake_observed is None else int(d.bake_observed),
            "step_commit": d.step.commit if d.step else None,
            "step_committed_at": d.step.committed_at if d.step else None,
        },
        "metrics_unavailable": d.metrics_unavailable,
        "gate": None if result is None else {
            "window": d.gate_window,
            "passed": result.passed,
            "judged": result.judged,
            "reasons": list(result.reasons),
            "canary": _side(result.canary),
            "ga": _side(result.ga),
            "limits": {"max_error_rate_delta": delivery.max_error_rate_delta,
                       "max_latency_ratio": delivery.max_latency_ratio},
        },
    }
