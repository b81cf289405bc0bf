"""promote, rollback, finalize, set-tag, upgrades and status on temporary copies of the fixture stacks.

Each edit is asserted as the exact resulting text: the original with only the edited values
changed, so comments, key order, flow mappings and quotes are pinned too. Every refusal must
leave the file byte-identical.
"""

from __future__ import annotations

import errno
import http.server
import json
import os
import threading
import types
from pathlib import Path

import pytest

from delivery import stack as stackfile
from delivery.__main__ import main
from delivery.errors import UnavailableError
from tests.support.project import FIXTURES_DIR

# The fixture dev stack's podinfo (tests/fixtures/Pulumi.dev.yaml), the starting point of every edit here.
PODINFO = {
    "ga": 'ga: {tag: 6.13.0, track: "6.13.x", replicas: 2}',
    "canary": 'canary: {tag: 6.14.1, track: "6.14.x", replicas: 1}',
    "weights": "weights: {ga: 90, canary: 10}",
}


@pytest.fixture
def project(fixture_project: Path) -> Path:
    text = (fixture_project / "Pulumi.dev.yaml").read_text()
    assert all(line in text for line in PODINFO.values()), "tests/fixtures/Pulumi.dev.yaml lost its podinfo lines"
    return fixture_project


@pytest.fixture
def delivery(project, capsys):
    """Run `python -m delivery ARGS --project-dir <tmp>`: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--project-dir", str(project)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def dev(project: Path) -> str:
    return (project / "Pulumi.dev.yaml").read_text()


def changed(original: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert original.count(old) == 1, old
        original = original.replace(old, new)
    return original


# --- the round trip ------------------------------------------------------------------------


@pytest.mark.parametrize("stack_file", sorted(p.name for p in FIXTURES_DIR.glob("Pulumi.*.yaml")))
def test_stack_files_survive_an_edit_that_changes_nothing(stack_file, tmp_path):
    path = tmp_path / stack_file
    path.write_text((FIXTURES_DIR / stack_file).read_text())
    result = stackfile.edit(path, lambda config: None)
    assert not result.changed and not result.written
    assert path.read_text() == (FIXTURES_DIR / stack_file).read_text()


EXISTING = "  istio-canary:cluster: {provider: existing}\n"


@pytest.mark.parametrize(
    "text",
    [
        "---\nconfig:\n" + EXISTING + "  istio-canary:delivery: {maxWeightStep: 20}\n",
        # 4-space indent, no final newline
        "config:\n    istio-canary:cluster: {provider: existing}\n"
        "    istio-canary:delivery:\n        maxWeightStep: 20",
        "config:\n" + EXISTING + "  istio-canary:apps:\n    web:\n      namespace: web\n      strategy: canary\n"
        "      image: ghcr.io/stefanprodan/podinfo\n      tag: 6.13.0\n      hosts:\n      - web.example.com\n"
        "  istio-canary:delivery:\n    maxWeightStep: 20\n",  # the Pulumi CLI's unindented lists
    ],
)
def test_other_layouts_keep_their_style_through_an_edit(tmp_path, text):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(text)

    def mutate(config):
        stackfile.set_scalar(config["istio-canary:delivery"], "maxWeightStep", 30)

    result = stackfile.edit(path, mutate, dry_run=True)
    assert result.new_text == text.replace("maxWeightStep: 20", "maxWeightStep: 30")


def test_a_file_the_round_trip_would_reformat_is_refused(tmp_path):
    path = tmp_path / "Pulumi.odd.yaml"
    path.write_text("config:\n  istio-canary:delivery:\n    maxWeightStep: [1,2]\n")
    with pytest.raises(stackfile.StackFileError, match=r"Pulumi.odd.yaml:3: an edit would also reformat"):
        stackfile.edit(path, lambda config: None)


def test_a_crash_before_the_rename_leaves_the_file_whole(project, monkeypatch):
    before = dev(project)

    def crash(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(UnavailableError, match="No space left on device"):
        stackfile.set_tag(project / "Pulumi.dev.yaml", "backend", None, "6.13.1")
    assert dev(project) == before
    assert sorted(p.name for p in project.iterdir()) == ["Pulumi.dev.yaml", "Pulumi.local.yaml"]


def test_a_write_replaces_the_file_and_keeps_its_mode(project):
    path = project / "Pulumi.dev.yaml"
    path.chmod(0o640)
    inode = path.stat().st_ino
    stackfile.set_tag(path, "backend", None, "6.13.1")
    assert path.stat().st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert path.stat().st_mode & 0o777 == 0o640


# --- promote -------------------------------------------------------------------------------


def test_promote_sets_both_weights_and_nothing_else(project, delivery):
    before = dev(project)
    code, out, _ = delivery("promote", "--stack", "dev", "podinfo", "--canary", "60")
    assert code == 0
    assert dev(project) == changed(before, ("weights: {ga: 90, canary: 10}", "weights: {ga: 40, canary: 60}"))
    assert "apps.podinfo.weights: GA 90 / canary 10 -> GA 40 / canary 60" in out


def test_promote_step_raises_by_max_weight_step_capped_at_100(project, delivery):
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
    from delivery.errors import UnavailableError
    from delivery.release import gate

    def evaluate(settings, app_name, prometheus_url, window):
        calls.append((app_name, prometheus_url, window, settings.apps[app_name].weights.canary))
        if passed is None:
            raise UnavailableError("cannot reach http://127.0.0.1:9/")
        return types.SimpleNamespace(passed=passed, report=f"gate report for {app_name}")

    monkeypatch.setattr(gate, "evaluate", evaluate)


def test_promote_behind_a_failing_gate_exits_1_and_leaves_the_file(project, delivery, monkeypatch):
    calls: list = []
    _fake_gate(monkeypatch, False, calls)
    before = dev(project)
    code, out, err = delivery("promote", "--stack", "dev", "podinfo", "--step", "--prometheus", "http://127.0.0.1:9/")
    assert code == 1 and dev(project) == before
    assert calls == [("podinfo", "http://127.0.0.1:9/", "5m", 10)]
    assert "gate report for podinfo" in out and "promotion gate failed" in err


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


# --- set-tag -------------------------------------------------------------------------------


def test_set_tag_on_a_weighted_side(project, delivery):
    before = dev(project)
    assert delivery("set-tag", "--stack", "dev", "podinfo", "--side", "canary", "6.14.2")[0] == 0
    assert dev(project) == changed(before, (PODINFO["canary"], 'canary: {tag: 6.14.2, track: "6.14.x", replicas: 1}'))


def test_set_tag_on_a_flagger_app_has_no_side(project, delivery):
    before = dev(project)
    assert delivery("set-tag", "--stack", "dev", "backend", "6.14.0")[0] == 0
    backend = before[before.index("    backend:") :]
    assert dev(project) == before.replace(backend, backend.replace("tag: 6.13.0", "tag: 6.14.0", 1))
    code, _, err = delivery("set-tag", "--stack", "dev", "backend", "--side", "ga", "6.14.1")
    assert code == 2 and "drop --side" in err


def test_set_tag_on_a_weighted_app_needs_a_side(project, delivery):
    before = dev(project)
    code, _, err = delivery("set-tag", "--stack", "dev", "podinfo", "6.13.1")
    assert code == 2 and "--side ga or --side canary" in err
    assert dev(project) == before


@pytest.mark.parametrize(
    "tag, message",
    [
        ("6.15.0", "apps.podinfo.canary.tag: '6.15.0' is outside its track '6.14.x'"),
        ("latest", "'latest' is not allowed"),
    ],
)
def test_set_tag_refuses_what_the_program_would_reject(project, delivery, tag, message):
    before = dev(project)
    code, _, err = delivery("set-tag", "--stack", "dev", "podinfo", "--side", "canary", tag)
    assert code == 2 and message in err
    assert dev(project) == before


def test_set_tags_changes_several_sides_in_one_validated_edit(project):
    path = project / "Pulumi.dev.yaml"
    before = dev(project)
    result = stackfile.set_tags(
        path, {("podinfo", "ga"): "6.13.4", ("podinfo", "canary"): "6.14.3", ("frontend", None): "6.14.0"}, dry_run=True
    )
    assert result.changed and not result.written and dev(project) == before
    assert result.diff.count("\n+  ") == 3
    with pytest.raises(stackfile.StackFileError, match="outside its track"):
        stackfile.set_tags(path, {("podinfo", "ga"): "6.13.4", ("podinfo", "canary"): "7.0.0"})
    assert dev(project) == before  # all or nothing


# --- upgrades ------------------------------------------------------------------------------

INDEX = """apiVersion: v1
entries:
  base:     [{version: 1.30.3}, {version: 1.30.4}, {version: 1.30.5}, {version: 1.31.1}]
  istiod:   [{version: 1.30.3}, {version: 1.30.4}, {version: 1.30.5}, {version: 1.30.6-beta.0}, {version: 1.31.1}]
  gateway:  [{version: 1.30.3}, {version: 1.30.4}, {version: 1.31.1}]
  flagger:  [{version: 1.44.0}, {version: 1.44.1}]
  loadtester: [{version: 0.38.0}]
  prometheus: [{version: 29.27.0}, {version: 29.27.2}, {version: 29.28.0}]
  grafana:  [{version: 12.11.1}]
"""


@pytest.fixture
def chart_repo(tmp_path):
    """A Helm repository on 127.0.0.1 serving one small index.yaml for every chart."""
    root = tmp_path / "charts"
    root.mkdir()
    (root / "index.yaml").write_text(INDEX)
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _mirrors(url: str) -> list[str]:
    return [
        arg
        for name in ("istio", "flagger", "prometheus-community", "grafana-community")
        for arg in ("--repo", f"{name}={url}")
    ]


def test_upgrades_take_the_newest_patch_every_istio_chart_publishes(project, delivery, chart_repo):
    before = dev(project)
    code, out, _ = delivery("upgrades", "--stack", "dev", *_mirrors(chart_repo))
    assert code == 0, out
    assert dev(project) == changed(
        before,
        ("istioVersion: 1.30.3", "istioVersion: 1.30.4"),
        ("flaggerVersion: 1.44.0", "flaggerVersion: 1.44.1"),
        ("prometheusVersion: 29.27.0", "prometheusVersion: 29.27.2"),
    )
    assert "platform.istioVersion: 1.31.1 is a newer minor; not applied" in out


def test_upgrades_leave_unset_versions_to_the_defaults(project, delivery, chart_repo):
    before = (project / "Pulumi.local.yaml").read_text()
    code, out, _ = delivery("upgrades", "--stack", "local", *_mirrors(chart_repo))
    assert code == 0 and "up to date" in out
    assert (project / "Pulumi.local.yaml").read_text() == before


def test_upgrades_from_an_unreachable_repository_exit_3_and_leave_the_file(project, delivery, chart_repo):
    before = dev(project)
    code, _, err = delivery("upgrades", "--stack", "dev", *_mirrors(chart_repo), "--repo", "istio=http://127.0.0.1:9/")
    assert code == 3 and "cannot reach http://127.0.0.1:9/index.yaml" in err
    assert dev(project) == before


# --- status --------------------------------------------------------------------------------


def test_status_shows_tags_weights_and_urls_from_the_offline_preview(project, delivery, monkeypatch):
    monkeypatch.setenv("PATH", str(project))  # no pulumi CLI
    plan = project / "build" / "preview" / "dev" / "plan.json"
    plan.parent.mkdir(parents=True)
    plan.write_text(json.dumps({"outputs": {"ingressAddress": "198.51.100.10", "kubeconfig": "[secret]"}}))
    code, out, _ = delivery("status", "--stack", "dev")
    assert code == 0
    assert "outputs: offline preview build/preview/dev/plan.json" in out and "ingress: 198.51.100.10" in out
    lines = {line.split()[0]: line.split("  ") for line in out.splitlines() if line.startswith(("podinfo", "frontend"))}
    assert [cell.strip() for cell in lines["podinfo"] if cell.strip()] == [
        "podinfo",
        "weighted",
        "test",
        "6.13.0 (6.13.x)",
        "6.14.1 (6.14.x)",
        "GA 90 / canary 10",
        "http://podinfo.example.com/",
    ]
    assert lines["frontend"][-1].strip() == "http://198.51.100.10/"  # host "*" is the gateway's address


def test_status_prefers_the_pulumi_cli_when_installed(project, delivery, monkeypatch):
    bin_dir = project / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"  # answers only the exact command status must run
    fake.write_text(
        '#!/bin/sh\n[ "$*" = "stack output --json --stack dev" ] || exit 3\n'
        'echo \'{"ingressAddress": "203.0.113.77"}\'\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    code, out, _ = delivery("status", "--stack", "dev")
    assert code == 0
    assert "outputs: pulumi stack output --json --stack dev" in out and "ingress: 203.0.113.77" in out


def test_status_of_every_stack_without_outputs(project, delivery, monkeypatch):
    monkeypatch.setenv("PATH", str(project))
    code, out, _ = delivery("status", "--all")
    assert code == 0
    assert "stack dev (Pulumi.dev.yaml)" in out and "stack local (Pulumi.local.yaml)" in out
    assert "outputs: none" in out
