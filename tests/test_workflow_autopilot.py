"""autopilot.yml acts only on a deployed commit, compares the cluster's weights with Git, and costs
little: its gate job installs nothing, and only stacks with a release in flight reach the cluster.
The gate's script runs here with a stand-in `gh` answering as GitHub's API would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.project import copy_program, git
from tests.test_workflows import _step, workflow

SHA = "a" * 40


def _job(name: str) -> dict:
    return workflow("autopilot.yml")["jobs"][name]


def test_the_first_job_installs_nothing_and_only_reads_deploy_runs():
    gate = _job("gate")
    assert gate["permissions"] == {"actions": "read", "contents": "read"}
    assert all("uses" not in step for step in gate["steps"])  # no checkout, no setup-python
    assert not any("pip" in step.get("run", "") or "apt-get" in step.get("run", "") for step in gate["steps"])
    # Nothing after it runs unless it found a deployed commit.
    assert _job("stacks")["if"] == "needs.gate.outputs.sha != ''"
    assert _job("decide")["if"] == "needs.stacks.outputs.stacks != '[]'"


def test_every_later_job_checks_out_the_commit_the_gate_found_deployed_without_keeping_credentials():
    for name in ("stacks", "decide"):
        checkout = _step(_job(name), "actions/checkout@")["with"]
        assert checkout["ref"] == "${{ needs.gate.outputs.sha }}" and checkout["fetch-depth"] == 0
        assert checkout["persist-credentials"] is False


def test_autopilot_compares_the_weights_the_cluster_serves_and_commits_the_file_it_wrote():
    job = _job("decide")
    names = [step.get("name", step.get("uses", "")) for step in job["steps"]]
    live, decide = (
        names.index("The weights the cluster serves"),
        names.index("python -m delivery autopilot --write --json"),
    )
    assert live < decide
    assert "kubectl get virtualservices.networking.istio.io --all-namespaces -o json" in job["steps"][live]["run"]
    assert '--live-weights "$RUNNER_TEMP/live-weights.json"' in job["steps"][decide]["run"]
    assert _step(job, "peter-evans/create-pull-request@")["with"]["add-paths"] == "${{ steps.autopilot.outputs.path }}"


def _gate(tmp_path: Path, runs: list[dict]) -> tuple[str, str]:
    """Run the gate step with a `gh` that answers from `runs` (deploy.yml's runs, any commit)."""
    if shutil.which("jq") is None:
        pytest.skip("jq not found: apt-get install jq")
    step = _step(_job("gate"), "main's head commit")
    data = tmp_path / "runs.json"
    data.write_text(json.dumps(runs))
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir()
    # `gh api .../commits/main --jq .sha`, `gh api .../runs/ID/jobs --jq EXPR` (a run's `jobs`, default
    # none), `gh run list [--commit SHA] --json ... --jq EXPR`.
    fake.write_text(
        f"""#!/usr/bin/env bash
case "$1 $2" in
  "api "*/commits/*) echo {SHA}; exit 0 ;;
  "api "*/jobs*) id=${{2#*/runs/}}; id=${{id%%/*}}
    jq --argjson id "$id" '{{jobs: ([.[] | select(.databaseId == $id)][0].jobs // [])}}' {data} | jq -c "$4"; exit 0 ;;
esac
commit=""; query="."
while [ $# -gt 0 ]; do
  case "$1" in --commit) commit=$2; shift ;; --jq) query=$2; shift ;; esac
  shift
done
jq --arg c "$commit" '[.[] | select($c == "" or .headSha == $c)]' {data} | jq -r "$query"
"""
    )
    fake.chmod(0o755)
    output = tmp_path / "output"
    output.touch()
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={
            "PATH": f"{fake.parent}:{os.environ['PATH']}",
            "GITHUB_REPOSITORY": "org/repo",
            "GITHUB_OUTPUT": str(output),
            **{k: str(v) for k, v in step["env"].items() if "${{" not in str(v)},  # BRANCH, as written
            "GH_TOKEN": "t",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return output.read_text(), done.stdout


def _run(run_id: int, conclusion: str | None, sha: str = SHA, ups: dict | None = None, event: str = "push") -> dict:
    """A deploy run; `ups`: its `up (<stack>)` jobs' conclusions (a run that chose its stacks)."""
    status = "completed" if conclusion else "in_progress"
    jobs = [{"name": "stacks", "conclusion": "success"}] if ups is not None else []
    jobs += [{"name": f"up ({stack})", "conclusion": c} for stack, c in (ups or {}).items()]
    return {
        "databaseId": run_id,
        "headSha": sha,
        "status": status,
        "conclusion": conclusion or "",
        "event": event,
        "jobs": jobs,
    }


OLD = "b" * 40  # a stack-changing commit before main's head (a docs-only one)


def test_the_gate_passes_a_head_commit_whose_latest_deploy_succeeded(tmp_path):
    output, _ = _gate(tmp_path, [_run(1, "failure"), _run(2, "success")])  # a failed deploy, re-run green
    assert output == f"sha={SHA}\n"


@pytest.mark.parametrize(
    "runs, reason",
    [
        # The stack-changing commit's deploy failed; the docs-only head's deploy had no stack to do.
        ([_run(1, "failure", OLD, {"dev": "failure"}), _run(2, "success", SHA, {})], "dev (run 1: failure)"),
        (
            [
                _run(1, "cancelled", OLD, {"dev": "cancelled", "prod": "success"}),
                _run(2, "success", SHA, {"prod": "success"}),
            ],
            "dev (run 1: cancelled)",
        ),
        # It failed before it chose its stacks: which stacks it missed is unknown.
        ([_run(1, "failure", OLD), _run(2, "success", SHA, {})], "every stack (run 1 of bbbbbbb"),
    ],
    ids=["failed stack", "cancelled stack", "failed before choosing"],
)
def test_the_gate_holds_while_an_earlier_stack_change_was_not_deployed(tmp_path, runs, reason):
    output, out = _gate(tmp_path, runs)
    assert output == "" and "::notice::hold: a stack change was not deployed: " in out and reason in out


@pytest.mark.parametrize(
    "runs",
    [
        [_run(1, "failure", OLD, {"dev": "failure"}), _run(2, "success", SHA, {"dev": "success"})],
        [_run(1, "failure", OLD, {"dev": "failure"}), _run(2, "success", OLD, {"dev": "success"}), _run(3, "success")],
        [_run(1, "failure", OLD), _run(2, "success", OLD, {}, "workflow_dispatch"), _run(3, "success", SHA, {})],
        [_run(1, "failure", OLD, {"dev": "failure"}), _run(2, "success", SHA, {"dev": "success", "prod": "success"})],
    ],
    ids=["a later deploy of the stack", "the failed deploy re-run", "a manual deploy", "a later deploy of all"],
)
def test_a_later_successful_deploy_of_the_stack_releases_the_hold(tmp_path, runs):
    output, out = _gate(tmp_path, runs)
    assert output == f"sha={SHA}\n", out


@pytest.mark.parametrize(
    "runs, reason",
    [
        ([_run(1, "failure")], "the deploy of aaaa"),
        ([_run(1, "cancelled")], "is 'cancelled', not success"),
        ([_run(1, "success"), _run(2, "failure")], "is 'failure', not success"),
        ([_run(1, "success", sha="b" * 40)], "is 'no deploy run', not success"),
        ([_run(1, "success"), _run(2, None, sha="b" * 40)], "1 deploy run(s) not finished"),
    ],
    ids=["failed", "cancelled", "re-run failed", "head never deployed", "a deploy in flight"],
)
def test_the_gate_holds_unless_the_cluster_received_the_head_commit(tmp_path, runs, reason):
    output, out = _gate(tmp_path, runs)
    assert output == "" and "::notice::hold: " in out and reason in out


@pytest.mark.slow  # runs the stacks job's script: the CLI on a scratch repository
@pytest.mark.parametrize("idle", [False, True], ids=["in flight", "idle"])
def test_only_stacks_with_a_release_in_flight_reach_the_cluster(tmp_path, idle):
    (tmp_path / "repo").mkdir()
    repo = copy_program(tmp_path / "repo", ("dev", "local"))
    if idle:
        dev = repo / "Pulumi.dev.yaml"
        text = dev.read_text().replace("weights: {ga: 90, canary: 10}", "weights: {ga: 100, canary: 0}")
        dev.write_text(text.replace("canary: {tag: 6.14.1,", "canary: {tag: 6.13.0,").replace('"6.14.x"', '"6.13.x"'))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # a symlink would lose the venv
    python.chmod(0o755)
    output = tmp_path / "output"
    output.touch()
    step = _step(_job("stacks"), "Deployed stacks with a release in flight")
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=repo,
        env={**os.environ, "PATH": f"{python.parent}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # `local` is an existing cluster CI cannot reach: never listed.
    assert output.read_text() == ("stacks=[]\n" if idle else 'stacks=["dev"]\n')


def test_the_images_pull_request_adds_the_file_the_edit_wrote(tmp_path):
    """images.yml's `path=` line, run where Pulumi.dev.yaml is a symlink into stackConfigDir."""
    run = _step(workflow("images.yml")["jobs"]["bump"], "Bump tracked tags")["run"]
    (line,) = [x.strip() for x in run.splitlines() if x.strip().startswith("python -c")]
    (tmp_path / "Pulumi.yaml").write_text("name: istio-canary\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "real").mkdir(parents=True)
    (tmp_path / "stacks" / "real" / "dev.yaml").write_text("config: {}\n")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").symlink_to("real/dev.yaml")
    output = tmp_path / "output"
    done = subprocess.run(
        ["bash", "-e", "-c", line.replace('"$GITHUB_OUTPUT"', str(output)).replace("python ", f"{sys.executable} ", 1)],
        cwd=tmp_path,
        env={**os.environ, "STACK": "dev", "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert output.read_text() == "path=stacks/real/dev.yaml\n"
