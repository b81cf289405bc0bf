"""Least privilege and day-2 promises of the workflows, read from their YAML: which identity each job
holds, where the deploy identity may run, concurrency groups that never cancel a deploy, the stack's
policy config passed to Pulumi, credentials not persisted, and zizmor's audit with zero findings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.project import FIXTURES_DIR, PROJECT_DIR

WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS_DIR / name).read_text())


def jobs():
    for path in WORKFLOWS:
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            yield f"{path.name}:{job_name}", job


def step(job: dict, prefix: str) -> dict:
    return next(s for s in job["steps"] if s.get("uses", "").startswith(prefix) or s.get("name", "").startswith(prefix))


def gcp_identity(job: dict) -> str | None:
    auth = [s for s in job.get("steps", []) if s.get("uses", "").startswith("google-github-actions/auth@")]
    return auth[0]["with"]["service_account"] if auth else None


# --- zizmor ------------------------------------------------------------------------------------


def zizmor() -> str:
    found = Path(sys.executable).parent / "zizmor"
    if not found.exists():
        pytest.skip("zizmor not found next to the interpreter: pip install -r requirements-dev.txt")
    return str(found)


@pytest.mark.slow
def test_zizmor_finds_nothing_in_the_workflows():
    # Its default persona, offline (the online audits need a GitHub token): what .ci/run runs.
    done = subprocess.run(
        [zizmor(), "--offline", "--format", "plain", str(WORKFLOWS_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


@pytest.mark.slow
def test_zizmor_reports_credentials_persisted_by_checkout(tmp_path):
    # What every checkout did before: the default, which keeps the token in .git/config.
    text = (WORKFLOWS_DIR / "upgrades.yml").read_text()
    text = re.sub(r"\n\s*with:\n\s*persist-credentials: false(?=\n)", "", text)
    (tmp_path / "upgrades.yml").write_text(re.sub(r"\n\s*persist-credentials: false(?=\n)", "", text))
    done = subprocess.run(
        [zizmor(), "--offline", str(tmp_path / "upgrades.yml")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "artipacked" in done.stdout + done.stderr


def test_ci_runs_zizmor_pinned_from_pypi_over_the_workflows():
    pins = re.findall(r"^zizmor==(\d+\.\d+\.\d+)$", (PROJECT_DIR / "requirements-dev.txt").read_text(), re.M)
    assert len(pins) == 1
    commands = [line for line in (PROJECT_DIR / ".ci" / "run").read_text().splitlines() if "zizmor" in line]
    run = [line for line in commands if not line.lstrip().startswith("#")]
    assert run == ["venv/bin/zizmor --offline .github/workflows"], commands


def test_every_checkout_leaves_no_credentials_behind():
    for where, job in jobs():
        for s in job.get("steps", []):
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s.get("with", {}).get("persist-credentials") is False, where


# --- identities and environments ------------------------------------------------------------------


def test_only_the_deploy_job_holds_the_deploy_identity_in_its_stacks_environment_on_main():
    holders = {where for where, job in jobs() if "GCP_DEPLOY_SERVICE_ACCOUNT" in str(job)}
    assert holders == {"deploy.yml:up"}
    up = workflow("deploy.yml")["jobs"]["up"]
    assert gcp_identity(up) == "${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}"
    # One GitHub environment per stack: its variables, reviewers and branch rules apply to this job.
    assert up["environment"] == {"name": "${{ matrix.stack }}"}
    assert "github.ref == 'refs/heads/main'" in up["if"]
    assert workflow("deploy.yml")[True]["push"] == {"branches": ["main"]}  # YAML 1.1 reads `on` as true
    # No other job runs in an environment: the environment is the deploy identity's gate.
    assert {where for where, job in jobs() if "environment" in job} == {"deploy.yml:up"}


def test_no_job_uses_the_old_shared_identity():
    for path in WORKFLOWS:
        assert "vars.GCP_SERVICE_ACCOUNT" not in path.read_text(), path.name


def test_pull_request_previews_run_as_a_read_only_identity_and_a_team_token():
    preview = workflow("pull-request.yml")["jobs"]["preview"]
    assert gcp_identity(preview) == "${{ vars.GCP_PREVIEW_SERVICE_ACCOUNT }}"
    assert "environment" not in preview
    oidc = step(preview, "pulumi/auth-actions@")
    assert oidc["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:team"
    assert oidc["with"]["team"] == "${{ vars.PULUMI_PREVIEW_TEAM }}"
    text = (WORKFLOWS_DIR / "pull-request.yml").read_text()
    assert "secrets.PULUMI_ACCESS_TOKEN" not in text and "access_token:organization" not in text
    assert "secrets.PULUMI_PREVIEW_ACCESS_TOKEN" in text


def test_scheduled_jobs_that_read_the_cluster_use_the_operator_identity():
    for name, job in (("drift.yml", "refresh"), ("autopilot.yml", "decide")):
        assert gcp_identity(workflow(name)["jobs"][job]) == "${{ vars.GCP_OPERATOR_SERVICE_ACCOUNT }}", name


# --- concurrency ----------------------------------------------------------------------------------


def test_drift_never_shares_a_concurrency_group_with_deploy():
    # GitHub keeps one pending run per group and cancels the older pending one: a shared group let
    # the daily refresh cancel a queued deploy.
    deploy = workflow("deploy.yml")
    drift = workflow("drift.yml")
    assert deploy["jobs"]["up"]["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    deploy_groups = {str(deploy.get("concurrency", {}).get("group")), "pulumi-${{ matrix.stack }}"}
    drift_groups = {drift["concurrency"]["group"], drift["jobs"]["refresh"]["concurrency"]["group"]}
    assert drift_groups == {"drift", "drift-${{ matrix.stack }}"} and not drift_groups & deploy_groups
    assert drift[True]["schedule"] and "workflow_dispatch" in drift[True]


def test_drift_reads_the_deploy_runs_before_picking_stacks():
    job = workflow("drift.yml")["jobs"]["stacks"]
    assert job["permissions"]["actions"] == "read"
    assert "scripts/deploys-in-flight.sh" in step(job, "Every deployed stack")["run"]
    assert (PROJECT_DIR / "scripts" / "deploys-in-flight.sh").stat().st_mode & 0o111


def test_drift_compares_each_helm_release_with_its_live_objects_and_reports_both_checks():
    job = workflow("drift.yml")["jobs"]["refresh"]
    helm = step(job, "Helm releases against their live objects")
    assert helm["id"] == "helm" and "scripts/helm-drift.sh helm-drift.md" in helm["run"]
    assert "--dns-endpoint" in helm["run"]
    for name in ("Report drift on Slack", "Report drift in an issue"):
        condition = step(job, name)["if"]
        assert "steps.refresh.outcome == 'failure'" in condition and "steps.helm.outcome == 'failure'" in condition


# --- the stack's policy config ----------------------------------------------------------------------


def run_policy_step(job: dict, cwd: Path, stack: str) -> str:
    found = step(job, "The stack's policy config")
    output = cwd / "github-output"
    output.write_text("")
    done = subprocess.run(
        [shutil.which("bash") or "bash", "-e", "-c", found["run"]],
        cwd=cwd,
        env={**os.environ, "STACK_NAME": stack, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert found["env"]["STACK_NAME"] == "${{ matrix.stack }}"
    return output.read_text().strip()


@pytest.mark.parametrize("name, job", [("deploy.yml", "up"), ("pull-request.yml", "preview")])
def test_the_stacks_policy_config_file_is_passed_to_pulumi_when_the_repository_has_one(tmp_path, name, job):
    found = workflow(name)["jobs"][job]
    pulumi = step(found, "pulumi/actions@")
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["policyPackConfigs"] == "${{ steps.policy.outputs.config }}"
    assert run_policy_step(found, tmp_path, "dev") == "config="
    (tmp_path / "policy-config.dev.json").write_text('{"gke-deletion-protection": "advisory"}')
    assert run_policy_step(found, tmp_path, "dev") == "config=policy-config.dev.json"
    assert run_policy_step(found, tmp_path, "prod") == "config="


def run_offline_policy_step(job: dict, cwd: Path, stack_dir: Path) -> subprocess.CompletedProcess:
    """The step as the runner runs it, its `python` (setup-python's, or deploy's venv) standing in
    for the real interpreter on this checkout, pointed at the fixture stack."""
    found = step(job, "Offline policy run with the stack's policy config")
    assert found["env"]["STACK"] == "${{ matrix.stack }}"
    extra = f'--project-dir "{PROJECT_DIR}" --stack-dir "{stack_dir}" --out "{cwd / "out"}"'
    for stand_in in (cwd / "bin" / "python", cwd / "venv" / "bin" / "python"):
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@" {extra}\n')
        stand_in.chmod(0o755)
    return subprocess.run(
        [shutil.which("bash") or "bash", "-e", "-c", found["run"]],
        cwd=cwd,
        env={
            **os.environ,
            "STACK": "dev",
            "PATH": f"{cwd / 'bin'}:{os.environ['PATH']}",
            "PYTHONPATH": str(PROJECT_DIR),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name, job", [("deploy.yml", "up"), ("pull-request.yml", "review")])
def test_a_policy_config_that_switches_the_pack_off_fails_the_pipeline(tmp_path, name, job):
    found = workflow(name)["jobs"][job]
    names = [s.get("name", "") for s in found["steps"]]
    offline = names.index("Offline policy run with the stack's policy config")
    assert all(offline < i for i, s in enumerate(found["steps"]) if s.get("uses", "").startswith("pulumi/actions@"))
    (tmp_path / "policy-config.dev.json").write_text('{"all": "disabled"}')
    done = run_offline_policy_step(found, tmp_path, FIXTURES_DIR)
    assert done.returncode == 2, done.stderr
    assert "policy-config.dev.json: all: 'disabled' would lower" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_teardown_policy_config_passes_the_offline_policy_run(tmp_path):
    stack_dir = tmp_path / "stacks"
    stack_dir.mkdir()
    text = (FIXTURES_DIR / "Pulumi.dev.yaml").read_text()
    (stack_dir / "Pulumi.dev.yaml").write_text(text.replace("deletionProtection: true", "deletionProtection: false"))
    found = workflow("pull-request.yml")["jobs"]["review"]
    (tmp_path / "policy-config.dev.json").write_text('{"gke-deletion-protection": "advisory"}')
    done = run_offline_policy_step(found, tmp_path, stack_dir)
    assert done.returncode == 0, done.stderr
