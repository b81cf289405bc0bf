"""`verify`: the whole desired cluster state of a stack is valid, wired and ordered; the command
reports counts, writes the rendered releases, never a secret, and exits with the status of what
went wrong."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from conftest import reference_file

from delivery.__main__ import main
from delivery.plan import engine
from delivery.plan.verify import verify_plan
from tests.support.project import FIXTURES_DIR, PROJECT_DIR


@pytest.fixture(autouse=True)
def _reference_charts(monkeypatch):
    charts = reference_file("charts/base-1.30.3.tgz").parent
    monkeypatch.setenv("ISTIO_CANARY_CHARTS", str(charts))


@pytest.mark.parametrize("plan_fixture", ["dev_plan", "local_plan"])
def test_fixture_stacks_verify_clean(plan_fixture, request):
    result = verify_plan(request.getfixturevalue(plan_fixture).resources)
    assert not result.report.defects, "\n".join(d.message for d in result.report.defects)
    kinds = {o.kind for o in result.objects}
    assert {"CustomResourceDefinition", "Deployment", "Gateway", "VirtualService", "Canary"} <= kinds
    assert result.report.validated and result.report.references and result.report.edges


def test_every_object_is_validated_and_each_custom_resource_against_the_crd_of_a_release(dev_plan):
    result = verify_plan(dev_plan.resources)
    assert len(result.report.validated) == len(result.objects)
    canary = next(v for v in result.report.validated if v.startswith("Canary "))
    assert "CustomResourceDefinition canaries.flagger.app (release istio-system/flagger" in canary


def test_command_writes_rendered_releases_and_a_report(tmp_path, capsys):
    code = _verify("dev", tmp_path)
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads((tmp_path / "verify.json").read_text())
    assert not report["defects"]
    assert (
        f"{len(report['validated'])} objects validated, {len(report['references'])} references resolved, "
        f"{len(report['orderingEdges'])} ordering edges proven" in out
    )
    for release in report["releases"]:
        assert (tmp_path / "rendered" / release["namespace"] / f"{release['release']}.yaml").is_file()
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "offline-preview-secret" not in written


def test_command_exits_1_and_names_the_defect(tmp_path, capsys, monkeypatch, dev_plan):
    broken = copy.deepcopy(dev_plan)
    gateway = broken.named("istio-gateway", "kubernetes:helm.sh/v3:Release")
    gateway["inputs"]["values"]["labels"] = {"istio": "ingressgateway"}
    monkeypatch.setattr(engine, "render", lambda stack, **_: broken)
    assert _verify("dev", tmp_path) == 1
    assert "Gateway istio-system/public-gateway" in capsys.readouterr().err


def test_command_exits_2_for_an_unknown_stack(tmp_path, capsys):
    assert _verify("nosuchstack", tmp_path) == 2
    err = capsys.readouterr().err
    assert "Pulumi.nosuchstack.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "verify.json").exists()


def test_command_exits_2_for_an_invalid_config_key(tmp_path, capsys):
    text = (FIXTURES_DIR / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(text.replace("istioVersion: ", "istioVersion: not-a-version #"))
    assert main(["verify", "--stack", "dev", "--stack-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "istioVersion" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_command_exits_3_when_a_chart_is_neither_local_nor_reachable(tmp_path, capsys, monkeypatch, dev_plan):
    moved = copy.deepcopy(dev_plan)
    flagger = moved.named("flagger", "kubernetes:helm.sh/v3:Release")
    flagger["inputs"]["version"] = "0.0.1"
    flagger["inputs"]["repositoryOpts"]["repo"] = "http://127.0.0.1:1"
    monkeypatch.setattr(engine, "render", lambda stack, **_: moved)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert _verify("dev", tmp_path / "out") == 3
    assert "flagger 0.0.1" in capsys.readouterr().err


# What a runner with only requirements.txt (deploy, drift, images) lacks.
_BLOCK_DEV_REQUIREMENTS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"jsonschema", "kubernetes_validate", "helm_python", "referencing"}:
            raise ImportError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
from delivery.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_every_command_loads_without_the_dev_requirements_and_verify_says_what_it_needs(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", _BLOCK_DEV_REQUIREMENTS, *args], cwd=PROJECT_DIR, capture_output=True, text=True
        )

    assert run("changed-stacks", "--help").returncode == 0
    done = run("verify", "--stack", "dev", "--stack-dir", str(FIXTURES_DIR), "--out", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "requirements-dev.txt" in done.stderr and "Traceback" not in done.stderr


def _verify(stack: str, out) -> int:
    """`python -m delivery verify` on a fixture stack, through the one place that maps errors to exit statuses."""
    return main(["verify", "--stack", stack, "--stack-dir", str(FIXTURES_DIR), "--out", str(out)])
