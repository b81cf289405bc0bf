"""Error rate of a gRPC service through a real Prometheus: a gRPC failure is an HTTP 200 with a
non-OK `grpc_response_status` (Istio standard metrics), so the error-rate query Flagger, the alerts
and the dashboards run must count it as an error, and HTTP traffic (no gRPC status) as before."""

from __future__ import annotations

import time

import pytest

from delivery.clients import prometheus as client
from model import promql
from tests.support import servers

SERIES = (
    # (response_code, grpc_response_status, requests per second)
    ("200", "0", 9.0),  # gRPC OK
    ("200", "14", 1.0),  # gRPC UNAVAILABLE, answered with HTTP 200
    ("200", "", 30.0),  # plain HTTP success
    ("503", "", 10.0),  # plain HTTP failure
)


def _openmetrics(now: int) -> str:
    lines = ["# TYPE istio_requests counter"]
    for workload, series in (("rpc", SERIES[:2]), ("web", SERIES[2:])):
        for code, grpc, rps in series:
            labels = (
                f'reporter="destination",destination_workload_namespace="team",destination_workload="{workload}",'
                f'response_code="{code}",grpc_response_status="{grpc}"'
            )
            lines += [f"istio_requests_total{{{labels}}} {rps * t:.1f} {now - 900 + t}" for t in range(0, 1200, 15)]
    return "\n".join([*lines, "# EOF", ""])


@pytest.mark.slow  # a real Prometheus
def test_the_error_rate_counts_failed_grpc_calls_and_http_5xx(tmp_path):
    now = int(time.time())
    with servers.prometheus(tmp_path, _openmetrics(now)) as url:
        (rpc,) = client.query(url, promql.error_rate("team", "rpc", "5m"))
        (web,) = client.query(url, promql.error_rate("team", "web", "5m"))
    assert rpc[1] == pytest.approx(10.0, abs=0.5)  # 1 of 10 calls failed
    assert web[1] == pytest.approx(25.0, abs=0.5)  # 10 of 40 requests answered 503
