"""Promotion gate: is a weighted app's canary as healthy as its GA side?

Flagger's analysis for the Git-driven weights. Asks Prometheus for the error rate and the p99
latency of `<app>-canary` and `<app>-ga` over a window (the PromQL of DESIGN.md "Metrics",
model/promql.py, shared with the alert rules and Flagger's MetricTemplates) and fails when the canary's error rate
exceeds GA's by more than `delivery.maxErrorRateDelta` percentage points, when its p99 exceeds
GA's times `delivery.maxLatencyRatio`, or when either side had no traffic to judge.

Bad input (app, window) raises UsageError; a Prometheus that cannot answer, UnavailableError.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from delivery.clients import http, prometheus
from delivery.errors import UnavailableError, UsageError
from model import promql, weights
from model.settings import Settings, WeightedApp

_PROM_DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")


@dataclass(frozen=True)
class SideMetrics:
    workload: str
    requests: float | None  # requests per second; None = no series at all
    error_rate: float | None  # percent
    p99: float | None  # milliseconds

    @property
    def has_traffic(self) -> bool:
        return self.requests is not None and self.requests > 0


@dataclass(frozen=True)
class GateResult:
    passed: bool
    report: str
    canary: SideMetrics
    ga: SideMetrics
    reasons: tuple[str, ...] = ()
    # False when a failure only means "nothing to judge" (no traffic or no latency histogram on a
    # side), not "the canary is worse": autopilot holds then, and rolls back only on a judged fail.
    judged: bool = True


def check_window(window: str) -> str:
    if not _PROM_DURATION.fullmatch(window or ""):
        raise UsageError(f"--window {window!r} is not a Prometheus duration: use a number with s, m or h, like 5m")
    return window


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


def evaluate(settings: Settings, app_name: str, prometheus_url: str, window: str = "5m") -> GateResult:
    """Query Prometheus and judge `app_name`'s canary. Raises UsageError or UnavailableError when it cannot judge."""
    app = weighted_app(settings, app_name)
    check_window(window)
    canary = _measure(prometheus_url, app.namespace, f"{app_name}-canary", window)
    ga = _measure(prometheus_url, app.namespace, f"{app_name}-ga", window)
    delta, ratio = settings.delivery.max_error_rate_delta, settings.delivery.max_latency_ratio

    reasons: list[str] = []
    for side in (canary, ga):
        if not side.has_traffic:
            reasons.append(f"no traffic to {side.workload} in the last {window}: nothing to judge")
    if canary.has_traffic and ga.has_traffic:
        # _measure gives every side with traffic an error rate (100 when no request succeeded).
        assert canary.error_rate is not None and ga.error_rate is not None
        if canary.error_rate - ga.error_rate > delta:
            reasons.append(
                f"canary error rate {canary.error_rate:.2f}% exceeds GA's {ga.error_rate:.2f}% "
                f"by more than delivery.maxErrorRateDelta = {delta:g} percentage points"
            )
        for side in (canary, ga):
            if side.p99 is None:
                reasons.append(f"no latency histogram for {side.workload} in the last {window}")
            elif math.isinf(side.p99):
                # histogram_quantile answers +Inf when the quantile is past the last bucket.
                reasons.append(f"p99 of {side.workload} is beyond the histogram's last bucket (+Inf): cannot judge")
        c99, g99 = canary.p99, ga.p99
        if c99 is not None and g99 is not None and math.isfinite(c99 + g99) and c99 > g99 * ratio:
            reasons.append(
                f"canary p99 {c99:.1f} ms exceeds GA's {g99:.1f} ms "
                f"times delivery.maxLatencyRatio = {ratio:g} ({g99 * ratio:.1f} ms)"
            )

    passed = not reasons
    # An infinite p99 (past the last bucket) fails the gate but judges nothing: no verdict to act on.
    judged = (
        canary.has_traffic
        and ga.has_traffic
        and canary.p99 is not None
        and ga.p99 is not None
        and math.isfinite(canary.p99 + ga.p99)
    )
    report = _report(app_name, app, prometheus_url, window, canary, ga, delta, ratio, reasons)
    return GateResult(passed=passed, report=report, canary=canary, ga=ga, reasons=tuple(reasons), judged=judged)


def _value(prometheus_url: str, query: str, most: float = math.inf, inf_ok: bool = False) -> float | None:
    """The single value of a label-free query; None when it is empty or NaN (0/0: no traffic).

    A value no such query can have (negative, above `most`, or infinite unless `inf_ok`) is an
    answer this tool cannot trust: UnavailableError, so the gate never passes on it."""
    samples = prometheus.query(prometheus_url, query)
    where = f"Prometheus at {http.redact(prometheus_url)}"
    if len(samples) > 1:
        raise UnavailableError(f"{where}: {len(samples)} series for an aggregated query, expected one")
    if not samples or math.isnan(samples[0][1]):
        return None
    value = samples[0][1]
    if value < 0 or (math.isinf(value) and not inf_ok) or (math.isfinite(value) and value > most):
        raise UnavailableError(f"{where}: answered {value!r} for {query.split('(', 1)[0]}(...), which cannot be right")
    return value


def _measure(prometheus_url: str, namespace: str, workload: str, window: str) -> SideMetrics:
    requests = _value(prometheus_url, promql.request_rate(namespace, workload, window), most=1e12)
    error_rate = _value(prometheus_url, promql.error_rate(namespace, workload, window), most=100.0)
    if requests and error_rate is None:
        # The error-rate query is empty when no request succeeded (nothing to sum but 5xx).
        error_rate = 100.0
    p99 = _value(prometheus_url, promql.p99_latency(namespace, workload, window), most=1e12, inf_ok=True)
    return SideMetrics(workload=workload, requests=requests, error_rate=error_rate, p99=p99)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _report(app_name, app, url, window, canary, ga, delta, ratio, reasons) -> str:
    lines = [
        f"gate {app_name} (namespace {app.namespace}, {weights.split(app.weights.ga, app.weights.canary)}), "
        f"window {window}, {http.redact(url)}",
        f"  {'':<18}{'canary':>12}{'ga':>12}   limit",
        f"  {'requests/s':<18}{_fmt(canary.requests, '.2f'):>12}{_fmt(ga.requests, '.2f'):>12}   > 0 on both sides",
        f"  {'error rate (%)':<18}{_fmt(canary.error_rate, '.2f'):>12}{_fmt(ga.error_rate, '.2f'):>12}"
        f"   canary <= ga + {delta:g}",
        f"  {'p99 latency (ms)':<18}{_fmt(canary.p99, '.1f'):>12}{_fmt(ga.p99, '.1f'):>12}   canary <= ga x {ratio:g}",
    ]
    if reasons:
        lines.append("FAIL: " + reasons[0])
        lines.extend("      " + reason for reason in reasons[1:])
    else:
        lines.append("PASS: the canary is as healthy as GA")
    return "\n".join(lines)
