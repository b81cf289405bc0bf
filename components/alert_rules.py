"""Prometheus alerting rules for the Git-driven weights.

The rules never depend on the weights: they ship in the Prometheus release, and a weights edit
(a promote or a rollback) must change the VirtualService and nothing else. Whether a canary holds
weight is read from live traffic instead: the callers' sidecars report what they route to it.

Flagger judges the canaries it drives; nobody judges a weighted app's canary between two PRs.
These rules do, with the judge's tolerances (`delivery.errorRateTolerance`, `delivery.errorRateFloor`,
`delivery.latencyTolerance`, read here as a p99 ratio), so a canary that goes bad after its weight was raised pages
someone instead of waiting for the next `promote`. They ship as the prometheus chart's
`serverFiles."alerting_rules.yml"` (the file its default `rule_files` already loads).
Pure data: the Observability component installs them.
"""

from __future__ import annotations

from model.promql import NOT_5XX, WINDOW, p99_latency, request_rate, routed_rate, selector
from model.settings import Settings, WeightedApp

# How long a condition must hold before it pages: one window, so one slow scrape or a
# pod restart does not.
FOR = "5m"
SEVERITY = "warning"


def _alert_error_rate(namespace: str, workload: str, window: str) -> str:
    # The DESIGN.md form is empty, not 100, when *every* request fails (no non-5xx series
    # exists to sum): an alert built on it would stay silent for the worst canary of all.
    ok = f"sum(rate(istio_requests_total{{{selector(namespace, workload, NOT_5XX)}}}[{window}]))"
    return f"(100 - ({ok} or vector(0)) / {request_rate(namespace, workload, window)} * 100)"


def _labels(name: str, app: WeightedApp) -> dict[str, str]:
    return {"severity": SEVERITY, "app": name, "namespace": app.namespace}


def app_rules(name: str, app: WeightedApp, settings: Settings, window: str = WINDOW) -> list[dict]:
    ns, canary, ga = app.namespace, f"{name}-canary", f"{name}-ga"
    delivery = settings.delivery
    tolerance, floor, ratio = delivery.error_rate_tolerance, delivery.error_rate_floor, delivery.latency_tolerance
    canary_errors, ga_errors = _alert_error_rate(ns, canary, window), _alert_error_rate(ns, ga, window)
    return [
        {
            # The judge's tolerance on point estimates: above both GA x tolerance and GA + floor.
            "alert": "CanaryErrorRateAboveGA",
            "expr": (
                f"({canary_errors} > {ga_errors} * {tolerance:g}) and ({canary_errors} > {ga_errors} + {floor:g})"
            ),
            "for": FOR,
            "labels": _labels(name, app),
            "annotations": {
                "summary": (
                    f"{name}: canary error rate exceeds {tolerance:g} times GA's and GA's + {floor:g} percentage points"
                ),
                "description": (
                    f'{canary} in {ns} answers {{{{ $value | printf "%.2f" }}}} % 5xx over {window}, more than '
                    f"{tolerance:g} times {ga}'s and {floor:g} points above it (delivery.errorRateTolerance, "
                    "delivery.errorRateFloor). "
                    "Lower its weight in the stack file or revert the tag."
                ),
            },
        },
        {
            "alert": "CanaryLatencyAboveGA",
            "expr": f"{p99_latency(ns, canary, window)} > {p99_latency(ns, ga, window)} * {ratio:g}",
            "for": FOR,
            "labels": _labels(name, app),
            "annotations": {
                "summary": f"{name}: canary p99 latency is more than {ratio:g} times GA's",
                "description": (
                    f'{canary} in {ns} has a p99 of {{{{ $value | printf "%.0f" }}}} ms over {window}, '
                    f"above {ratio:g} times {ga}'s (delivery.latencyTolerance). "
                    "Lower its weight in the stack file or revert the tag."
                ),
            },
        },
        {
            # Callers route requests to the canary (so it holds weight) but its own sidecar
            # receives none: pods outside the mesh (admitted before the injector was up), a
            # broken sidecar or route. At weight 0 nothing is routed to it and this stays silent.
            "alert": "CanaryWithoutTraffic",
            "expr": (f"{routed_rate(ns, canary, window)} > 0 unless on() ({request_rate(ns, canary, window)} > 0)"),
            "for": FOR,
            "labels": _labels(name, app),
            "annotations": {
                "summary": f"{name}: the mesh routes requests to the canary but it receives none",
                "description": (
                    f'Callers sent {canary} in {ns} {{{{ $value | printf "%.2f" }}}} requests/s over '
                    f"{window}, yet its sidecar reported none: its pods, sidecars or route are broken, "
                    "and neither the gate nor these alerts can judge it."
                ),
            },
        },
    ]


def alerting_rules(settings: Settings) -> dict:
    """The content of `alerting_rules.yml`: one rule group per weighted app."""
    groups = [
        {"name": f"istio-canary-{name}", "rules": app_rules(name, app, settings)}
        for name, app in settings.apps.items()
        if isinstance(app, WeightedApp)
    ]
    return {"groups": groups}
