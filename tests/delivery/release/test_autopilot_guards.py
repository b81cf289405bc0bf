"""Autopilot's guards (issue 19): rollback memory that survives any later history until a person sets
the build again, bake time on everything the canary runs, edits refused on a file changed since the
decision's read, and holds when the cluster serves other weights than Git."""

from __future__ import annotations

import json
import time

import pytest

from delivery import stack
from delivery.__main__ import main
from delivery.release import autopilot, gate, step_history
from tests.support.stack_repo import GA_TAG, NEW_TAG, STACK, StackRepo, app, stack_text

HOUR = 3600


@pytest.fixture
def repo(tmp_path) -> StackRepo:
    return StackRepo(tmp_path)


def history(repo: StackRepo, *states: tuple[str, dict | str]) -> None:
    """Commit each (message, apps or raw text) an hour apart, the last one a minute ago."""
    now = int(time.time())
    for i, (message, apps) in enumerate(states):
        text = apps if isinstance(apps, str) else stack_text(apps)
        repo.commit(now - 60 - (len(states) - 1 - i) * HOUR, message, text)


def decision(repo: StackRepo, prometheus: str | None = None, **kwargs) -> autopilot.Decision:
    (d,) = autopilot.decide(STACK, repo.path, prometheus, **kwargs).decisions
    return d


ROLLED_BACK = (
    ("canary at 10", {"shop": app(canary=10)}),
    ("autopilot(auto): rollback shop", {"shop": app(canary=0)}),
)


# --- rollback memory --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "since",
    [
        [],
        [("remove shop", {}), ("restore shop", {"shop": app(canary=0)})],
        [("a broken commit", "config: [not, a, mapping\n"), ("fix it", {"shop": app(canary=0)})],
        [("other tag", {"shop": app(canary_tag="6.14.2")}), ("autopilot(auto): x", {"shop": app()})],
        [("rename", {"store": app(canary=0)})],
    ],
    ids=["right after", "removed and restored", "broken then fixed", "set again by automation", "renamed"],
)
def test_a_rolled_back_build_is_never_promoted_again_whatever_happened_since(repo, since):
    history(repo, *ROLLED_BACK, *since)

    d = decision(repo)

    assert d.action == "hold" and "was rolled back in" in d.reason and "set a new canary tag" in d.reason
    assert f"{step_history.RETRY_TRAILER}: {NEW_TAG}" in d.reason


@pytest.mark.parametrize("trailer", [NEW_TAG, f"ghcr.io/stefanprodan/podinfo:{NEW_TAG}"])
def test_a_person_sets_it_again_with_the_retry_trailer(repo, trailer):
    history(repo, *ROLLED_BACK)
    repo.git("commit", "-q", "--allow-empty", "-m", f"retry {NEW_TAG}\n\n{step_history.RETRY_TRAILER}: {trailer}")

    d = decision(repo)
    assert (d.action, d.canary_to) == ("promote", 10)


def test_a_person_sets_it_again_by_setting_that_canary_tag_from_another(repo):
    history(repo, *ROLLED_BACK, ("try 6.14.2", {"shop": app(canary_tag="6.14.2")}), ("back", {"shop": app()}))
    assert decision(repo).action == "promote"


def test_a_new_canary_tag_after_a_rollback_is_promoted(repo):
    history(repo, *ROLLED_BACK, ("a fixed canary", {"shop": app(canary_tag="6.14.2")}))
    assert decision(repo).action == "promote"


def test_finalize_is_not_a_rollback(repo):
    history(repo, ("at 100", {"shop": app(canary=100)}), ("finalize", {"shop": app(ga_tag=NEW_TAG)}))
    assert step_history.read(repo.path, "HEAD", repo.file.name).rolled_back == {}


# --- bake time --------------------------------------------------------------------------------------


def test_bake_time_restarts_when_the_canary_runs_another_image(repo):
    history(repo, ("step", {"shop": app(canary=10)}), ("other repo", {"shop": app(canary=10, image="ghcr.io/acme/x")}))

    (start,) = step_history.read(repo.path, "HEAD", repo.file.name).step_starts(["shop"]).values()
    assert start is not None and start.commit == repo.head()
    assert start.before is not None and start.before.canary.image == "ghcr.io/stefanprodan/podinfo"


@pytest.mark.slow  # a real Prometheus judges the canary
def test_a_healthy_canary_moved_to_another_image_a_minute_ago_is_still_baking(repo, prometheus_url):
    moved = {"healthy": app(canary=10, image="ghcr.io/acme/x")}
    history(repo, ("step", {"healthy": app(canary=10)}), ("step", {"healthy": app(canary=10)}), ("moved", moved))

    d = decision(repo, prometheus_url)
    # The step (and the judge's window) starts at the move a minute ago, not at the older steps.
    assert (d.action, d.canary_to) == ("hold", 10) and d.bake_observed < 120
    assert d.gate_window == f"{int(max(60, d.bake_observed))}s"


# --- the edit is made to what the decision read ---------------------------------------------------------


def test_autopilot_write_refuses_a_file_changed_since_the_decision(repo):
    history(repo, ("new canary", {"shop": app(canary=0)}))
    run = autopilot.decide(STACK, repo.path, None)
    assert run.edits and run.edits[0].canary_to == 10
    rolled = stack_text({"shop": app(canary=0, canary_tag="6.14.2")})
    repo.file.write_text(rolled)  # someone's edit lands while the decision is being made

    with pytest.raises(stack.StackFileError, match="changed since this command read it") as refused:
        autopilot.write(run, repo.path)
    assert refused.value.status == 2 and repo.file.read_text() == rolled


@pytest.mark.slow  # a real Prometheus answers the gate
def test_promote_step_with_the_gate_refuses_a_rollback_written_meanwhile(repo, prometheus_url, monkeypatch, capsys):
    history(repo, ("at 10", {"healthy": app(canary=10)}))
    rollback = stack_text({"healthy": app(canary=0)})
    evaluate = gate.evaluate

    def slow_gate(*args, **kwargs):
        repo.file.write_text(rollback)  # merged while Prometheus was queried
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(gate, "evaluate", slow_gate)
    # Ten minutes of the healthy scenario: enough counts for the judge to pass it.
    args = ["promote", "--stack", STACK, "healthy", "--step", "--prometheus", prometheus_url, "--window", "10m"]
    code = main([*args, "--project-dir", str(repo.path)])

    assert code == 2 and "changed since this command read it" in capsys.readouterr().err
    assert repo.file.read_text() == rollback  # never GA 40 / canary 60 on top of the rollback


# --- the weights the cluster serves --------------------------------------------------------------------


def virtual_services(tmp_path, ga: int, canary: int, name: str = "shop") -> str:
    route = [
        {"destination": {"host": f"{name}.shop.svc.cluster.local", "subset": "ga"}, "weight": ga},
        {"destination": {"host": f"{name}.shop.svc.cluster.local", "subset": "canary"}, "weight": canary},
    ]
    item = {
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"http": [{"route": route}]},
    }
    path = tmp_path / "live.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [item]}))
    return str(path)


@pytest.mark.parametrize(
    "served, action, reason",
    [
        ((100, 0), "promote", "first step"),
        ((90, 10), "hold", "the cluster serves GA 90 / canary 10 (VirtualService shop/shop) but HEAD says GA 100"),
        (None, "hold", "the cluster serves no VirtualService shop/shop"),
    ],
    ids=["as in Git", "other weights", "not deployed"],
)
def test_autopilot_holds_when_the_cluster_serves_other_weights_than_git(repo, tmp_path, capsys, served, action, reason):
    history(repo, ("new canary", {"shop": app(canary=0)}))
    live = virtual_services(tmp_path, *served) if served else virtual_services(tmp_path, 100, 0, name="other")
    args = ["autopilot", "--stack", STACK, "--base", "HEAD", "--live-weights", live, "--json"]

    assert main([*args, "--project-dir", str(repo.path)]) == 0
    (d,) = json.loads(capsys.readouterr().out)["decisions"]
    assert d["action"] == action and reason in d["reason"]


def test_live_weights_that_are_not_kubectl_json_exit_2(repo, tmp_path, capsys):
    history(repo, ("new canary", {"shop": app(canary=0, canary_tag=GA_TAG)}))
    bad = tmp_path / "live.json"
    bad.write_text("<html>")
    assert main(["autopilot", "--stack", STACK, "--live-weights", str(bad), "--project-dir", str(repo.path)]) == 2
    assert "--live-weights" in capsys.readouterr().err
