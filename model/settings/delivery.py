"""The `delivery` section: how releases move (`maxWeightStep`), what the judge holds a canary to
(delivery/release/judge.py), and how autopilot walks the steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from model.settings.fields import Duration, Problems, StrictModel, Weight, duration_seconds

# The gate's rate() over a bake window needs several scrapes (observability.SCRAPE_INTERVAL 15s).
MIN_BAKE_SECONDS = 60


class Slo(StrictModel):
    """What a canary at 100 is held to when no earlier step of its release measured GA."""

    error_rate: float = Field(1.0, gt=0, lt=100)  # percent of requests answered 5xx
    p99_ms: int = Field(500, ge=1, le=600_000)


# The point-estimate gate's keys (issue 21): refused with the keys that replace them, because
# their meaning (a difference in points, a p99 ratio) has no faithful translation.
RETIRED_DELIVERY_KEYS = {
    "maxErrorRateDelta": "errorRateTolerance (times GA's error rate) and delivery.errorRateFloor (percentage points)",
    "maxLatencyRatio": "latencyTolerance (times GA's share of slow requests)",
}


class Delivery(StrictModel):
    max_weight_step: int = Field(50, ge=1, le=100)
    # The judge (delivery/release/judge.py): the false-alarm bound of a whole release, how much
    # worse than GA a canary may be, and what a canary at 100 is held to without a GA to compare.
    alpha: float = Field(0.01, ge=0.0001, le=0.2)
    error_rate_tolerance: float = Field(1.25, ge=1, le=100)
    error_rate_floor: float = Field(0.1, ge=0, le=10)  # percentage points
    latency_tolerance: float = Field(2.0, ge=1, le=100)
    slo: Slo = Slo()
    # Autopilot (delivery/release/autopilot.py): the canary weights it walks, how long each
    # must run healthy, whether a failing gate rolls back by itself, and the stack-wide pause.
    steps: tuple[Weight, ...] = Field((10, 60, 100), strict=False)
    bake_time: Duration = "10m"
    auto_rollback: bool = True
    autopilot: bool = True

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            retired = [
                (key, f"was removed: use delivery.{new}") for key, new in RETIRED_DELIVERY_KEYS.items() if key in data
            ]
            if retired:
                raise Problems(retired)
        return data

    @model_validator(mode="after")
    def _autopilot_rules(self) -> Delivery:
        problems = []
        if duration_seconds(self.bake_time) < MIN_BAKE_SECONDS:
            problems.append(
                ("bakeTime", f"{self.bake_time!r} is shorter than 1m: the gate needs several scrapes in its window")
            )
        steps = list(self.steps)
        if not steps or steps[-1] != 100:
            problems.append(("steps", f"{steps} must end at 100 (the canary takes all traffic, then finalize)"))
        rises = list(zip((0, *steps), steps, strict=False))
        falls = [(low, high) for low, high in rises if high <= low]
        if falls:
            low, high = falls[0]
            problems.append(("steps", f"{steps} must rise strictly from 0: {high} follows {low}"))
        elif "steps" in self.model_fields_set:
            # Only steps the user wrote are held to maxWeightStep: with the default steps, autopilot
            # caps each move at maxWeightStep itself, so a stack that lowers the limit keeps working.
            too_big = [(low, high) for low, high in rises if high - low > self.max_weight_step]
            if too_big:
                low, high = too_big[0]
                problems.append(
                    (
                        "steps",
                        f"{low} -> {high} rises by {high - low}, more than delivery.maxWeightStep "
                        f"{self.max_weight_step}",
                    )
                )
        if problems:
            raise Problems(problems)
        return self
