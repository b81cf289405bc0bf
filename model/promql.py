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
