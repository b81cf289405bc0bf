"""One notion of "the next step" (issue 19): `promote --step`, autopilot and `check` all walk
`delivery.steps`, each move at most `delivery.maxWeightStep`."""

from __future__ import annotations

import pytest

from delivery import stack
from delivery.__main__ import main
from delivery.release import autopilot, check, steps
from model.settings import Delivery, WeightedApp
from tests.support.stack_repo import STACK, StackRepo, app, stack_text


@pytest.mark.parametrize(
    "delivery, walk",
    [
        (None, [10, 60, 100]),
        ({"maxWeightStep": 20}, [10, 30, 50, 60, 80, 100]),  # default steps, a lower cap
        ({"steps": [5, 25, 50, 100]}, [5, 25, 50, 100]),
    ],
    ids=["default", "maxWeightStep caps", "own steps"],
)
def test_promote_step_walks_the_steps_autopilot_walks_and_check_accepts_each(tmp_path, delivery, walk):
    repo = StackRepo(tmp_path)
    repo.commit(1_700_000_000, "new canary", stack_text({"shop": app(canary=0)}, delivery))
    limits = Delivery.model_validate(delivery or {})
    weights, autopilot_walk, canary = [], [], 0
    while canary < 100:
        assert main(["promote", "--stack", STACK, "shop", "--step", "--project-dir", str(repo.path)]) == 0
        assert not [f for f in check.check(STACK, "HEAD", repo.path) if f.level == check.FAIL]
        repo.commit(1_700_000_000 + len(weights), "promote --step")
        app_now = stack.load_settings(repo.file).apps["shop"]
        assert isinstance(app_now, WeightedApp)
        weights.append(app_now.weights.canary)
        autopilot_walk.append(autopilot.next_step(limits, canary))
        canary = app_now.weights.canary
    assert weights == walk == autopilot_walk


def test_check_refuses_a_move_past_the_next_step_that_promote_warns_about(tmp_path, capsys):
    repo = StackRepo(tmp_path)
    repo.commit(1_700_000_000, "new canary", stack_text({"shop": app(canary=0)}))
    assert main(["promote", "--stack", STACK, "shop", "--canary", "50", "--project-dir", str(repo.path)]) == 0
    assert "goes past the next step 10" in capsys.readouterr().err
    failed = [f.text for f in check.check(STACK, "HEAD", repo.path) if f.level == check.FAIL]
    assert failed and failed[0].startswith("apps.shop.weights.canary 0 -> 50 goes past the next step 10")


def test_the_first_step_is_where_a_new_build_starts():
    assert steps.first_step(Delivery()) == 10
    assert steps.first_step(Delivery.model_validate({"maxWeightStep": 5})) == 5
