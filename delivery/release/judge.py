"""The canary judge: a pure function of counts (no I/O) with a stated error guarantee.

Data. For each side, counted since the release step began (Prometheus `increase(...)` over the
step's time range from git): requests `n`, 5xx answers `x`, and the cumulative request-duration
histogram (`le` -> requests at most that many ms). The reference side is GA during the step, or,
for a canary at 100 (GA gets no traffic), GA during the previous step of the same release, or
else the stack's SLO (`delivery.slo`).

Model. Every request of a side is an independent Bernoulli trial: it fails (5xx) with probability
`pc` on the canary and `pg` on GA, and is "slow" (slower than a bucket boundary `b`) with
probability `sc` / `sg`. Requests may interleave in any order chosen by traffic.

Hypotheses (errors; latency reads the same with slow shares `sc`, `sg`, `latencyTolerance` and the
floor `LATENCY_FLOOR`):

    tolerance h(pg) = min(1, max(rho * pg, pg + floor))   rho = delivery.errorRateTolerance,
                                                          floor = delivery.errorRateFloor / 100
    H_ok  : pc <= h(pg)    the canary is not worse than GA beyond the tolerance
    H_bad : pc >= h(pg)    the canary is worse than GA beyond the tolerance

Statistics: e-processes, nonnegative processes with expectation at most 1 under their null at
every stopping time; by Ville's inequality one ever reaches 1/a with probability at most a, at
every look and however often the judge is asked. Each depends on the counts only, so a stateless
caller (autopilot, run every few minutes) may ask at any time.

- H_ok is the union of A = {pc <= rho pg} and B = {pc <= pg + floor, pg <= floor / (rho - 1)} (the
  floor's part beyond A). `fail` needs evidence against both (an intersection-union test: under
  H_ok one of them is true, so no split of alpha).
  A: given the total of events x = xc + xg, the canary's share is Binomial(x, theta) with
  theta <= rho nc / (rho nc + ng) under A when the counts are Poisson (rare events: exact in the
  limit, the model of Lindon et al., "Rapid regression detection in software deployments through
  sequential testing", KDD 2022); the statistic is the beta-binomial mixture over theta (a Beta
  centred on A's boundary) divided by the likelihood maximised over A's thetas. GA's rate, a
  nuisance, drops out.
  B: both binomials, a Jeffreys Beta(1/2, 1/2) mixture on each rate divided by the likelihood
  maximised over B ("universal inference", Wasserman, Ramdas and Balakrishnan, PNAS 2020: for every
  (pc, pg) in B, mixture / likelihood is a test martingale, and the maximum is at least it).
- H_bad lies in {pc >= rho pg} and in {pc >= pg + floor}: `pass` uses the mean of their two
  e-processes (an e-process under both), computed the same way with the inequalities reversed.

Verdicts, at level `alpha` (the caller passes delivery.alpha / len(delivery.steps); "Scope of
alpha" below says what a whole release then stays within):

- `fail` when the evidence against H_ok reaches 2/alpha on errors or 2k/alpha on latency at one of
  its k boundaries (alpha split in two, latency's half over its boundaries): a canary within
  tolerance on both is failed with probability at most alpha, over all looks (for latency, see
  "Latency boundaries" on boundaries re-chosen between looks);
- `pass` when the evidence against H_bad reaches 1/alpha on errors and on latency: a canary beyond
  the tolerance on either is passed with probability at most alpha (the data had the power to see
  a regression of the tolerance's size). A canary exactly at the tolerance is never decided;
- `inconclusive` otherwise (too little data yet: hold).

Latency boundaries. Against GA, both edges of GA's p99 bucket: the lower edge (the largest `le`
with at least 1 % of GA's requests slower) and the upper edge (the smallest `le` with under 1 % of
GA's requests slower). The upper edge sees a canary slower than GA's whole p99 bucket (GA at 40 ms
sits inside (25, 50]: a canary at 240 ms has every request slower than 50 ms, GA none); the lower
edge sees a canary that piles more requests into that bucket (GA 2 % at 300 ms in (250, 500], the
canary 20 %). An edge where GA's slow share leaves no room (tolerance >= 100 %, e.g. all of GA
inside the bucket) is not tested. `fail` splits latency's alpha over the edges tested (Bonferroni);
`pass` needs every edge to pass (an intersection-union test, no split). The slow share's floor is
`LATENCY_FLOOR` (1 point, the p99's own 1 %), not `errorRateFloor`: a share of requests beyond a
latency boundary is not an error rate, and GA's share at the upper edge is under 1 % by
construction, often 0, where only the floor gives the test a tolerance. Against the SLO, the
smallest boundary at or above the SLO's p99, tested as "at most 1 % of the canary's requests slower".

The boundaries are read from GA's counts at every look, so the latency guarantee is one per
boundary, not one e-process for the step: each boundary's statistic is an e-process, a look fails
latency only when some boundary's reaches 2/alpha or more, so the probability of failing a canary
within tolerance (at every boundary) is at most alpha / 2 times the number of boundaries the looks
can choose (a union bound; at most the histogram's finite buckets). With the edges of GA's p99
bucket the same at every look of a step (GA's traffic large and steady) it is alpha / 2, as for
errors; bench/judge.py measures it.

Scope of alpha: the caller's split `delivery.alpha / len(delivery.steps)` covers one look sequence
per configured step. A step judged again after a rollback, or a hand-made step off
`delivery.steps`, spends alpha beyond that bound: the release-wide bound is then
(number of judged step runs) x delivery.alpha / len(delivery.steps).

Errors are counted as 5xx; `pc = 1` (every request fails) and `pc = 0` are handled exactly.

Recency: a canary that holds weight but received no request in the recent window is not serving
now: it never passes; it fails when callers' sidecars report 5xx for it in that window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from delivery.release.judge_stats import one_sample as _one_sample
from delivery.release.judge_stats import two_sample as _two_sample

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
SLOW_SHARE = 0.01  # p99: the share of requests slower than the latency boundary
LATENCY_FLOOR = SLOW_SHARE  # the slow share's tolerance floor, a fraction (module docstring)


@dataclass(frozen=True)
class Counts:
    """One side's counts since the step began."""

    requests: int
    errors: int
    buckets: tuple[tuple[float, int], ...] = ()  # (le in ms, requests at most that slow), ascending, +Inf last

    def slower_than(self, bound: float) -> int | None:
        """Requests slower than `bound` ms; None when the histogram has no such boundary."""
        at_most = next((count for le, count in self.buckets if le == bound), None)
        return None if at_most is None else max(0, self.histogram_total - at_most)

    @property
    def histogram_total(self) -> int:
        return self.buckets[-1][1] if self.buckets else 0


@dataclass(frozen=True)
class Slo:
    error_rate: float  # a fraction, 0.01 = 1 %
    p99_ms: float


@dataclass(frozen=True)
class Policy:
    alpha: float
    error_tolerance: float  # rho
    error_floor: float  # a fraction, 0.001 = 0.1 percentage point
    latency_tolerance: float
    latency_floor: float = LATENCY_FLOOR  # a fraction of requests beyond a latency boundary


@dataclass(frozen=True)
class Recent:
    """The canary in the recent window: what its sidecars received, what callers saw fail."""

    window: str
    requests: int
    caller_errors: int
    weight: int | None = None  # the canary's weight (percent), for people
    expected: float | None = None  # requests its rate since the step began predicts in the window


# Fewer expected requests than this in the recent window, and none arriving says nothing: a
# Poisson count with mean 3 is 0 one time in 20.
TELLING = 3.0


@dataclass(frozen=True)
class Test:
    """One metric's test: the event counts, both statistics (natural logs of e-values) and bounds."""

    metric: str  # "errors" or "latency"
    canary_events: int
    canary_requests: int
    reference_events: int  # against an SLO: 0
    reference_requests: int  # against an SLO: 0
    hypothesis: str  # H_ok in words, with the numbers
    log_e_fail: float  # evidence that the canary is worse than the tolerance
    log_e_pass: float  # evidence that it is not
    fail_bound: float  # log(2 / alpha)
    pass_bound: float  # log(1 / alpha)
    verdict: str
    boundary_ms: float | None = None


@dataclass(frozen=True)
class Judgement:
    verdict: str
    reasons: tuple[str, ...]
    tests: tuple[Test, ...]
    recent: Recent | None = None


# --- the judge -----------------------------------------------------------------------------------


def evidence(log_e: float) -> str:
    """An e-value for people: 3.2, 1.5e+04, or e^812 past what a float holds."""
    if log_e > 700:
        return f"e^{log_e:.0f}"
    return f"{math.exp(log_e):.3g}"


def _verdict(log_fail: float, log_pass: float, alpha: float, splits: int = 1) -> str:
    if log_fail >= math.log(2 * splits / alpha):
        return FAIL
    if log_pass >= math.log(1 / alpha):
        return PASS
    return INCONCLUSIVE


def _rate(events: int, requests: int) -> str:
    return f"{events}/{requests} ({100 * events / requests:.2f}%)" if requests else f"{events}/0"


def _test(
    metric: str,
    c: tuple[int, int],
    ref: tuple[int, int] | float,
    tol: float,
    floor: float,
    policy: Policy,
    what: str,
    boundary: float | None = None,
    splits: int = 1,
) -> Test:
    (xc, nc) = c
    if isinstance(ref, tuple):
        xg, ng = ref
        log_fail, log_pass = _two_sample(xc, nc, xg, ng, tol, floor)
        hypothesis = f"canary {what} <= max({tol:g} x GA's, GA's + {100 * floor:g} points)"
    else:
        xg = ng = 0
        log_fail, log_pass = _one_sample(xc, nc, ref)
        hypothesis = f"canary {what} <= {100 * ref:g}% (delivery.slo)"
    verdict = _verdict(log_fail, log_pass, policy.alpha, splits)
    return Test(
        metric,
        xc,
        nc,
        xg,
        ng,
        hypothesis,
        log_fail,
        log_pass,
        math.log(2 * splits / policy.alpha),
        math.log(1 / policy.alpha),
        verdict,
        boundary,
    )


def describe(test: Test) -> str:
    """One line with the counts, the statistic and the bound."""
    sides = f"canary {_rate(test.canary_events, test.canary_requests)}"
    if test.reference_requests:
        sides += f" vs {_rate(test.reference_events, test.reference_requests)}"
    what = {FAIL: "fails", PASS: "passes", INCONCLUSIVE: "is undecided"}[test.verdict]
    return (
        f"{test.metric}: {sides}; H_ok: {test.hypothesis}; evidence against it {evidence(test.log_e_fail)} "
        f"(fail at {evidence(test.fail_bound)}), for it {evidence(test.log_e_pass)} "
        f"(pass at {evidence(test.pass_bound)}): {what}"
    )


def latency_boundaries(reference: Counts) -> tuple[float, ...]:
    """The lower and upper edges of GA's p99 bucket, those that exist (module docstring)."""
    finite = [(le, count) for le, count in reference.buckets if math.isfinite(le)]
    total = reference.histogram_total
    if not finite or total <= 0:
        return ()
    lower = [le for le, count in finite if total - count >= SLOW_SHARE * total]
    upper = [le for le, count in finite if total - count < SLOW_SHARE * total]
    return tuple(sorted({*lower[-1:], *upper[:1]}))


def _room(share: float, tolerance: float, floor: float) -> bool:
    """Whether a canary can be worse than GA's slow share `share` beyond the tolerance."""
    return min(1.0, max(tolerance * share, share + floor)) < 1.0


def _slo_boundary(canary: Counts, p99_ms: float) -> float | None:
    return next((le for le, _ in canary.buckets if math.isfinite(le) and le >= p99_ms), None)


def judge(canary: Counts, reference: Counts | Slo, policy: Policy, recent: Recent | None = None) -> Judgement:
    """The verdict on `canary` against `reference` (GA's counts, or the SLO) at level `policy.alpha`."""
    reasons: list[str] = []
    tests: list[Test] = []
    blocked = False  # something other than the tests keeps the canary from passing
    if recent is not None and recent.requests == 0:
        if recent.caller_errors > 0:
            return Judgement(
                FAIL,
                (
                    f"the canary received no request in the last {recent.window} while callers' sidecars report "
                    f"{recent.caller_errors} 5xx for it: it is not serving",
                ),
                (),
                recent,
            )
        blocked = True
        reasons.append(_silence(recent))
    is_slo = isinstance(reference, Slo)
    if canary.requests <= 0:
        reasons.append("no request reached the canary since the step began: nothing to judge")
    elif not is_slo and reference.requests <= 0:  # type: ignore[union-attr]
        reasons.append("no request reached the reference (GA) side: nothing to compare with")
    else:
        errors_ref: tuple[int, int] | float = (
            reference.error_rate if isinstance(reference, Slo) else (reference.errors, reference.requests)
        )
        tests.append(
            _test(
                "errors",
                (canary.errors, canary.requests),
                errors_ref,
                policy.error_tolerance,
                policy.error_floor,
                policy,
                "error rate",
            )
        )
        if isinstance(reference, Slo):
            bound = _slo_boundary(canary, reference.p99_ms)
            slow = None if bound is None else canary.slower_than(bound)
            if bound is None or slow is None or canary.histogram_total <= 0:
                reasons.append("no request-duration histogram (with the reference's buckets) to judge latency on")
                blocked = True
            else:
                what = f"share slower than {bound:g} ms"
                slow_side = (slow, canary.histogram_total)
                tests.append(_test("latency", slow_side, SLOW_SHARE, 1.0, 0.0, policy, what, bound))
        else:
            tests.extend(_latency_against(canary, reference, policy))
            if len(tests) < 2:
                reasons.append("no request-duration histogram (with the reference's buckets) to judge latency on")
                blocked = True
    reasons.extend(describe(t) for t in tests)
    if any(t.verdict == FAIL for t in tests):
        verdict = FAIL
    elif len(tests) >= 2 and not blocked and all(t.verdict == PASS for t in tests):
        verdict = PASS
    else:
        verdict = INCONCLUSIVE
    return Judgement(verdict, tuple(reasons), tuple(tests), recent)


def _latency_against(canary: Counts, reference: Counts, policy: Policy) -> list[Test]:
    """One test per edge of GA's p99 bucket with room for a worse canary; fail's alpha split over them."""
    tol, floor = policy.latency_tolerance, policy.latency_floor
    sides = []
    for bound in latency_boundaries(reference):
        slow, ref_slow = canary.slower_than(bound), reference.slower_than(bound)
        if slow is None or ref_slow is None or canary.histogram_total <= 0:
            return []  # the canary's buckets are not GA's: no like-for-like count
        if _room(ref_slow / reference.histogram_total, tol, floor):
            sides.append((bound, slow, ref_slow))
    return [
        _test(
            "latency",
            (slow, canary.histogram_total),
            (ref_slow, reference.histogram_total),
            tol,
            floor,
            policy,
            f"share slower than {bound:g} ms",
            bound,
            splits=len(sides),
        )
        for bound, slow, ref_slow in sides
    ]


def _silence(recent: Recent) -> str:
    """Why a canary that received nothing in the recent window holds."""
    at = "" if recent.weight is None else f" at canary weight {recent.weight}%"
    if recent.expected is not None and recent.expected < TELLING:
        return (
            f"no request in the last {recent.window}{at}: either not serving or too little traffic to tell "
            f"(its rate since the step began predicts {recent.expected:.2g} requests in {recent.window})"
        )
    predicted = (
        "" if recent.expected is None else f", where its rate since the step began predicts {recent.expected:.0f}"
    )
    holds = "weight" if recent.weight is None else f"{recent.weight}% of the traffic"
    return f"the canary holds {holds} but received no request in the last {recent.window}{predicted}: not serving now"
