"""Promotion gate: is a weighted app's canary worse than its GA side? Counts in, the judge's verdict out.

Asks Prometheus for the counts since the release step began (`increase(...)` over the step's
range, model/promql.py): requests, 5xx and the request-duration histogram of `<app>-canary` and
`<app>-ga`, and the canary's requests and callers' 5xx in the recent window. The judge
(delivery/release/judge.py, pure) turns them into `pass`, `fail` or `inconclusive` at level
`delivery.alpha / len(delivery.steps)`, so a release that judges each configured step once stays
within `delivery.alpha` false rollbacks (a step judged again after a rollback, or a step off
`delivery.steps`, spends its own share on top: judge.py's docstring, "Scope of alpha").

A canary at 100 has no GA traffic to compare with: it is judged against GA's counts over the
previous step of the same release (its time range from git, given by the caller), else against
`delivery.slo`.

Bad input (app, window) raises UsageError; a Prometheus that cannot answer, UnavailableError.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delivery.clients import http, prometheus
from delivery.errors import UnavailableError, UsageError
from delivery.release import judge, step_history
from delivery.release.step_history import StepStart
from model import promql, weights
from model.labels import version_label
from model.settings import Delivery, Settings, WeightedApp

_PROM_DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")
PASS, FAIL, INCONCLUSIVE = judge.PASS, judge.FAIL, judge.INCONCLUSIVE


@dataclass(frozen=True)
class Previous:
    """The previous step of the release, from git: GA's reference for a canary at 100."""

    start: int  # seconds since the epoch
    end: int
    commit: str


@dataclass(frozen=True)
class GateResult:
    app: str
    window: str
    alpha: float
    canary: judge.Counts
    reference: judge.Counts | judge.Slo
    reference_name: str  # what the canary was compared with, for people
    judgement: judge.Judgement
    report: str

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.judgement.reasons


def check_window(window: str) -> str:
    if not _PROM_DURATION.fullmatch(window or ""):
        raise UsageError(f"--window {window!r} is not a Prometheus duration: use a number with s, m or h, like 5m")
    return window


_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _seconds(window: str) -> float:
    """Seconds of a Prometheus duration (`check_window` accepted it)."""
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", window))


def weighted_app(settings: Settings, app_name: str) -> WeightedApp:
    app = settings.apps.get(app_name)
    weighted = sorted(settings.apps_by_strategy("weighted"))
    if app is None:
        raise UsageError(f"no app {app_name!r} in the stack; weighted apps: {', '.join(weighted) or 'none'}")
    if not isinstance(app, WeightedApp):
        raise UsageError(
            f"apps.{app_name} has strategy {app.strategy!r}: Flagger runs its analysis; "
            f"the gate judges weighted apps only ({', '.join(weighted) or 'none in this stack'})"
        )
    return app


def policy(delivery: Delivery) -> judge.Policy:
    """The judge's parameters from the stack: alpha shared by the release's judged steps."""
    return judge.Policy(
        alpha=delivery.alpha / len(delivery.steps),
        error_tolerance=delivery.error_rate_tolerance,
        error_floor=delivery.error_rate_floor / 100,
        latency_tolerance=delivery.latency_tolerance,
    )


def evaluate(
    settings: Settings,
    app_name: str,
    prometheus_url: str,
    window: str = promql.WINDOW,
    previous: Previous | None = None,
) -> GateResult:
    """Query Prometheus and judge `app_name`'s canary over `window` (the time since its step began).
    Raises UsageError or UnavailableError when it cannot ask."""
    app = weighted_app(settings, app_name)
    check_window(window)
    ns, delivery = app.namespace, settings.delivery
    # Only the canary's current build: after a tag bump the window (from the commit's time) opens
    # before deploy's `pulumi up` replaced the pods, and the previous build's counts are not this
    # build's. Residual: on a weight-only step the window includes the minutes before deploy moved
    # the weight, counted at the previous weight of the same build (same build, so still its data).
    build = version_label(app.canary.tag)
    canary = counts(prometheus_url, ns, f"{app_name}-canary", window, build=build)
    reference: judge.Counts | judge.Slo
    if app.weights.canary < 100:
        reference, name = counts(prometheus_url, ns, f"{app_name}-ga", window), f"{app_name}-ga over the same window"
    else:
        reference, name = judge.Slo(delivery.slo.error_rate / 100, delivery.slo.p99_ms), "delivery.slo"
        if previous is not None and previous.end > previous.start:
            ga = counts(prometheus_url, ns, f"{app_name}-ga", f"{previous.end - previous.start}s", previous.end)
            if ga.requests > 0:
                reference = ga
                name = f"{app_name}-ga over the previous step (commit {previous.commit[:12]}, {ga.requests} requests)"
    recent = None
    if app.weights.canary > 0:
        recent = judge.Recent(
            promql.RECENT,
            _count(prometheus_url, promql.request_count(ns, f"{app_name}-canary", promql.RECENT, build=build)),
            _count(prometheus_url, promql.caller_error_count(ns, app_name)),
            app.weights.canary,
            canary.requests * _seconds(promql.RECENT) / max(1.0, _seconds(window)),
        )
    rules = policy(delivery)
    judgement = judge.judge(canary, reference, rules, recent)
    report = _report(app_name, app, prometheus_url, window, canary, reference, name, rules, judgement)
    return GateResult(app_name, window, rules.alpha, canary, reference, name, judgement, report)


def counts(
    prometheus_url: str, namespace: str, workload: str, window: str, at: int | None = None, build: str | None = None
) -> judge.Counts:
    """A side's requests, 5xx and histogram over `window` (ending at `at`, default now); with
    `build`, only the pods whose version label is that (model/labels.py)."""
    requests = _count(prometheus_url, promql.request_count(namespace, workload, window, at, build=build))
    errors = min(requests, _count(prometheus_url, promql.error_count(namespace, workload, window, at, build)))
    buckets: list[tuple[float, int]] = []
    query = promql.bucket_counts(namespace, workload, window, at, build)
    for labels, value in prometheus.query(prometheus_url, query):
        if math.isnan(value):
            continue  # no samples in the window for this bucket: nothing counted
        try:
            le = float(labels.get("le", ""))
        except ValueError:
            raise UnavailableError(
                f"Prometheus at {http.redact(prometheus_url)}: a bucket without a numeric le"
            ) from None
        buckets.append((le, _checked(prometheus_url, value)))
    buckets.sort()
    # increase() extrapolates each bucket on its own: keep the cumulative counts cumulative.
    running, monotone = 0, []
    for le, value in buckets:
        running = max(running, value)
        monotone.append((le, running))
    if monotone and not math.isinf(monotone[-1][0]):
        monotone = []  # no +Inf bucket: not the Istio histogram, nothing to judge latency on
    return judge.Counts(requests, errors, tuple(monotone))


def _checked(prometheus_url: str, value: float) -> int:
    if math.isnan(value):
        return 0
    if value < 0 or not math.isfinite(value) or value > 1e15:
        raise UnavailableError(
            f"Prometheus at {http.redact(prometheus_url)}: answered {value!r} for a count, which cannot be right"
        )
    return round(value)


def _count(prometheus_url: str, query: str) -> int:
    """The single value of a label-free count query; 0 when it is empty (no series: nothing counted)."""
    samples = prometheus.query(prometheus_url, query)
    if len(samples) > 1:
        raise UnavailableError(
            f"Prometheus at {http.redact(prometheus_url)}: {len(samples)} series for an aggregated query, expected one"
        )
    return _checked(prometheus_url, samples[0][1]) if samples else 0


def _side(c: judge.Counts) -> str:
    rate = f"{100 * c.errors / c.requests:.2f}%" if c.requests else "-"
    return f"{c.requests} requests, {c.errors} 5xx ({rate})"


def _report(app_name, app, url, window, canary, reference, name, rules, judgement) -> str:
    lines = [
        f"gate {app_name} (namespace {app.namespace}, {weights.split(app.weights.ga, app.weights.canary)}), "
        f"counts over {window}, {http.redact(url)}",
        f"  canary:    {_side(canary)}",
        f"  reference: {name}: "
        + (
            _side(reference)
            if isinstance(reference, judge.Counts)
            else f"error rate {100 * reference.error_rate:g}%, p99 {reference.p99_ms:g} ms"
        ),
        f"  alpha {rules.alpha:.4g} (delivery.alpha / steps); tolerance: error rate x{rules.error_tolerance:g} "
        f"or +{100 * rules.error_floor:g} points, slow share x{rules.latency_tolerance:g} "
        f"or +{100 * rules.latency_floor:g} points",
    ]
    if judgement.recent is not None:
        r = judgement.recent
        lines.append(f"  recent {r.window}: canary received {r.requests} requests, callers saw {r.caller_errors} 5xx")
    lines.append(f"{judgement.verdict.upper()}:")
    lines.extend(f"  {reason}" for reason in judgement.reasons)
    return "\n".join(lines)


# --- JSON ------------------------------------------------------------------------------------


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _counts_json(c: judge.Counts) -> dict[str, Any]:
    return {
        "requests": c.requests,
        "errors": c.errors,
        "buckets": [{"le": "+Inf" if math.isinf(le) else le, "count": n} for le, n in c.buckets],
    }


def to_json(result: GateResult) -> dict[str, Any]:
    """The `gate --json` document: the verdict with its evidence."""
    ref = result.reference
    return {
        "app": result.app,
        "verdict": result.verdict,
        "window": result.window,
        "alpha": result.alpha,
        "canary": _counts_json(result.canary),
        "reference": {"name": result.reference_name, "slo": None, **_counts_json(ref)}
        if isinstance(ref, judge.Counts)
        else {"name": result.reference_name, "slo": {"error_rate": ref.error_rate, "p99_ms": ref.p99_ms}},
        "recent": None
        if result.judgement.recent is None
        else {
            "window": result.judgement.recent.window,
            "requests": result.judgement.recent.requests,
            "caller_errors": result.judgement.recent.caller_errors,
        },
        "tests": [
            {
                "metric": t.metric,
                "verdict": t.verdict,
                "hypothesis": t.hypothesis,
                "canary": {"events": t.canary_events, "requests": t.canary_requests},
                "reference": {"events": t.reference_events, "requests": t.reference_requests},
                "boundary_ms": t.boundary_ms,
                "log_e_fail": _finite(t.log_e_fail),
                "log_e_pass": _finite(t.log_e_pass),
                "fail_bound": _finite(t.fail_bound),
                "pass_bound": _finite(t.pass_bound),
            }
            for t in result.judgement.tests
        ],
        "reasons": list(result.reasons),
    }


def previous_step(history: step_history.History, app: str, start: StepStart) -> Previous | None:
    """GA's reference range for a canary at 100: the previous step of the same release (the same
    canary build, canary weight between 0 and 100), from git; None when there is none."""
    before = start.before
    if before is None or not before.canary.same_as(start.after.canary):
        return None
    if not 0 < before.canary_weight < 100:
        return None
    found = history.previous_start(app, start)
    return None if found is None else Previous(found.committed_at, start.committed_at, found.commit)


def since_step(
    project_dir: Path, base: str | None, stack_file: str, app: str, now: float
) -> tuple[str, Previous | None]:
    """The window since `app`'s step began on `base` (at least a minute: increase() needs samples),
    and the previous step when the canary holds 100. `stack_file` is relative to `project_dir`."""
    base = step_history.resolve_base(project_dir, base)
    history = step_history.read(project_dir, base, stack_file)
    start = history.step_starts([app]).get(app)
    if start is None:
        raise UsageError(f"apps.{app} is not in {stack_file} on {base}: no step to judge since; give --window")
    window = f"{int(max(60, now - start.committed_at))}s"
    previous = previous_step(history, app, start) if start.after.canary_weight == 100 else None
    return window, previous
