"""`make bench-judge`: the canary judge against three baselines on the same simulated traces.

Per cell (the canary's request rate x an effect) `--runs` simulated canary steps (fixed seeds,
bench/judge_traces.py), each watched for an hour and looked at every 10 minutes by:

(a) the judge (delivery/release/judge.py) on counts since the step began, at alpha 0.01 / 3 (the
    default delivery.alpha shared by the 3 default steps) and the default tolerances, with the
    recent window (the last 2 minutes) for recency;
(b) today's point-estimate gate: rate() over the 10-minute bake window, 1 point of error rate,
    p99 ratio 1.25, promoted at the first look it passes;
(c) Flagger-style: fixed thresholds per interval (the last 10 minutes), rollback after 2 failed
    checks, promotion after 3 successful ones;
(d) Kayenta-like: a two-sided Mann-Whitney test at 98 % on per-minute error rates and p99s since
    the start, at every interval (fail at once on a "high" metric), promotion at the hour.

A run ends at its judge's first rollback or promotion. Printed per judge and cell: rollback %
(false rollbacks for the identical canary, detections otherwise), promoted %, undecided % at the
end, median minutes to roll back; then, for each regression, run by run on the same trace, the share
of a baseline's rollbacks that (a) made no later. Prints, never asserts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import judge_traces as traces  # noqa: E402

from delivery.release import judge  # noqa: E402

RATES = (0.3, 3.0, 30.0, 300.0)
LOOKS = tuple(range(traces.LOOK_EVERY, traces.MINUTES + 1, traces.LOOK_EVERY))
POLICY = judge.Policy(alpha=0.01 / 3, error_tolerance=1.25, error_floor=0.001, latency_tolerance=2.0)
RECENT_MINUTES = 2
BOUNDS = (*map(float, traces.BUCKETS), float("inf"))
ROLLBACK, PROMOTE = 1, 2


def _outcome(runs: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(runs, dtype=int), np.full(runs, np.nan)


def new_judge(canary: traces.Side, ga: traces.Side) -> tuple[np.ndarray, np.ndarray]:
    runs = canary.requests.shape[0]
    kind, when = _outcome(runs)
    sides = []
    for side in (canary, ga):
        by_minute = (side.requests.cumsum(1), side.errors.cumsum(1), side.buckets.cumsum(1).cumsum(2))
        sides.append(by_minute)
    for r in range(runs):
        for look in LOOKS:
            c, g = (
                judge.Counts(
                    int(n[r, look - 1]), int(x[r, look - 1]), tuple(zip(BOUNDS, b[r, look - 1].tolist(), strict=True))
                )
                for n, x, b in sides
            )
            recent = judge.Recent("2m", int(canary.requests[r, look - RECENT_MINUTES : look].sum()), 0)
            verdict = judge.judge(c, g, POLICY, recent).verdict
            if verdict != judge.INCONCLUSIVE:
                kind[r], when[r] = (ROLLBACK if verdict == judge.FAIL else PROMOTE), look
                break
    return kind, when


def point_estimate(canary: traces.Side, ga: traces.Side) -> tuple[np.ndarray, np.ndarray]:
    kind, when = _outcome(canary.requests.shape[0])
    for look in LOOKS:
        fail, passed = traces.point_estimate(canary, ga, look)
        open_ = kind == 0
        for mask, value in ((fail, ROLLBACK), (passed, PROMOTE)):
            kind[open_ & mask], when[open_ & mask] = value, look
    return kind, when


def flagger(canary: traces.Side, ga: traces.Side) -> tuple[np.ndarray, np.ndarray]:
    runs = canary.requests.shape[0]
    kind, when = _outcome(runs)
    failed, passed = np.zeros(runs, dtype=int), np.zeros(runs, dtype=int)
    for look in LOOKS:
        open_ = kind == 0
        check = traces.flagger_check(canary, look)
        failed += open_ & check
        passed += open_ & ~check
        for mask, value in (
            (failed >= traces.FLAGGER_THRESHOLD, ROLLBACK),
            (passed >= traces.FLAGGER_PROMOTE_AFTER, PROMOTE),
        ):
            kind[open_ & mask], when[open_ & mask] = value, look
    return kind, when


def kayenta(canary: traces.Side, ga: traces.Side) -> tuple[np.ndarray, np.ndarray]:
    runs = canary.requests.shape[0]
    kind, when = _outcome(runs)
    with np.errstate(invalid="ignore", divide="ignore"):
        errors = (canary.errors / canary.requests, ga.errors / ga.requests)
    p99 = (traces.histogram_quantile(0.99, canary.buckets), traces.histogram_quantile(0.99, ga.buckets))
    for r in range(runs):
        for look in LOOKS:
            if any(traces.mann_whitney_high(c[r, :look], g[r, :look]) for c, g in (errors, p99)):
                kind[r], when[r] = ROLLBACK, look
                break
        else:
            kind[r], when[r] = PROMOTE, traces.MINUTES
    return kind, when


JUDGES = {
    "(a) judge": new_judge,
    "(b) point estimate": point_estimate,
    "(c) Flagger-style": flagger,
    "(d) Mann-Whitney": kayenta,
}


def _no_later(outcomes: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """Per baseline: of its rollbacks, the share (a) also rolled back at the same look or earlier."""
    kind, when = outcomes["(a) judge"]
    shares = []
    for other_kind, other_when in list(outcomes.values())[1:]:
        theirs = other_kind == ROLLBACK
        ours = (kind == ROLLBACK) & (when <= other_when)
        shares.append(f"{100 * (ours & theirs).sum() / theirs.sum():.1f}% of {theirs.sum()}" if theirs.any() else "-")
    return shares


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short=12", "HEAD") + (
        " (with uncommitted changes)" if git("status", "--porcelain") else ""
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1000, help="simulated steps per cell (default 1000)")
    args = parser.parse_args()
    started = time.monotonic()
    every, minutes = traces.LOOK_EVERY, traces.MINUTES
    print(f"bench-judge at commit {_commit()}: {args.runs} runs per cell, looks every {every} min for {minutes} min")
    print(
        f"GA: {100 * traces.BASE_ERRORS:g}% errors, log-normal latency median {traces.MEDIAN_MS:g} ms "
        f"(p99 {traces.true_p99():.0f} ms), 9x the canary's traffic"
    )
    print()
    print("| effect | canary req/s | judge | rollback % | promoted % | undecided % | median min to rollback |")
    print("|---|---:|---|---:|---:|---:|---:|")
    head_to_head = []
    for e, effect in enumerate(traces.EFFECTS):
        for i, rate in enumerate(RATES):
            canary, ga = traces.simulate(np.random.default_rng([21, e, i]), args.runs, rate, effect)
            outcomes = {name: run(canary, ga) for name, run in JUDGES.items()}
            for name, (kind, when) in outcomes.items():
                rolled = kind == ROLLBACK
                median = f"{np.median(when[rolled]):.0f}" if rolled.any() else "-"
                promoted, undecided = 100 * (kind == PROMOTE).mean(), 100 * (kind == 0).mean()
                print(
                    f"| {effect.name} | {rate:g} | {name} | {100 * rolled.mean():.1f} | {promoted:.1f} "
                    f"| {undecided:.1f} | {median} |",
                    flush=True,
                )
            if effect.errors > 1 or effect.latency > 1:
                head_to_head.append((effect.name, rate, _no_later(outcomes)))
    print()
    print("Run by run, on the same trace: of the runs a baseline rolled back, the share (a) rolled back no later")
    print()
    print("| effect | canary req/s | " + " | ".join(f"vs {name}" for name in list(JUDGES)[1:]) + " |")
    print("|---|---:|" + "---:|" * (len(JUDGES) - 1))
    for name, rate, shares in head_to_head:
        print(f"| {name} | {rate:g} | " + " | ".join(shares) + " |")
    print(f"\n{time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
