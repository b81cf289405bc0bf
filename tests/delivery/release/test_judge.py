"""The judge on counts: its guarantees by simulation (fixed seeds), its power, and its refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from delivery.release import judge
from delivery.release.judge import Counts, Policy, Recent, Slo

POLICY = Policy(alpha=0.01, error_tolerance=1.25, error_floor=0.001, latency_tolerance=2.0)
LOOKS = 6  # every 10 minutes over an hour


def side(requests: int, errors: int, slow: int | None = None) -> Counts:
    """Counts with a histogram whose `slow` requests (default 2 %) took more than 250 ms."""
    slow = round(0.02 * requests) if slow is None else slow
    return Counts(requests, errors, ((100.0, requests - slow), (250.0, requests - slow), (math.inf, requests)))


def verdicts(rng, per_look: int, pc: float, pg: float, policy: Policy = POLICY, runs: int = 200) -> list[list[str]]:
    """Each run's verdicts at each look, on cumulative binomial counts (GA gets 9x the canary's traffic)."""
    found = []
    for _ in range(runs):
        xc = np.cumsum(rng.binomial(per_look, pc, LOOKS))
        xg = np.cumsum(rng.binomial(9 * per_look, pg, LOOKS))
        looks = []
        for k in range(LOOKS):
            n = per_look * (k + 1)
            looks.append(judge.judge(side(n, int(xc[k])), side(9 * n, int(xg[k])), policy).verdict)
        found.append(looks)
    return found


def share(runs: list[list[str]], verdict: str) -> float:
    return sum(verdict in looks for looks in runs) / len(runs)


# The hardest canaries not to fail: on the tolerance's edge, where the ratio binds (1.25 x GA's
# 1 %), where the floor binds (GA's 0.05 % + 0.1 point) and where both meet (0.4 % -> 0.5 %).
EDGES = [(0.0125, 0.01), (0.0015, 0.0005), (0.005, 0.004)]


@pytest.mark.parametrize("per_look", [180, 1800, 18000])
@pytest.mark.parametrize("pc, pg", EDGES)
def test_a_canary_within_tolerance_is_failed_at_most_alpha_over_every_look(per_look, pc, pg):
    loose = Policy(0.05, 1.25, 0.001, 2.0)  # a large alpha, so 200 runs can see a violation

    runs = verdicts(np.random.default_rng(21), per_look, pc=pc, pg=pg, policy=loose)

    assert share(runs, "fail") <= 0.05


@pytest.mark.parametrize("per_look", [1800, 18000])
def test_a_canary_beyond_tolerance_is_passed_at_most_alpha_over_every_look(per_look):
    loose = Policy(0.05, 1.25, 0.001, 2.0)

    runs = verdicts(np.random.default_rng(7), per_look, pc=0.0125, pg=0.01, policy=loose)

    assert share(runs, "pass") <= 0.05


def test_a_canary_at_twice_gas_error_rate_is_failed_with_enough_traffic():
    # 3 requests/s to the canary, looked at every 10 minutes for an hour.
    runs = verdicts(np.random.default_rng(3), 1800, pc=0.02, pg=0.01)

    assert share(runs, "fail") >= 0.9 and share(runs, "pass") == 0


def test_an_identical_canary_passes_with_enough_traffic():
    runs = verdicts(np.random.default_rng(5), 18000, pc=0.01, pg=0.01, runs=50)

    assert share(runs, "pass") >= 0.9 and share(runs, "fail") == 0


def test_little_data_is_inconclusive_both_ways():
    for canary in (side(30, 0), side(30, 3)):
        assert judge.judge(canary, side(270, 3), POLICY).verdict == "inconclusive"


def test_the_floor_only_matters_when_gas_rate_is_near_zero():
    # 0.15 % -> 0.6 % on thousands of requests: four times worse, under a point apart.
    worse = judge.judge(side(12000, 72), side(108000, 162), POLICY)
    assert worse.verdict == "fail"
    assert worse.tests[0].hypothesis == "canary error rate <= max(1.25 x GA's, GA's + 0.1 points)"
    # GA answers no 5xx: a few canary errors stay within the floor of 0.1 points.
    assert judge.judge(side(120000, 60), side(1080000, 0), POLICY).tests[0].verdict != "fail"


def test_every_request_failing_is_judged_exactly():
    result = judge.judge(side(200, 200), side(1800, 0), POLICY)

    assert result.verdict == "fail" and math.isfinite(result.tests[0].log_e_fail)


def test_latency_counts_requests_slower_than_both_edges_of_gas_p99_bucket():
    result = judge.judge(side(6000, 60, slow=1200), side(54000, 540, slow=1080), POLICY)

    # No finite `le` has under 1 % of GA slower: the lower edge is the only one.
    errors, latency = result.tests
    assert (latency.boundary_ms, latency.canary_events, latency.reference_events) == (250.0, 1200, 1080)
    assert (errors.verdict, latency.verdict, result.verdict) == ("inconclusive", "fail", "fail")


def at(requests: int, ms: float) -> Counts:
    """Every request takes `ms`, on Istio's default buckets."""
    bounds = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)
    return Counts(requests, 0, (*((le, requests if le >= ms else 0) for le in bounds), (math.inf, requests)))


def test_a_canary_six_times_slower_than_ga_inside_one_bucket_fails():
    # GA sits inside (25, 50]: at its lower edge all of GA is "slow", so only the upper edge can tell.
    result = judge.judge(at(50000, 240), at(200000, 40), POLICY)

    assert result.verdict == "fail", result.reasons
    (latency,) = [t for t in result.tests if t.metric == "latency"]
    assert (latency.boundary_ms, latency.canary_events, latency.reference_events) == (50.0, 50000, 0)
    assert "max(2 x GA's, GA's + 1 points)" in latency.hypothesis


def test_a_canary_as_fast_as_ga_inside_one_bucket_passes():
    assert judge.judge(at(50000, 45), at(200000, 40), POLICY).verdict == "pass"


def test_fail_splits_latencys_alpha_over_the_edges_it_tests():
    # GA: 98 % at 40 ms, 2 % at 300 ms, in (250, 500]; the canary piles 20 % into that bucket.
    def mix(requests: int, slow: int) -> Counts:
        fast = requests - slow
        return Counts(requests, 0, ((25.0, 0), (50.0, fast), (250.0, fast), (500.0, requests), (math.inf, requests)))

    result = judge.judge(mix(12000, 2400), mix(108000, 2160), POLICY)

    errors, lower, upper = result.tests
    assert (lower.boundary_ms, upper.boundary_ms) == (250.0, 500.0)
    assert errors.fail_bound == pytest.approx(math.log(2 / POLICY.alpha))
    assert lower.fail_bound == upper.fail_bound == pytest.approx(math.log(4 / POLICY.alpha))
    assert (lower.verdict, upper.verdict, result.verdict) == ("fail", "pass", "fail")


def test_a_canary_that_holds_weight_but_received_nothing_recently_never_passes():
    healthy = (side(180000, 1800), side(1620000, 16200))
    assert judge.judge(*healthy, POLICY).verdict == "pass"

    silent = judge.judge(*healthy, POLICY, Recent("2m", requests=0, caller_errors=0))
    assert silent.verdict == "inconclusive" and "not serving now" in silent.reasons[0]

    busy = judge.judge(*healthy, POLICY, Recent("2m", requests=0, caller_errors=0, weight=10, expected=600))
    assert busy.verdict == "inconclusive"
    assert (
        "the canary holds 10% of the traffic but received no request in the last 2m, where its rate" in busy.reasons[0]
    )
    assert busy.reasons[0].endswith("predicts 600: not serving now")

    unreachable = judge.judge(*healthy, POLICY, Recent("2m", requests=0, caller_errors=12))
    assert unreachable.verdict == "fail" and "report 12 5xx for it" in unreachable.reasons[0]


def test_a_canary_at_100_against_the_slo():
    slo = Slo(error_rate=0.01, p99_ms=500)
    fine = side(60000, 300, slow=0)
    fine = Counts(fine.requests, fine.errors, ((250.0, 60000), (500.0, 60000), (math.inf, 60000)))

    assert judge.judge(fine, slo, POLICY).verdict == "pass"
    failing = Counts(60000, 1200, fine.buckets)
    result = judge.judge(failing, slo, POLICY)
    assert result.verdict == "fail" and result.tests[0].hypothesis == "canary error rate <= 1% (delivery.slo)"
    slow = Counts(60000, 300, ((250.0, 50000), (500.0, 55000), (math.inf, 60000)))
    assert judge.judge(slow, slo, POLICY).tests[1].verdict == "fail"


def test_a_silent_canary_with_too_little_traffic_to_tell_says_so():
    quiet = (side(300, 0), side(2700, 0))  # over an hour: 0.6 requests expected in 2m

    result = judge.judge(*quiet, POLICY, Recent("2m", requests=0, caller_errors=0, weight=10, expected=0.6))

    assert result.verdict == "inconclusive"
    assert result.reasons[0].startswith(
        "no request in the last 2m at canary weight 10%: either not serving or too little traffic to tell"
    )


def test_no_traffic_on_either_side_is_nothing_to_judge():
    assert "no request reached the canary" in judge.judge(side(0, 0), side(900, 9), POLICY).reasons[0]
    assert "no request reached the reference" in judge.judge(side(100, 1), side(0, 0), POLICY).reasons[0]


def test_histograms_with_different_buckets_are_not_judged_on_latency():
    canary = Counts(180000, 1800, ((100.0, 176400), (200.0, 178000), (math.inf, 180000)))

    result = judge.judge(canary, side(1620000, 16200), POLICY)

    assert [t.metric for t in result.tests] == ["errors"] and result.verdict == "inconclusive"
    assert "no request-duration histogram (with the reference's buckets)" in result.reasons[0]
