"""The canary analyses as PromQL (DESIGN.md "Metrics"): one definition for every consumer.

Flagger's MetricTemplates (components/flagger.py), the alert rules (components/alert_rules.py)
and the promotion gate (delivery/release/gate.py) all run these queries. Pure data, no Pulumi.
"""

from __future__ import annotations

# The analysis window of the rules and the gate's default: long enough to smooth a 5 QPS
# load test, short enough to notice a bad canary within minutes.
WINDOW = "5m"
NOT_5XX = ',response_code!~"5.*"'


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


def _at(at: int | None) -> str:
    return "" if at is None else f" @ {at}"


def request_count(namespace: str, workload: str, window: str, at: int | None = None, extra: str = "") -> str:
    """Requests (with `extra`: only those matching it) the workload's sidecars received over `window`."""
    return f"sum(increase(istio_requests_total{{{selector(namespace, workload, extra)}}}[{window}]{_at(at)}))"


def error_count(namespace: str, workload: str, window: str, at: int | None = None) -> str:
    """Requests the workload answered 5xx over `window`."""
    return request_count(namespace, workload, window, at, FIVE_XX)


def bucket_counts(namespace: str, workload: str, window: str, at: int | None = None) -> str:
    """Per `le`, the requests that took at most that many ms over `window` (cumulative, +Inf = all)."""
    return (
        "sum by (le) (increase(istio_request_duration_milliseconds_bucket"
        f"{{{selector(namespace, workload)}}}[{window}]{_at(at)}))"
    )


def caller_error_count(namespace: str, workload: str, window: str = RECENT) -> str:
    """5xx the callers' sidecars report for requests to the workload: what its callers receive."""
    return (
        f"sum(increase(istio_requests_total{{{selector(namespace, workload, FIVE_XX, reporter='source')}}}[{window}]))"
    )
