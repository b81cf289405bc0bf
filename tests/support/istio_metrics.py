"""Istio sidecar metrics as tests need them: a workload's traffic described once, written either
as OpenMetrics text (for `promtool tsdb create-blocks-from openmetrics` and a real Prometheus)
or as `promtool test rules` input series.

Series carry the labels Istio's sidecars report (`reporter`, `destination_workload`,
`destination_workload_namespace`, `response_code`, `le`); every request of a workload takes
`latency_ms` (a `slow_ratio` share takes `slow_ms` instead), so with no slow share its p99 is the
99% point of that latency's histogram bucket. `until` ends a workload's series (its pods are gone)
that many seconds after "now" (negative: before); `caller_5xx_rps` is what callers' sidecars
(`reporter="source"`) report as 503 for its app once it is gone, with the labels Istio gives a
request that found no healthy upstream: `response_flags="UH"`, `destination_workload="unknown"`,
`destination_version="unknown"`, the app's service in `destination_service*` (istio/istio#31728).
`version` is the pods' `version` label, reported as `destination_version`. `first_5xx_at` adds a
500 series born at 1 that many seconds from "now", as a sidecar creates it at the first 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass

# Istio's default request-duration buckets (ms), up to where these tests need them.
BUCKETS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


@dataclass(frozen=True)
class Workload:
    namespace: str
    name: str
    rps: float = 0.0  # requests per second; 0 with `present` = series that stopped growing
    error_ratio: float = 0.0  # share of requests answered 500
    latency_ms: float = 40.0
    present: bool = True  # False: the sidecar never reported anything
    slow_ratio: float = 0.0
    slow_ms: float = 300.0
    until: int | None = None
    caller_5xx_rps: float = 0.0
    version: str = "unknown"
    first_5xx_at: int | None = None

    @property
    def app(self) -> str:
        """The app (its Service's name): scenario workloads are named `<app>-canary` / `<app>-ga`."""
        return self.name.rsplit("-", 1)[0]

    def labels(self, reporter: str = "destination", **extra: str) -> str:
        labels = {
            "reporter": reporter,
            "destination_workload": self.name,
            "destination_workload_namespace": self.namespace,
            "destination_version": self.version,
            "destination_service": f"{self.app}.{self.namespace}.svc.cluster.local",
            "destination_service_name": self.app,
            "destination_service_namespace": self.namespace,
            "response_flags": "-",
            **extra,
        }
        return ",".join(f'{k}="{v}"' for k, v in labels.items())

    def request_series(self) -> list[tuple[str, float]]:
        """(labels, requests per second) of each istio_requests_total series."""
        if not self.present:
            return []
        series = []
        if self.error_ratio < 1 or self.rps == 0:
            series.append((self.labels(response_code="200"), self.rps * (1 - self.error_ratio)))
        if self.error_ratio > 0 and self.rps > 0:
            series.append((self.labels(response_code="500"), self.rps * self.error_ratio))
        return series

    def caller_series(self) -> list[tuple[str, float]]:
        """(labels, requests per second) the callers' sidecars report as failed for this workload."""
        if not self.caller_5xx_rps:
            return []
        unrouted = {"destination_workload": "unknown", "destination_version": "unknown", "response_flags": "UH"}
        return [(self.labels(reporter="source", response_code="503", **unrouted), self.caller_5xx_rps)]

    def bucket_series(self) -> list[tuple[str, float]]:
        """(labels, observations per second) of each duration bucket, +Inf included."""
        if not self.present:
            return []
        bounds = [*(format(b, "g") for b in BUCKETS), "+Inf"]
        fast, slow = self.rps * (1 - self.slow_ratio), self.rps * self.slow_ratio

        def at_most(le: str) -> float:
            bound = float(le)
            return (fast if bound >= self.latency_ms else 0.0) + (slow if bound >= self.slow_ms else 0.0)

        return [(self.labels(le=le), at_most(le)) for le in bounds]

    def expected_count(self, seconds: float, errors: bool = False) -> float:
        """What increase() over the last `seconds` answers for this workload's requests (or 5xx)."""
        return self.rps * seconds * (self.error_ratio if errors else 1)


def expected_p99(latency_ms: float) -> float:
    """What histogram_quantile(0.99, ...) answers when every request takes `latency_ms`."""
    upper = next(b for b in BUCKETS if b >= latency_ms)
    lower = max([0, *(b for b in BUCKETS if b < latency_ms)])
    return lower + (upper - lower) * 0.99


def openmetrics(workloads: list[Workload], now: int, before: int = 1800, after: int = 900, step: int = 15) -> str:
    """Counters from `now - before` to `now + after` (seconds), so instant queries made at any
    moment of a test run see a full window of data."""
    start = now - before
    times = range(start, now + after + 1, step)
    # Counters start above zero, as a pod that has been serving for a while reports them.
    base = 1000.0
    lines = ["# TYPE istio_requests counter"]

    def until(w: Workload) -> list[int]:
        return [t for t in times if w.until is None or t <= now + w.until]

    for w in workloads:
        for labels, rate in w.request_series():
            lines.extend(f"istio_requests_total{{{labels}}} {base + rate * (t - start):.3f} {t}" for t in until(w))
        # Callers outlive the workload: they keep reporting what they receive for it.
        for labels, rate in w.caller_series():
            lines.extend(f"istio_requests_total{{{labels}}} {base + rate * (t - start):.3f} {t}" for t in times)
        if w.first_5xx_at is not None:
            labels = w.labels(response_code="500")
            lines.extend(f"istio_requests_total{{{labels}}} 1 {t}" for t in times if t >= now + w.first_5xx_at)
    lines.append("# TYPE istio_request_duration_milliseconds histogram")
    for w in workloads:
        for labels, rate in w.bucket_series():
            lines.extend(
                f"istio_request_duration_milliseconds_bucket{{{labels}}} {base + rate * (t - start):.3f} {t}"
                for t in until(w)
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def rule_test_series(workloads: list[Workload], minutes: int) -> list[dict]:
    """`input_series` for `promtool test rules` with `interval: 1m`."""
    series = []
    for w in workloads:
        for labels, rate in w.request_series():
            series.append({"series": f"istio_requests_total{{{labels}}}", "values": f"1000+{rate * 60:.10g}x{minutes}"})
        for labels, rate in w.bucket_series():
            series.append(
                {
                    "series": f"istio_request_duration_milliseconds_bucket{{{labels}}}",
                    "values": f"1000+{rate * 60:.10g}x{minutes}",
                }
            )
    return series
