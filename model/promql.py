"""The canary analyses as PromQL (DESIGN.md "Metrics"): one definition for every consumer.

Flagger's MetricTemplates (components/flagger.py), the alert rules (components/alert_rules.py)
and the promotion gate (delivery/release/gate.py) all run these queries. Pure data, no Pulumi.
"""

from __future__ import annotations

# The analysis window of the rules and the gate's default: long enough to smooth a 5 QPS
# load test, short enough to notice a bad canary within minutes.
WINDOW = "5m"
# A success is a non-5xx answer whose gRPC status, if any, is OK: a gRPC failure is an HTTP 200 with
# `grpc_response_status` set (Istio standard metrics, "Labels"); HTTP traffic leaves the label empty.
NOT_5XX = ',response_code!~"5.*",grpc_response_status=~"|0"'


def selector(namespace: str, workload: str, extra: str = "", reporter: str = "destination") -> str:
    return (
        f'reporter="{reporter}",destination_workload_namespace="{namespace}",destination_workload=~"{workload}"{extra}'
    )


def routed_rate(namespace: str, workload: str, window: str = WINDOW) -> str:
    """Requests per second the callers' sidecars (gateway, load tester, other apps) sent to the
    workload: what the mesh routes to it, whatever its own pods report."""
    return f"sum(rate(istio_requests_total{{{selector(namespace, workload, reporter='source')}}}[{window}]))"


def request_rate(namespace: str, workload: str, window: str = WINDOW) -> str:
    """Requests per second the workload's sidecars received."""
    return f"sum(rate(istio_requests_total{{{selector(namespace, workload)}}}[{window}]))"


def error_rate(namespace: str, workload: str, window: str = WINDOW) -> str:
    """Percent of requests answered 5xx: the DESIGN.md query, as Flagger's `error-rate` runs it."""
    ok = f"sum(rate(istio_requests_total{{{selector(namespace, workload, NOT_5XX)}}}[{window}]))"
    return f"100 - {ok} / {request_rate(namespace, workload, window)} * 100"


def p99_latency(namespace: str, workload: str, window: str = WINDOW) -> str:
    """99th percentile request duration in milliseconds."""
    return (
        "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket"
        f"{{{selector(namespace, workload)}}}[{window}])) by (le))"
    )


# --- counts for the judge (delivery/release/judge.py) ---------------------------------------------
# The judge wants counts since the release step began, not rates: `increase()` over the step's
# range, evaluated at its end with the `@` modifier when the range is in the past (Prometheus >= 2.25
# behind a flag, on by default since 2.33: https://prometheus.io/docs/prometheus/latest/querying/basics/#modifier).
FIVE_XX = ',response_code=~"5.*"'
# "Serving now": a few scrapes (observability's 15s interval) back from the newest.
RECENT = "2m"
# What a caller's sidecar reports when it has nowhere to send a request: no healthy upstream (UH),
# no route (NR), upstream retry limit exceeded (URX). Envoy's response flags:
# https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#command-operators
NO_UPSTREAM = ',response_flags=~"UH|NR|URX"'


def _at(at: int | None) -> str:
    return "" if at is None else f" @ {at}"


def version(tag_label: str | None) -> str:
    """The selector's part for one build: Istio reports the pod's `version` label as
    `destination_version` (model/labels.py)."""
    return "" if tag_label is None else f',destination_version="{tag_label}"'


def _counted(metric: str, labels: str, window: str, at: int | None, by: str = "") -> str:
    """`sum(increase(...))` plus what increase() cannot see: a series born inside the window.

    increase() takes the difference between a series' samples in the range, so a counter whose
    series appears inside it (a canary's first 5xx creates its `response_code="500"` series at 1)
    loses everything before its first sample (https://github.com/prometheus/prometheus/issues/1673).
    For each series absent at the window's start, its first value in the window is added
    (min_over_time of a counter that has not reset: its first sample; Istio's counters start at 0
    when the series is created). Only when Prometheus had Istio samples at the window's start: a
    window reaching back before Prometheus' data would otherwise count whole lifetimes as new.
    Residual: a series created in the window that had restarted its counter before the first scrape.
    """
    series, at_s = f"{metric}{{{labels}}}", _at(at)
    increase = f"increase({series}[{window}]{at_s})"
    born = (
        f"(min_over_time({series}[{window}]{at_s}) unless {series}{at_s} offset {window})"
        f" and on() count({metric}{at_s} offset {window})"
    )
    return f"sum{by} ({increase} + (({born}) or ({increase} * 0)))"


def request_count(
    namespace: str, workload: str, window: str, at: int | None = None, extra: str = "", build: str | None = None
) -> str:
    """Requests (with `extra`: only those matching it; with `build`: only that version label's pods)
    the workload's sidecars received over `window`."""
    return _counted("istio_requests_total", selector(namespace, workload, extra + version(build)), window, at)


def error_count(namespace: str, workload: str, window: str, at: int | None = None, build: str | None = None) -> str:
    """Requests the workload answered 5xx over `window`."""
    return request_count(namespace, workload, window, at, FIVE_XX, build)


def bucket_counts(namespace: str, workload: str, window: str, at: int | None = None, build: str | None = None) -> str:
    """Per `le`, the requests that took at most that many ms over `window` (cumulative, +Inf = all)."""
    labels = selector(namespace, workload, version(build))
    return _counted("istio_request_duration_milliseconds_bucket", labels, window, at, " by (le)")


def caller_error_count(namespace: str, app: str, window: str = RECENT) -> str:
    """5xx the callers' sidecars report for requests to the app's canary: what its callers receive.

    Two kinds. Answers from the canary's pods carry `destination_workload="<app>-canary"`. A caller
    with no ready canary endpoint answers 503 itself, with response flag UH (or NR, URX) and
    `destination_workload="unknown"`: only the destination service names the app
    (istio/istio#22154, #31728). Istio's labels do not name the subset there, so those count for
    the canary, which the judge asks only when the canary received no request in the window.
    """
    own = selector(namespace, f"{app}-canary", FIVE_XX, reporter="source")
    unrouted = (
        f'reporter="source",destination_service_namespace="{namespace}",destination_service_name="{app}",'
        f'destination_workload="unknown"{FIVE_XX}{NO_UPSTREAM}'
    )
    return (
        f"({_counted('istio_requests_total', own, window, None)} or vector(0))"
        f" + ({_counted('istio_requests_total', unrouted, window, None)} or vector(0))"
    )
