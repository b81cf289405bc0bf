"""The offline preview keeps its contract: plan.json, manifests, exit codes, no secret in clear."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from delivery.plan import engine
from model.settings import ConfigError
from tests.support.project import FIXTURES_DIR, PROJECT_DIR

slow = pytest.mark.slow  # runs the CLI in a subprocess

SECRET_TEXTS = ("offline-preview-secret-for", "mock-")  # what the mocks put behind secrets


def preview(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "delivery", "preview", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def dev_preview(tmp_path_factory):
    out = tmp_path_factory.mktemp("preview")
    # The fixture dev stack carries a stand-in `secure:` slackWebhookUrl, so the plan holds secrets.
    result = preview("--stack", "dev", "--stack-dir", str(FIXTURES_DIR), "--out", str(out))
    return result, out


@slow
def test_preview_exits_0_and_prints_the_tree(dev_preview):
    result, _ = dev_preview
    assert result.returncode == 0, result.stderr
    assert "pulumi:pulumi:Stack" in result.stdout and "└─ " in result.stdout
    assert "gcp:container:Cluster" in result.stdout


@slow
def test_plan_json_follows_the_contract(dev_preview):
    _, out = dev_preview
    plan = json.loads((out / "plan.json").read_text())
    assert plan["project"] == "istio-canary" and plan["stack"] == "dev"
    assert isinstance(plan["violations"], list)
    urns = {r["urn"] for r in plan["resources"]}
    for r in plan["resources"]:
        assert {"urn", "type", "name", "parent", "provider", "dependencies", "inputs"} <= set(r)
        assert r["parent"] is None or r["parent"] in urns, r["urn"]
        assert set(r["dependencies"]) <= urns, r["urn"]
    pool = next(r for r in plan["resources"] if r["type"] == "gcp:container/nodePool:NodePool")
    assert pool["parent"].endswith("istio-canary:cluster:GkeCluster::cluster")
    assert pool["inputs"]["autoscaling"]["totalMaxNodeCount"] == 5  # numbers stay numbers


@slow
def test_plan_json_has_no_secret_in_clear(dev_preview):
    _, out = dev_preview
    text = (out / "plan.json").read_text()
    assert "[secret]" in text
    assert not [s for s in SECRET_TEXTS if s in text]
    assert "gke-gcloud-auth-plugin" not in text  # the kubeconfig is a secret


@slow
def test_manifests_are_written_per_object(dev_preview):
    _, out = dev_preview
    assert (out / "manifests").is_dir()


@slow
def test_invalid_config_exits_2_without_traceback(tmp_path):
    text = (FIXTURES_DIR / "Pulumi.dev.yaml").read_text().replace("{ga: 90, canary: 10}", "{ga: 95, canary: 10}")
    (tmp_path / "Pulumi.bad.yaml").write_text(text)
    result = preview("--stack", "bad", "--stack-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "apps.podinfo.weights" in result.stderr and "sum to 100" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


def test_invalid_config_registers_nothing(dev_config):
    bad = json.loads(json.dumps(dev_config))
    bad["istio-canary:apps"]["podinfo"]["weights"] = {"ga": 95, "canary": 10}
    with pytest.raises(ConfigError) as info:
        engine.render("dev", bad)
    assert info.value.registered == []


@slow
def test_unknown_stack_exits_2(tmp_path):
    result = preview("--stack", "nope", "--stack-dir", str(tmp_path))
    assert result.returncode == 2 and "Pulumi.nope.yaml" in result.stderr


@slow
def test_local_stack_previews(tmp_path):
    result = preview("--stack", "local", "--stack-dir", str(FIXTURES_DIR), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["stack"] == "local"


def _slack(plan: engine.Plan) -> tuple[dict | None, list[str]]:
    flagger = next(r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r["inputs"].get("chart") == "flagger")
    secrets = [r["inputs"]["metadata"]["name"] for r in plan.of_type("kubernetes:core/v1:Secret")]
    return flagger["inputs"].get("values", {}).get("slack"), [name for name in secrets if "slack" in name]


def test_a_stack_without_the_slack_secret_previews_with_notifications_off(dev_plan, render_config):
    """An adopter's first stack has no webhook yet: it renders, and Flagger just does not post."""
    assert _slack(dev_plan) != (None, [])  # the fixture stack sets one
    plan = render_config(lambda config: config.pop("istio-canary:slackWebhookUrl"))
    assert _slack(plan) == (None, [])


@slow
def test_preview_says_how_many_policies_ran_and_passed(dev_preview):
    result, _ = dev_preview
    found = re.search(r"^policies: (\d+) ran, (\d+) passed, (\d+) mandatory violations?", result.stdout, re.M)
    assert found, result.stdout
    ran, passed, mandatory = map(int, found.groups())
    assert ran > 10 and passed == ran and mandatory == 0  # the fixture stack breaks no rule


@slow
def test_preview_progress_goes_to_stderr_in_plain_text(dev_preview):
    result, _ = dev_preview
    assert "preview dev: run the program offline, under mocks" in result.stderr
    assert re.search(r"resources to create \(\d+\.\d s\)", result.stderr) and "\033[" not in result.stderr
