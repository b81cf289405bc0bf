"""promote, rollback and finalize: the weights edits (and finalize's tags), on a scratch copy of the
fixture stacks (tests/support/stack_edits.py). Each edit is asserted as the exact resulting text, so
comments, key order, flow mappings and quotes are pinned too; every refusal leaves the file
byte-identical."""

from __future__ import annotations

import types

import pytest

from delivery.__main__ import main
from delivery.errors import UnavailableError
from tests.support.project import PODINFO
from tests.support.stack_edits import changed, dev

# --- promote -------------------------------------------------------------------------------


def test_promote_sets_both_weights_and_nothing_else(project, delivery):
    before = dev(project)
    code, out, _ = delivery("promote", "--stack", "dev", "podinfo", "--canary", "60")
    assert code == 0
    assert dev(project) == changed(before, ("weights: {ga: 90, canary: 10}", "weights: {ga: 40, canary: 60}"))
    assert "apps.podinfo.weights: GA 90 / canary 10 -> GA 40 / canary 60" in out


def test_promote_step_moves_to_the_next_of_delivery_steps(project, delivery):
    before = dev(project)
    assert delivery("promote", "--stack", "dev", "podinfo", "--step")[0] == 0
    assert dev(project) == changed(before, ("weights: {ga: 90, canary: 10}", "weights: {ga: 40, canary: 60}"))
    assert delivery("promote", "--stack", "dev", "podinfo", "--step")[0] == 0
    assert dev(project) == changed(before, ("weights: {ga: 90, canary: 10}", "weights: {ga: 0, canary: 100}"))


def test_promote_refuses_flagger_apps_naming_the_strategy(project, delivery):
    before = dev(project)
    code, _, err = delivery("promote", "--stack", "dev", "backend", "--canary", "20")
    assert code == 2
    assert "apps.backend has strategy 'canary'" in err and "weighted apps only" in err
    assert dev(project) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (("promote", "--stack", "dev", "nope", "--canary", "20"), "no app 'nope'"),
        (("promote", "--stack", "prod", "podinfo", "--canary", "20"), "no stack file Pulumi.prod.yaml"),
        (("rollback", "--stack", "dev", "frontend"), "apps.frontend has strategy 'ab'"),
        (("finalize", "--stack", "dev", "nope"), "no app 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_edit(project, delivery, args, message):
    before = dev(project)
    code, _, err = delivery(*args)
    assert code == 2 and message in err and "Traceback" not in err
    assert dev(project) == before


def test_a_weight_outside_0_to_100_is_a_usage_error(project, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["promote", "--stack", "dev", "podinfo", "--canary", "120", "--project-dir", str(project)])
    assert exit_.value.code == 2 and "outside 0..100" in capsys.readouterr().err


def test_dry_run_prints_the_diff_and_writes_nothing(project, delivery):
    before = dev(project)
    code, out, _ = delivery("promote", "--stack", "dev", "podinfo", "--canary", "30", "--dry-run")
    assert code == 0 and dev(project) == before
    assert "--- a/Pulumi.dev.yaml\n+++ b/Pulumi.dev.yaml\n" in out
    assert "\n-      weights: {ga: 90, canary: 10}\n+      weights: {ga: 70, canary: 30}\n" in out


def _fake_gate(monkeypatch, passed: bool | None, calls: list):
    """The gate's agreed interface, answering as told (its real checks are tested with a real Prometheus)."""
    from delivery.release import gate

    def evaluate(settings, app_name, prometheus_url, window):
        calls.append((app_name, prometheus_url, window, settings.apps[app_name].weights.canary))
        if passed is None:
            raise UnavailableError("cannot reach http://127.0.0.1:9/")
        return types.SimpleNamespace(
            passed=passed, verdict="pass" if passed else "fail", report=f"gate report for {app_name}"
        )

    monkeypatch.setattr(gate, "evaluate", evaluate)


def test_promote_behind_a_failing_gate_exits_1_and_leaves_the_file(project, delivery, monkeypatch):
    calls: list = []
    _fake_gate(monkeypatch, False, calls)
    before = dev(project)
    code, out, err = delivery("promote", "--stack", "dev", "podinfo", "--step", "--prometheus", "http://127.0.0.1:9/")
    assert code == 1 and dev(project) == before
    assert calls == [("podinfo", "http://127.0.0.1:9/", "5m", 10)]
    assert "gate report for podinfo" in out and "the judge's verdict is fail (only pass promotes)" in err


def test_promote_behind_a_passing_gate_edits(project, delivery, monkeypatch):
    calls: list = []
    _fake_gate(monkeypatch, True, calls)
    before = dev(project)
    code, _, _ = delivery(
        "promote",
        "--stack",
        "dev",
        "podinfo",
        "--canary",
        "50",
        "--prometheus",
        "http://127.0.0.1:9/",
        "--window",
        "10m",
    )
    assert code == 0 and calls[0][2] == "10m"
    assert dev(project) == changed(before, ("weights: {ga: 90, canary: 10}", "weights: {ga: 50, canary: 50}"))


def test_promote_with_an_unreachable_prometheus_exits_3_and_leaves_the_file(project, delivery, monkeypatch):
    _fake_gate(monkeypatch, None, [])
    before = dev(project)
    code, _, err = delivery("promote", "--stack", "dev", "podinfo", "--step", "--prometheus", "http://127.0.0.1:9/")
    assert code == 3 and "promotion gate: cannot reach" in err
    assert dev(project) == before


def test_lowering_the_canary_does_not_wait_for_the_gate(project, delivery, monkeypatch):
    calls: list = []
    _fake_gate(monkeypatch, False, calls)
    code, out, _ = delivery(
        "promote", "--stack", "dev", "podinfo", "--canary", "5", "--prometheus", "http://127.0.0.1:9/"
    )
    assert code == 0 and calls == [] and "gate skipped" in out


# --- rollback and finalize -----------------------------------------------------------------


def test_rollback_sends_all_traffic_to_ga(project, delivery):
    before = dev(project)
    assert delivery("rollback", "--stack", "dev", "podinfo")[0] == 0
    assert dev(project) == changed(before, ("weights: {ga: 90, canary: 10}", "weights: {ga: 100, canary: 0}"))


def test_rollback_of_a_rolled_back_app_changes_nothing(project, delivery):
    before = (project / "Pulumi.local.yaml").read_text()
    code, out, _ = delivery("rollback", "--stack", "local", "podinfo")
    assert code == 0 and "nothing to change" in out
    assert (project / "Pulumi.local.yaml").read_text() == before


def test_finalize_refuses_until_the_canary_holds_100(project, delivery):
    before = dev(project)
    code, _, err = delivery("finalize", "--stack", "dev", "podinfo")
    assert code == 2 and "apps.podinfo.weights.canary is 10: finalize needs the canary at 100" in err
    assert dev(project) == before


def test_finalize_makes_the_canary_the_new_ga(project, delivery):
    before = dev(project)
    assert delivery("promote", "--stack", "dev", "podinfo", "--canary", "100")[0] == 0
    code, out, _ = delivery("finalize", "--stack", "dev", "podinfo")
    assert code == 0, out
    assert dev(project) == changed(
        before,
        (PODINFO["ga"], 'ga: {tag: 6.14.1, track: "6.14.x", replicas: 2}'),
        (PODINFO["weights"], "weights: {ga: 100, canary: 0}"),
    )
    assert "apps.podinfo.ga.tag: 6.13.0 -> 6.14.1" in out and "apps.podinfo.ga.track: 6.13.x -> 6.14.x" in out
