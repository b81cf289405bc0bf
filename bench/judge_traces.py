"""Simulated release traces for `make bench-judge`, and the three baseline judges, vectorised.

A trace is one canary step watched for an hour: per minute, Poisson request counts (the canary at
`rate` requests/s, GA at 9x: canary weight 10), Binomial 5xx, Multinomial request-duration bucket
counts from a log-normal latency (median 40 ms, sigma 0.6) over Istio's default buckets. Everything
is drawn per minute and per run at once (numpy), never per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The request-duration buckets (ms) Istio's sidecars report: Envoy's default histogram buckets
# (envoyproxy/envoy source/common/stats/histogram_impl.cc, HistogramSettingsImpl::defaultBuckets).
BUCKETS = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)
MINUTES, LOOK_EVERY = 60, 10
GA_SHARE = 9  # GA 90 / canary 10
BASE_ERRORS, MEDIAN_MS, SIGMA = 0.01, 40.0, 0.6
STOP_MINUTE = 5  # "stops serving": before the first look, so any promotion promotes a dead canary


def _bucket_probabilities(median: float) -> np.ndarray:
    """P(latency in each bucket), +Inf bucket last, for a log-normal latency."""
    cdf = [0.5 * (1 + math.erf(math.log(b / median) / (SIGMA * math.sqrt(2)))) for b in BUCKETS]
    return np.diff([0.0, *cdf, 1.0])


def true_p99(median: float = MEDIAN_MS) -> float:
    return median * math.exp(2.3263 * SIGMA)


@dataclass(frozen=True)
class Effect:
    name: str
    errors: float = 1.0  # times GA's error rate
    latency: float = 1.0  # times GA's latency
    stops: bool = False

    @property
    def is_regression(self) -> bool:
        return self.errors > 1 or self.latency > 1 or self.stops


EFFECTS = (
    Effect("identical"),
    Effect("errors 1.5x", errors=1.5),
    Effect("errors 2x", errors=2.0),
    Effect("errors 4x", errors=4.0),
    Effect("latency 1.3x", latency=1.3),
    Effect("latency 2x", latency=2.0),
    Effect("stops serving", stops=True),
)


@dataclass
class Side:
    requests: np.ndarray  # (runs, minutes)
    errors: np.ndarray  # (runs, minutes)
    buckets: np.ndarray  # (runs, minutes, len(BUCKETS) + 1): per-bucket (not cumulative) counts


def simulate(rng: np.random.Generator, runs: int, rate: float, effect: Effect) -> tuple[Side, Side]:
    def side(per_minute: float, errors: float, median: float) -> Side:
        n = rng.poisson(per_minute, (runs, MINUTES))
        return Side(n, rng.binomial(n, errors), rng.multinomial(n, _bucket_probabilities(median)))

    canary = side(rate * 60, min(1.0, BASE_ERRORS * effect.errors), MEDIAN_MS * effect.latency)
    if effect.stops:
        canary.requests[:, STOP_MINUTE:] = 0
        canary.errors[:, STOP_MINUTE:] = 0
        canary.buckets[:, STOP_MINUTE:, :] = 0
    return canary, side(rate * 60 * GA_SHARE, BASE_ERRORS, MEDIAN_MS)


def histogram_quantile(q: float, buckets: np.ndarray) -> np.ndarray:
    """Prometheus's histogram_quantile on per-bucket counts (last axis): linear inside the bucket,
    the last finite bound when the rank falls in +Inf, NaN with no observations."""
    cumulative = np.cumsum(buckets, axis=-1)
    total = cumulative[..., -1]
    rank = q * total
    index = np.argmax(cumulative >= rank[..., None], axis=-1)
    bounds = np.array([*BUCKETS, np.inf])
    lower = np.where(index > 0, bounds[np.maximum(index - 1, 0)], 0.0)
    below = np.take_along_axis(cumulative, np.maximum(index - 1, 0)[..., None], -1)[..., 0] * (index > 0)
    inside = np.take_along_axis(buckets, index[..., None], -1)[..., 0]
    upper = bounds[index]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = lower + (upper - lower) * (rank - below) / inside
    value = np.where(index == len(BUCKETS), BUCKETS[-1], value)
    return np.where(total > 0, value, np.nan)


def window(values: np.ndarray, end: int, width: int) -> np.ndarray:
    """Sum over minutes [end - width, end) (axis 1)."""
    return values[:, max(0, end - width) : end].sum(axis=1)


# --- (b) today's point-estimate gate -------------------------------------------------------------


def point_estimate(canary: Side, ga: Side, end: int) -> tuple[np.ndarray, np.ndarray]:
    """(fail, pass) at a look: rate() over the bake window (10m), maxErrorRateDelta 1 point and
    maxLatencyRatio 1.25; holds when the canary had no traffic in the window."""
    nc, ng = window(canary.requests, end, 10), window(ga.requests, end, 10)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = 100 * window(canary.errors, end, 10) / nc - 100 * window(ga.errors, end, 10) / ng
    p99c, p99g = (
        histogram_quantile(0.99, window(canary.buckets, end, 10)),
        histogram_quantile(0.99, window(ga.buckets, end, 10)),
    )
    judged = (nc > 0) & (ng > 0)
    fail = judged & ((delta > 1.0) | (p99c > 1.25 * p99g))
    return fail, judged & ~fail


# --- (c) Flagger-style fixed thresholds -------------------------------------------------------------

FLAGGER_THRESHOLD = 2  # failed checks before rollback
FLAGGER_PROMOTE_AFTER = 3  # successful checks to walk 10 -> 60 -> 100
# Oracle thresholds: the judge's tolerance applied to GA's true rates, which a Flagger user must guess.
FLAGGER_MAX_ERROR_PERCENT = 100 * max(1.25 * BASE_ERRORS, BASE_ERRORS + 0.001)
# p99 as histogram_quantile reads it from GA's expected histogram (what a dashboard shows), not the true one.
FLAGGER_MAX_P99_MS = 1.25 * float(histogram_quantile(0.99, _bucket_probabilities(MEDIAN_MS)))


def flagger_check(canary: Side, end: int) -> np.ndarray:
    """Whether each run's check over the last interval failed ("no values found" fails too)."""
    n = window(canary.requests, end, LOOK_EVERY)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = 100 * window(canary.errors, end, LOOK_EVERY) / n
    p99 = histogram_quantile(0.99, window(canary.buckets, end, LOOK_EVERY))
    return (n == 0) | (rate > FLAGGER_MAX_ERROR_PERCENT) | (p99 > FLAGGER_MAX_P99_MS)


# --- (d) fixed-horizon Mann-Whitney, like Kayenta's ----------------------------------------------

KAYENTA_CONFIDENCE = 0.98  # two-sided, Kayenta's MannWhitney classifier default


def mann_whitney_high(canary: np.ndarray, ga: np.ndarray) -> bool:
    """Is the canary's per-minute metric higher than GA's? Two-sided U test (normal approximation
    with tie correction, as Apache Commons Math's MannWhitneyUTest Kayenta uses) at 98 %."""
    canary, ga = canary[~np.isnan(canary)], ga[~np.isnan(ga)]
    n1, n2 = len(canary), len(ga)
    if n1 < 3 or n2 < 3:
        return False
    values = np.concatenate([canary, ga])
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ((counts**3 - counts).sum()) / (n * (n - 1)))
    if variance <= 0:
        return False
    z = (u - n1 * n2 / 2) / math.sqrt(variance)
    p = math.erfc(abs(z) / math.sqrt(2))
    return p < 1 - KAYENTA_CONFIDENCE and z > 0
