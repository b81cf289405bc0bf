"""What every command shares: `--stack`/`--project-dir` the same way, and JSON that bots can parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from delivery.__main__ import COMMANDS, build_parser, main
from delivery.commands import common

# Commands for which a stack means nothing: they still take --project-dir.
STACKLESS = {"changed-stacks"}


def _option(parser, flag: str):
    return next((a for a in parser._actions if flag in a.option_strings), None)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_project_dir_and_stack_the_same_way(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a Pulumi project: the default is the installed project's
    _, parsers, _ = build_parser()
    project_dir = _option(parsers[command], "--project-dir")
    assert project_dir is not None, f"{command} has no --project-dir"
    assert project_dir.default == common.default_project_dir() and project_dir.type is Path
    stack = _option(parsers[command], "--stack")
    if command in STACKLESS:
        assert stack is None
    else:
        assert stack is not None, f"{command} has no --stack"
        assert (stack.default, stack.required) == (common.DEFAULT_STACK, False)


def test_project_dir_defaults_to_the_current_directory_when_it_is_a_pulumi_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert common.default_project_dir() != tmp_path
    (tmp_path / "Pulumi.yaml").write_text("name: istio-canary\nruntime: python\n")
    assert common.default_project_dir() == tmp_path


def test_status_reads_the_stack_of_the_current_project(fixture_project, monkeypatch, capsys):
    (fixture_project / "Pulumi.yaml").write_text("name: istio-canary\nruntime: python\n")
    monkeypatch.chdir(fixture_project)
    monkeypatch.setenv("PATH", str(fixture_project))  # no pulumi CLI
    assert main(["status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["stack"] for s in doc["stacks"]] == ["dev"]


def test_status_json_is_one_document_with_stable_keys(fixture_project, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(fixture_project))  # no pulumi CLI: outputs from nowhere
    assert main(["status", "--all", "--json", "--project-dir", str(fixture_project)]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)  # stdout holds exactly one JSON document
    assert (doc["schema"], doc["version"]) == ("istio-canary/status", 1)
    assert set(doc) == {"schema", "version", "stacks"}
    assert [s["stack"] for s in doc["stacks"]] == ["dev", "local"]
    for found in doc["stacks"]:
        assert set(found) == {"stack", "file", "outputsSource", "ingress", "apps"}
        assert isinstance(found["outputsSource"], str) and found["ingress"] is None
        for app in found["apps"]:
            assert set(app) == {"name", "strategy", "namespace", "ga", "canary", "weights", "traffic", "urls"}
            assert set(app["ga"]) == {"tag", "track"} and isinstance(app["urls"], list)
            if app["strategy"] == "weighted":
                assert set(app["weights"]) == {"ga", "canary"} and sum(app["weights"].values()) == 100
                assert app["traffic"] == f"GA {app['weights']['ga']} / canary {app['weights']['canary']}"
            else:
                assert app["weights"] is None and app["canary"] is None
    podinfo = next(a for a in doc["stacks"][0]["apps"] if a["name"] == "podinfo")
    assert podinfo["ga"] == {"tag": "6.13.0", "track": "6.13.x"} and podinfo["weights"] == {"ga": 90, "canary": 10}


def test_status_table_says_ga_and_canary(fixture_project, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(fixture_project))
    assert main(["status", "--project-dir", str(fixture_project)]) == 0
    out = capsys.readouterr().out
    assert "TRAFFIC" in out and "GA 90 / canary 10" in out and "90/10" not in out
