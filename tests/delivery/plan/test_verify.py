"""`verify`: the whole desired cluster state of every stack is valid, wired and ordered; the command
reports counts, writes the rendered releases, and never a secret."""

from __future__ import annotations

import copy
import json

import pytest

from conftest import PROJECT_DIR, reference_file
from delivery import engine
from delivery.commands import verify as command
from delivery.plan.verify import verify_plan

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


@pytest.fixture(autouse=True)
def _reference_charts(monkeypatch):
    charts = reference_file("charts/base-1.30.3.tgz").parent
    monkeypatch.setenv("ISTIO_CANARY_CHARTS", str(charts))


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_verifies_clean(stack):
    # An invariant of every release state: the stack files change in every release PR.
    result = verify_plan(engine.render(stack).resources)
    assert not result.report.defects, "\n".join(d.message for d in result.report.defects)
    kinds = {o.kind for o in result.objects}
    assert {"CustomResourceDefinition", "Deployment", "Gateway", "VirtualService"} <= kinds
    assert result.report.validated and result.report.references and result.report.edges


def test_every_object_is_validated_and_each_custom_resource_against_the_crd_of_a_release(dev_plan):
    result = verify_plan(dev_plan.resources)
    assert len(result.report.validated) == len(result.objects)
    canary = next(v for v in result.report.validated if v.startswith("Canary "))
    assert "CustomResourceDefinition canaries.flagger.app (release istio-system/flagger" in canary


def test_command_writes_rendered_releases_and_a_report(tmp_path, capsys):
    code = command.run(_args("dev", tmp_path))
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads((tmp_path / "verify.json").read_text())
    assert not report["defects"]
    assert f"{len(report['validated'])} objects validated, {len(report['references'])} references resolved, " \
           f"{len(report['orderingEdges'])} ordering edges proven" in out
    for release in report["releases"]:
        assert (tmp_path / "rendered" / release["namespace"] / f"{release['release']}.yaml").is_file()
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "offline-preview-secret" not in written


def test_command_exits_1_and_names_the_defect(tmp_path, capsys, monkeypatch, dev_plan):
    broken = copy.deepcopy(dev_plan)
    gateway = broken.named("istio-gateway", "kubernetes:helm.sh/v3:Release")
    gateway["inputs"]["values"]["labels"] = {"istio": "ingressgateway"}
    monkeypatch.setattr(engine, "render", lambda stack: broken)
    assert command.run(_args("dev", tmp_path)) == 1
    assert "Gateway istio-system/public-gateway" in capsys.readouterr().err


def test_command_exits_2_for_an_unknown_stack(tmp_path, capsys):
    assert command.run(_args("nosuchstack", tmp_path)) == 2
    assert "Pulumi.nosuchstack.yaml" in capsys.readouterr().err


def test_command_exits_3_when_a_chart_is_neither_local_nor_reachable(tmp_path, capsys, monkeypatch, dev_plan):
    moved = copy.deepcopy(dev_plan)
    flagger = moved.named("flagger", "kubernetes:helm.sh/v3:Release")
    flagger["inputs"]["version"] = "0.0.1"
    flagger["inputs"]["repositoryOpts"]["repo"] = "http://127.0.0.1:1"
    monkeypatch.setattr(engine, "render", lambda stack: moved)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert command.run(_args("dev", tmp_path / "out")) == 3
    assert "flagger 0.0.1" in capsys.readouterr().err


def _args(stack, out):
    import argparse

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(["--stack", stack, "--out", str(out)])
