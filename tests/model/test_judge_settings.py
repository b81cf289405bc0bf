"""The judge's keys under `delivery.`: defaults, bounds with their key paths, and the retired keys."""

from __future__ import annotations

import pytest

from model.settings import ConfigError, parse_stack_config

CONFIG = {"istio-canary:cluster": {"provider": "existing"}}


def delivery(**keys) -> dict:
    return {**CONFIG, "istio-canary:delivery": keys}


def rejected(config: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(config)
    return dict(caught.value.problems)


def test_the_judges_defaults():
    d = parse_stack_config(CONFIG).delivery

    assert (d.alpha, d.error_rate_tolerance, d.error_rate_floor, d.latency_tolerance) == (0.01, 1.25, 0.1, 2.0)
    assert (d.slo.error_rate, d.slo.p99_ms) == (1.0, 500)


def test_the_judges_keys_are_read_from_the_stack_file():
    d = parse_stack_config(
        delivery(
            alpha=0.05,
            errorRateTolerance=2,
            errorRateFloor=0.5,
            latencyTolerance=3,
            slo={"errorRate": 0.1, "p99Ms": 250},
        )
    ).delivery

    assert (d.alpha, d.error_rate_tolerance, d.error_rate_floor, d.latency_tolerance) == (0.05, 2, 0.5, 3)
    assert (d.slo.error_rate, d.slo.p99_ms) == (0.1, 250)


@pytest.mark.parametrize(
    "keys, path, problem",
    [
        ({"alpha": 0}, "delivery.alpha", "greater than or equal to 0.0001"),
        ({"alpha": 0.5}, "delivery.alpha", "less than or equal to 0.2"),
        ({"alpha": "1%"}, "delivery.alpha", "Input should be a valid number"),
        ({"errorRateTolerance": 0.9}, "delivery.errorRateTolerance", "greater than or equal to 1"),
        ({"errorRateFloor": -0.1}, "delivery.errorRateFloor", "greater than or equal to 0"),
        ({"errorRateFloor": 11}, "delivery.errorRateFloor", "less than or equal to 10"),
        ({"latencyTolerance": 101}, "delivery.latencyTolerance", "less than or equal to 100"),
        ({"slo": {"errorRate": 0}}, "delivery.slo.errorRate", "greater than 0"),
        ({"slo": {"p99Ms": 0}}, "delivery.slo.p99Ms", "greater than or equal to 1"),
        ({"slo": {"p99": 500}}, "delivery.slo.p99", "unknown key; allowed: errorRate, p99Ms"),
    ],
)
def test_the_judges_keys_are_bounded_and_named_by_their_path(keys, path, problem):
    problems = rejected(delivery(**keys))

    assert problem in problems[path], problems


@pytest.mark.parametrize(
    "old, new",
    [
        ("maxErrorRateDelta", "use delivery.errorRateTolerance (times GA's error rate) and delivery.errorRateFloor"),
        ("maxLatencyRatio", "use delivery.latencyTolerance (times GA's share of slow requests)"),
    ],
)
def test_the_point_estimate_keys_are_refused_with_the_keys_that_replace_them(old, new):
    problems = rejected(delivery(**{old: 1.0}))

    assert problems[f"delivery.{old}"].startswith(f"was removed: {new}")
