"""Autopilot decisions from a real Prometheus (synthetic Istio metrics) and a git history with set dates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from delivery.errors import UsageError
from delivery.release import autopilot, autopilot_report, check, gate
from model.settings import parse_stack_config
from tests.support.stack_repo import GA_TAG, NEW_TAG, STACK, StackRepo, app, stack_text

pytestmark = pytest.mark.slow  # starts a real Prometheus and git

BAKE = 600  # the default delivery.bakeTime, 10m


@pytest.fixture
def repo(tmp_path) -> StackRepo:
    return StackRepo(tmp_path)


def at(repo: StackRepo, started: int, apps: dict, delivery: dict | None = None, *, before: dict | None = None) -> None:
    """History: a first commit an hour before the step (`before`, default: every app idle at GA's
    tag), then the commit that put `apps` in place, `started` seconds ago."""
    now = int(time.time())
    idle = {name: app(canary_tag=GA_TAG) for name in apps}
    repo.commit(now - 3600 - started, "initial", stack_text(before or idle, delivery))
    repo.commit(now - started, "the step", stack_text(apps, delivery))


def decide(repo: StackRepo, prometheus: str | None, now: float | None = None) -> dict[str, autopilot.Decision]:
    run = autopilot.decide(STACK, repo.path, prometheus, now=now)
    return {d.app: d for d in run.decisions}


def test_a_canary_holds_while_the_judge_is_inconclusive(repo, prometheus_url):
    at(repo, 120, {"healthy": app(canary=10)})

    d = decide(repo, prometheus_url)["healthy"]

    assert (d.action, d.canary_to, d.gate.verdict) == ("hold", 10, "inconclusive")
    assert d.reason.startswith("not enough evidence yet, the judge is inconclusive: errors: canary ")
    # The judge counts this step only: its window starts at the step's commit.
    assert d.gate_window == f"{int(d.bake_observed)}s" and d.bake_observed == pytest.approx(120, abs=30)


def test_a_canary_the_judge_passed_holds_until_its_step_has_baked(repo, prometheus_url):
    at(repo, 700, {"healthy": app(canary=10)}, {"bakeTime": "30m"})

    d = decide(repo, prometheus_url)["healthy"]

    assert (d.action, d.gate.verdict) == ("hold", "pass")
    assert d.reason.startswith("baking: the judge passed it after 11m") and "of delivery.bakeTime 30m" in d.reason


def test_a_passed_canary_is_promoted_to_the_next_step_after_bake_time(repo, prometheus_url):
    at(repo, BAKE + 100, {"healthy": app(canary=10)})

    d = decide(repo, prometheus_url)["healthy"]

    assert (d.action, d.canary_from, d.canary_to) == ("promote", 10, 60)
    assert d.gate.passed and d.gate_window == f"{int(d.bake_observed)}s"
    assert d.gate.canary.requests == pytest.approx(200 * d.bake_observed, rel=0.02)
    assert "the judge passed it after 11m" in d.reason and "errors: canary " in d.reason


@pytest.mark.parametrize("scenario", ["failing", "slow", "unreachable"])
def test_a_failed_canary_is_rolled_back_without_waiting_for_bake_time(scenario, repo, prometheus_url):
    at(repo, 300, {scenario: app(canary=10)})

    d = decide(repo, prometheus_url)[scenario]

    assert (d.action, d.canary_to, d.gate.verdict) == ("rollback", 0, "fail")
    assert d.reason.startswith("the judge failed the canary: ")


def test_a_failing_canary_holds_when_auto_rollback_is_off(repo, prometheus_url):
    at(repo, 120, {"failing": app(canary=10)}, {"autoRollback": False})

    d = decide(repo, prometheus_url)["failing"]

    assert (d.action, d.canary_to) == ("hold", 10)
    assert (
        "delivery.autoRollback is false" in d.reason and "python -m delivery rollback --stack auto failing" in d.reason
    )
    errors = d.gate.judgement.tests[0]
    assert errors.canary_events == pytest.approx(0.1 * errors.canary_requests, rel=0.02)
    # The numbers behind the verdict are in the reason (the share is about 10 %: counts from
    # increase() over a window that starts between scrapes vary by a request or two).
    assert f"errors: canary {errors.canary_events}/{errors.canary_requests} (" in d.reason


@pytest.mark.parametrize("scenario", ["idle", "stopped"])
def test_a_canary_that_is_not_serving_holds_and_is_never_promoted(scenario, repo, prometheus_url):
    at(repo, BAKE + 100, {scenario: app(canary=10)})

    d = decide(repo, prometheus_url)[scenario]

    assert (d.action, d.gate.verdict) == ("hold", "inconclusive")
    assert "no request in the last 2m" in d.reason and "not serving" in d.reason
    # idle's canary never had traffic to tell silence from; stopped's had 200 requests a second.
    assert ("too little traffic to tell" in d.reason) == (scenario == "idle")


@pytest.mark.parametrize("scenario", ["healthy", "failing", "broken", "worse", "slow", "sparse", "idle", "stopped"])
def test_autopilot_decides_as_the_judge_says(scenario, repo, prometheus_url):
    at(repo, BAKE + 100, {scenario: app(canary=10)})

    d = decide(repo, prometheus_url)[scenario]

    judged = gate.evaluate(
        parse_stack_config(yaml.safe_load(repo.file.read_text())["config"]), scenario, prometheus_url, d.gate_window
    )
    assert d.gate.verdict == judged.verdict
    assert d.action == {"pass": "promote", "fail": "rollback", "inconclusive": "hold"}[judged.verdict]


def test_an_unreachable_prometheus_holds_every_app_in_flight(repo, down_url):
    at(repo, BAKE + 100, {"healthy": app(canary=10), "failing": app(canary=60), "fresh": app(canary=0)})

    run = autopilot.decide(STACK, repo.path, down_url)
    decisions = {d.app: d for d in run.decisions}

    assert run.metrics_unavailable
    for name in ("healthy", "failing"):
        assert decisions[name].action == "hold" and decisions[name].metrics_unavailable
        assert "metrics unavailable, holding: Prometheus at" in decisions[name].reason
    # Starting a new canary at the first step needs no metrics.
    assert (decisions["fresh"].action, decisions["fresh"].canary_to) == ("promote", 10)


def test_a_canary_held_at_100_without_an_earlier_step_is_finalized_against_the_slo(repo, prometheus_url):
    at(repo, BAKE + 100, {"healthy": app(canary=100)})

    d = decide(repo, prometheus_url)["healthy"]

    assert (d.action, d.canary_to) == ("finalize", 0) and d.gate.passed
    assert d.gate.reference_name == "delivery.slo"
    assert f"GA takes tag {NEW_TAG}" in d.reason and "canary error rate <= 1% (delivery.slo)" in d.reason


def test_a_canary_held_at_100_is_judged_against_ga_over_the_previous_step(repo, prometheus_url):
    now = int(time.time())
    repo.commit(now - 3600, "initial", stack_text({"whole": app(canary_tag=GA_TAG)}))
    repo.commit(now - 1800, "canary at 60", stack_text({"whole": app(canary=60)}))
    previous = repo.commit(now - 1500, "canary at 60, a comment", stack_text({"whole": app(canary=60)}) + "# note\n")
    repo.commit(now - 700, "canary at 100", stack_text({"whole": app(canary=100)}))

    d = decide(repo, prometheus_url)["whole"]

    assert (d.action, d.gate.verdict) == ("finalize", "pass")
    assert d.gate.reference_name.startswith("whole-ga over the previous step (commit ")
    assert previous[:12] not in d.gate.reference_name  # a commit that changed no weight starts no step
    assert d.gate.reference.requests == pytest.approx(1800 * (1800 - 700), rel=0.02)


def test_nothing_in_flight_is_none(repo, prometheus_url):
    at(repo, BAKE + 100, {"healthy": app(canary=0, canary_tag=GA_TAG)})

    d = decide(repo, prometheus_url)["healthy"]

    assert d.action == "none" and d.gate is None


def test_a_new_canary_tag_on_the_base_branch_starts_at_the_first_step_without_metrics(repo):
    at(repo, 30, {"healthy": app(canary=0, canary_tag=NEW_TAG)})

    d = decide(repo, prometheus=None)["healthy"]

    assert (d.action, d.canary_from, d.canary_to) == ("promote", 0, 10) and d.gate is None


@pytest.mark.parametrize("where", ["app", "stack"])
def test_autopilot_false_skips_the_app_or_the_whole_stack(where, repo, prometheus_url):
    paused = app(canary=10, autopilot=False) if where == "app" else app(canary=10)
    at(repo, BAKE + 100, {"failing": paused}, {"autopilot": False} if where == "stack" else None)

    d = decide(repo, prometheus_url)["failing"]

    assert d.action == "skip" and d.gate is None
    assert ("apps.failing.autopilot is false" if where == "app" else "delivery.autopilot is false") in d.reason


def test_a_rolled_back_canary_waits_for_a_new_tag(repo, prometheus_url):
    now = int(time.time())
    repo.commit(now - 7200, "canary at 10", stack_text({"failing": app(canary=10)}))
    repo.commit(now - 3600, "rollback", stack_text({"failing": app(canary=0)}))

    d = decide(repo, prometheus_url)["failing"]
    assert d.action == "hold" and "was rolled back in" in d.reason and "set a new canary tag" in d.reason

    repo.commit(now - 60, "a fixed canary", stack_text({"failing": app(canary=0, canary_tag="6.14.2")}))
    assert decide(repo, prometheus_url)["failing"].action == "promote"


def test_bake_time_runs_from_the_merge_commit_not_from_when_the_branch_was_written(repo, prometheus_url):
    now = int(time.time())
    repo.commit(now - 7200, "initial", stack_text({"healthy": app(canary=0)}))
    repo.git("checkout", "-q", "-b", "promote")
    repo.commit(now - 3600, "promote to 10 (written an hour ago)", stack_text({"healthy": app(canary=10)}))
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge the promotion", "promote", when=now - 120)

    d = decide(repo, prometheus_url)["healthy"]

    assert d.action == "hold" and d.step.committed_at == now - 120
    assert d.step.commit == repo.head()


def test_an_unmerged_change_holds_until_it_is_on_the_base_branch(repo, prometheus_url):
    at(repo, BAKE + 100, {"healthy": app(canary=10)})
    repo.file.write_text(stack_text({"healthy": app(canary=60)}))  # edited, not committed

    d = decide(repo, prometheus_url)["healthy"]

    assert d.action == "hold" and "is not what HEAD holds: merge that change first" in d.reason


def test_a_rollback_goes_alone_and_other_steps_wait(repo, prometheus_url):
    at(repo, BAKE + 100, {"healthy": app(canary=10), "failing": app(canary=10)})

    decisions = decide(repo, prometheus_url)

    assert decisions["failing"].action == "rollback"
    assert decisions["healthy"].action == "hold" and decisions["healthy"].canary_to == 10
    assert decisions["healthy"].reason.startswith("deferred: this run only rolls back (failing)")


def test_steps_never_rise_by_more_than_max_weight_step(repo, prometheus_url):
    at(repo, BAKE + 100, {"healthy": app(canary=10)}, {"maxWeightStep": 20})

    assert decide(repo, prometheus_url)["healthy"].canary_to == 30


def test_a_shallow_clone_is_refused_because_history_times_the_steps(repo, tmp_path):
    at(repo, 60, {"healthy": app(canary=10)})
    clone = tmp_path / "clone"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone))

    with pytest.raises(UsageError, match="shallow clone.*fetch-depth: 0"):
        autopilot.decide(STACK, clone, None)


# --- a whole release ------------------------------------------------------------------------------


def test_autopilot_alone_releases_a_canary_from_0_to_finalize_and_check_passes_every_commit(repo, prometheus_url):
    """Start an hour ago; every 4 minutes (a simulated clock) autopilot decides; each edit it
    writes is checked against the base like a PR, then merged as a commit dated that moment."""
    clock = int(time.time()) - 3600
    repo.commit(clock, "initial: GA only", stack_text({"healthy": app(canary=0, canary_tag=GA_TAG)}))
    clock += 60
    repo.commit(clock, "set-tag: canary 6.14.1", stack_text({"healthy": app(canary=0, canary_tag=NEW_TAG)}))

    journal = []
    for _ in range(20):
        clock += 240
        run = autopilot.decide(STACK, repo.path, prometheus_url, now=clock)
        (d,) = run.decisions
        journal.append((d.action, d.canary_from, d.canary_to))
        if d.action in ("promote", "finalize"):
            result, _ = autopilot.write(run, repo.path)
            assert result.written
            findings = check.check(STACK, "HEAD", Path(repo.path))
            assert not [f for f in findings if f.level == check.FAIL], findings
            repo.commit(clock, autopilot_report.title(run))
        if d.action == "none":
            break

    assert journal == [
        ("promote", 0, 10),
        ("hold", 10, 10),
        ("hold", 10, 10),
        ("promote", 10, 60),
        ("hold", 60, 60),
        ("hold", 60, 60),
        ("promote", 60, 100),
        ("hold", 100, 100),
        ("hold", 100, 100),
        ("finalize", 100, 0),
        ("none", 0, 0),
    ]
    final = autopilot.decide(STACK, repo.path, prometheus_url, now=clock)
    assert final.settings.apps["healthy"].ga.tag == NEW_TAG
    assert [line.split(" ", 2)[2] for line in repo.log()] == [
        "autopilot(auto): finalize healthy (GA takes the canary tag)",
        "autopilot(auto): promote healthy GA 40 / canary 60 -> GA 0 / canary 100",
        "autopilot(auto): promote healthy GA 90 / canary 10 -> GA 40 / canary 60",
        "autopilot(auto): promote healthy GA 100 / canary 0 -> GA 90 / canary 10",
        "set-tag: canary 6.14.1",
        "initial: GA only",
    ]
