"""The promotion gate against a real Prometheus (Debian's prometheus, backfilled with promtool)
serving Istio metrics we made: the PromQL returns the counts the judge expects, and the judge's
verdict on them is the gate's."""

from __future__ import annotations

import math
import time

import pytest

from delivery.errors import UnavailableError
from delivery.release import gate, judge
from model.settings import parse_stack_config
from tests.support import servers
from tests.support.canary_scenarios import SCENARIOS
from tests.support.istio_metrics import BUCKETS, Workload
from tests.support.stack_repo import NAMESPACE, app

pytestmark = pytest.mark.slow  # starts a real Prometheus

WINDOW = 600


def stack_config(**delivery) -> dict:
    apps = {name: app(canary=100 if name == "whole" else 10) for name in SCENARIOS}
    apps["flagged"] = {
        "namespace": NAMESPACE,
        "strategy": "canary",
        "image": "ghcr.io/stefanprodan/podinfo",
        "tag": "6.13.0",
    }
    config = {"istio-canary:cluster": {"provider": "existing", "context": "kind-test"}, "istio-canary:apps": apps}
    if delivery:
        config["istio-canary:delivery"] = delivery
    return config


SETTINGS = parse_stack_config(stack_config())


def expected(w: Workload, seconds: int) -> judge.Counts:
    """The counts a workload's definition implies over its last `seconds`."""
    n = round(w.expected_count(seconds))
    fast, slow = n * (1 - w.slow_ratio), n * w.slow_ratio
    buckets = [(float(b), round((fast if b >= w.latency_ms else 0) + (slow if b >= w.slow_ms else 0))) for b in BUCKETS]
    return judge.Counts(n, round(w.expected_count(seconds, errors=True)), (*buckets, (math.inf, n)))


def test_the_promql_counts_are_the_scenarios_counts(prometheus_url):
    canary, _ = SCENARIOS["healthy"]

    found = gate.counts(prometheus_url, NAMESPACE, "healthy-canary", f"{WINDOW}s")

    want = expected(canary, WINDOW)
    assert found.requests == pytest.approx(want.requests, rel=0.01)
    assert found.errors == pytest.approx(want.errors, rel=0.01)
    assert [le for le, _ in found.buckets] == [le for le, _ in want.buckets]
    assert [n for _, n in found.buckets] == pytest.approx([n for _, n in want.buckets], rel=0.01)


@pytest.mark.parametrize(
    "scenario, verdict",
    [
        ("healthy", "pass"),
        ("failing", "fail"),
        ("broken", "fail"),
        ("worse", "fail"),
        ("slow", "fail"),
        ("sparse", "inconclusive"),
    ],
)
def test_the_gate_decides_as_the_judge_does_on_the_scenarios_counts(scenario, verdict, prometheus_url):
    canary, ga = SCENARIOS[scenario]

    result = gate.evaluate(SETTINGS, scenario, prometheus_url, f"{WINDOW}s")

    by_hand = judge.judge(expected(canary, WINDOW), expected(ga, WINDOW), gate.policy(SETTINGS.delivery))
    assert result.verdict == by_hand.verdict == verdict, result.report
    assert [t.verdict for t in result.judgement.tests] == [t.verdict for t in by_hand.tests]
    assert result.alpha == pytest.approx(0.01 / 3)  # delivery.alpha shared by the 3 default steps


def test_a_canary_four_times_worse_is_failed_even_under_a_point_apart(prometheus_url):
    result = gate.evaluate(SETTINGS, "worse", prometheus_url, f"{WINDOW}s")

    errors = result.judgement.tests[0]
    assert (errors.metric, errors.verdict) == ("errors", "fail")
    assert errors.canary_events == pytest.approx(72, abs=2) and errors.reference_events == pytest.approx(162, abs=2)
    assert "errors: canary 72/12000 (0.60%) vs 162/108000 (0.15%)" in result.report
    assert "FAIL:" in result.report


def test_a_slow_canary_fails_on_its_share_of_requests_slower_than_gas_p99_bucket(prometheus_url):
    result = gate.evaluate(SETTINGS, "slow", prometheus_url, f"{WINDOW}s")

    # GA's p99 bucket is (250, 500]: the canary's 20 % at 300 ms show at its lower edge only.
    errors, latency, upper = result.judgement.tests
    assert (errors.verdict, latency.verdict, latency.boundary_ms) == ("inconclusive", "fail", 250)
    assert (upper.boundary_ms, upper.canary_events) == (500, 0)
    assert latency.canary_events == pytest.approx(0.2 * 12000, rel=0.01)


@pytest.mark.parametrize(
    "scenario, reason",
    [
        ("idle", "no request in the last 2m at canary weight 10%: either not serving or too little traffic to tell"),
        ("stopped", "received no request in the last 2m, where its rate since the step began predicts"),
    ],
)
def test_a_canary_that_is_not_serving_now_never_passes(scenario, reason, prometheus_url):
    result = gate.evaluate(SETTINGS, scenario, prometheus_url, f"{WINDOW}s")

    assert result.verdict == "inconclusive"
    assert result.judgement.recent.requests == 0
    assert reason in result.reasons[0]


def test_a_canary_whose_callers_get_errors_while_it_serves_nothing_fails(prometheus_url):
    result = gate.evaluate(SETTINGS, "unreachable", prometheus_url, f"{WINDOW}s")

    assert result.verdict == "fail"
    assert "callers' sidecars report 600 5xx for it: it is not serving" in result.reasons[0]


def test_a_canary_at_100_is_judged_against_ga_over_the_previous_step(prometheus_url):
    now = int(time.time())
    previous = gate.Previous(start=now - 1500, end=now - 600, commit="a" * 40)

    result = gate.evaluate(SETTINGS, "whole", prometheus_url, f"{WINDOW}s", previous)

    assert result.verdict == "pass", result.report
    assert isinstance(result.reference, judge.Counts)
    assert result.reference.requests == pytest.approx(1800 * 900, rel=0.01)
    assert result.reference_name.startswith("whole-ga over the previous step (commit aaaaaaaaaaaa")


def test_a_canary_at_100_without_a_previous_step_is_held_to_the_slo(prometheus_url):
    strict = parse_stack_config(stack_config(slo={"errorRate": 0.4, "p99Ms": 500}))

    assert gate.evaluate(SETTINGS, "whole", prometheus_url, f"{WINDOW}s").verdict == "pass"
    result = gate.evaluate(strict, "whole", prometheus_url, f"{WINDOW}s")
    assert result.verdict == "fail" and result.reference_name == "delivery.slo"
    assert "canary error rate <= 0.4% (delivery.slo)" in result.reasons[0]


def test_tolerances_come_from_delivery_settings(prometheus_url):
    lenient = parse_stack_config(stack_config(errorRateTolerance=6))

    result = gate.evaluate(lenient, "worse", prometheus_url, f"{WINDOW}s")

    assert result.judgement.tests[0].verdict != "fail"
    assert "max(6 x GA's, GA's + 0.1 points)" in result.reasons[0]


def test_gate_raises_unavailable_when_prometheus_answers_garbage():
    def html(request):
        servers.reply(request, 200, b"<html>login</html>", {"Content-Type": "text/html"})

    with servers.http_server(html) as address:
        with pytest.raises(UnavailableError, match="not the query API's JSON"):
            gate.evaluate(SETTINGS, "healthy", f"http://{address}", "5m")


def test_only_the_stacks_canary_build_is_counted(prometheus_url):
    # The previous build failed every request until five minutes ago, inside the window.
    result = gate.evaluate(SETTINGS, "retagged", prometheus_url, f"{WINDOW}s")

    assert result.canary.requests == pytest.approx(200 * WINDOW, rel=0.01)
    assert result.canary.errors == pytest.approx(0.005 * 200 * WINDOW, rel=0.02)
    assert result.verdict == "pass", result.report


def test_a_5xx_series_born_inside_the_window_counts_its_first_error(prometheus_url):
    # increase() reads 0 for a series whose samples are all 1 (prometheus/prometheus#1673).
    found = gate.counts(prometheus_url, NAMESPACE, "late5xx-canary", f"{WINDOW}s", build="6.14.1")

    assert found.errors == 1
    assert found.requests == pytest.approx(200 * WINDOW + 1, rel=0.01)


def test_a_series_older_than_the_window_is_not_counted_as_born_in_it(prometheus_url):
    # Every scenario's counters start at 1000: only increase() over the window may count.
    found = gate.counts(prometheus_url, NAMESPACE, "healthy-canary", "60s")

    assert found.requests == pytest.approx(200 * 60, rel=0.05)
