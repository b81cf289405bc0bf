"""The drift job's scripts, run with stand-in `helm`, `kubectl` and `gh` executables on PATH that
answer like the real ones and record what they were asked: scripts/helm-drift.sh (each Helm
release's live objects against what Helm applied) and scripts/deploys-in-flight.sh (the stacks a
deploy is updating, which drift skips), and drift.yml's own steps around them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.project import PROJECT_DIR, copy_program

pytestmark = pytest.mark.slow  # runs bash scripts in subprocesses
BASH = shutil.which("bash")
JQ = shutil.which("jq")
if JQ is None:
    pytest.skip("jq not found: apt-get install jq (.ci/run installs it)", allow_module_level=True)

RELEASES = [
    {"name": "istio-base", "namespace": "istio-system"},
    {"name": "istiod", "namespace": "istio-system"},
    {"name": "prometheus", "namespace": "monitoring"},
]
# `kubectl edit deploy/istiod` after the install: what the live object holds now.
ISTIOD_DIFF = """diff -u -N /tmp/LIVE-1/apps.v1.Deployment.istio-system.istiod /tmp/MERGED-2/apps.v1.Deployment...
-  replicas: 5
+  replicas: 2"""

HELM = """#!{bash}
echo "helm $*" >> "$TOOL_LOG"
case "$1 $2" in
  "list --all-namespaces") cat "$RELEASES_JSON" ;;
  "get manifest") [ "$3" = "$BROKEN_RELEASE" ] && {{ echo "Error: release: not found" >&2; exit 1; }}
                  printf 'kind: Deployment\\nmetadata: {{name: %s}}\\n' "$3" ;;
  *) exit 64 ;;
esac
"""
# kubectl diff: 0 no difference, 1 differences (printed), >1 an error.
KUBECTL = """#!{bash}
manifest="$(cat)"
echo "kubectl $* <<< $manifest" | tr '\\n' ' ' >> "$TOOL_LOG"; echo >> "$TOOL_LOG"
case "$manifest" in
  *"name: istiod"*) printf '%s\\n' "$ISTIOD_DIFF"; exit 1 ;;
  *"name: ${{FORBIDDEN:-(none)}}"*) echo 'Error from server (Forbidden): cannot patch' >&2; exit 2 ;;
esac
exit 0
"""


@pytest.fixture
def tools(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("helm", HELM), ("kubectl", KUBECTL)):
        (bin_dir / name).write_text(text.format(bash=BASH))
        (bin_dir / name).chmod(0o755)
    releases = tmp_path / "releases.json"
    releases.write_text(json.dumps(RELEASES))
    log = tmp_path / "tools.log"

    def run(*args: str, **env: str) -> tuple[subprocess.CompletedProcess, str]:
        log.write_text("")
        result = subprocess.run(
            [BASH, str(PROJECT_DIR / "scripts" / "helm-drift.sh"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "TOOL_LOG": str(log),
                "RELEASES_JSON": str(releases),
                "ISTIOD_DIFF": ISTIOD_DIFF,
                "BROKEN_RELEASE": "",
                "FORBIDDEN": "",
                **env,
            },
        )
        return result, log.read_text()

    return run


def test_helm_drift_diffs_each_release_manifest_against_the_live_objects(tools, tmp_path):
    report = tmp_path / "helm-drift.md"
    result, log = tools(str(report))
    assert result.returncode == 1, result.stderr
    # Every release: what Helm applied, piped into `kubectl diff` in the release's namespace.
    for release in RELEASES:
        ns, name = release["namespace"], release["name"]
        assert f"helm get manifest {name} --namespace {ns}" in log
        assert f"kubectl diff --namespace {ns} -f - <<< kind: Deployment metadata: {{name: {name}}}" in log
    text = report.read_text()
    assert "### helm release istio-system/istiod: live objects differ from what Helm applied" in text
    assert "-  replicas: 5\n+  replicas: 2" in text
    assert "istio-base" not in text and "prometheus" not in text  # no section for a release that matches


def test_helm_drift_is_silent_and_exits_0_when_every_release_matches(tools, tmp_path):
    report = tmp_path / "helm-drift.md"
    report.write_text("an older report\n")
    # The stand-in kubectl finds istiod edited by hand: without it, every release matches.
    result, log = tools(str(report), RELEASES_JSON=str(_releases(tmp_path, [RELEASES[0], RELEASES[2]])))
    assert result.returncode == 0, result.stderr
    assert report.read_text() == "" and log.count("kubectl diff") == 2


def test_helm_drift_reports_a_release_it_cannot_compare_and_exits_2(tools, tmp_path):
    report = tmp_path / "helm-drift.md"
    result, _ = tools(str(report), FORBIDDEN="prometheus", BROKEN_RELEASE="istio-base")
    assert result.returncode == 2
    text = report.read_text()
    assert "istio-system/istio-base: could not read what Helm applied" in text and "release: not found" in text
    assert "monitoring/prometheus: could not compare: permission" in text and "Forbidden" in text
    assert "istio-system/istiod: live objects differ" in text  # the others are still compared


def _releases(tmp_path: Path, releases: list[dict]) -> Path:
    path = tmp_path / "some-releases.json"
    path.write_text(json.dumps(releases))
    return path


# --- deploys-in-flight.sh ------------------------------------------------------------------------

# `gh api [--paginate] URL [--jq EXPR]` as GitHub answers: a runs listing honours `status=` and
# `per_page=` (default 30), and only --paginate reads past the first page.
GH = """#!{bash}
echo "gh $*" >> "$TOOL_LOG"
[ "$1" = api ] || exit 64
shift
paginate=""; url=""; query="."
while [ $# -gt 0 ]; do
  case "$1" in --paginate) paginate=1 ;; --jq) query=$2; shift ;; *) url=$1 ;; esac
  shift
done
case "$url" in
  */actions/workflows/deploy.yml/runs*)
    status=""; per_page=30
    case "$url" in *status=*) status=${{url#*status=}}; status=${{status%%&*}} ;; esac
    case "$url" in *per_page=*) per_page=${{url#*per_page=}}; per_page=${{per_page%%&*}} ;; esac
    body=$(printf '%s' "$RUNS" | jq --arg s "$status" --argjson n "$per_page" --arg all "$paginate" \
      '.workflow_runs |= [.[] | select($s == "" or .status == $s)]
       | if $all == "" then .workflow_runs |= .[:$n] else . end') ;;
  */actions/runs/*/jobs*) run="${{url#*/actions/runs/}}"; run="${{run%%/*}}"; body="$(cat "$JOBS_DIR/$run.json")" ;;
  *) exit 64 ;;
esac
printf '%s' "$body" | jq -r "$query"
"""


@pytest.fixture
def gh(tmp_path):
    bin_dir = tmp_path / "gh-bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(GH.format(bash=BASH))
    (bin_dir / "gh").chmod(0o755)
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()

    def env(runs: list[dict], jobs: dict[int, list[dict]]) -> dict[str, str]:
        for run, listed in jobs.items():
            (jobs_dir / f"{run}.json").write_text(json.dumps({"jobs": listed}))
        return {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "TOOL_LOG": str(tmp_path / "gh.log"),
            "RUNS": json.dumps({"workflow_runs": runs}),
            "JOBS_DIR": str(jobs_dir),
            "GITHUB_REPOSITORY": "org/repo",
        }

    return env


def in_flight(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BASH, str(PROJECT_DIR / "scripts" / "deploys-in-flight.sh")], capture_output=True, text=True, env=env
    )


def test_deploys_in_flight_lists_the_stacks_a_running_or_queued_deploy_updates(gh):
    runs = [{"id": 1, "status": "completed"}, {"id": 2, "status": "in_progress"}, {"id": 3, "status": "queued"}]
    jobs = {
        2: [
            {"name": "stacks", "status": "completed"},
            {"name": "up (dev)", "status": "in_progress"},
            {"name": "up (prod)", "status": "completed"},
        ],
        3: [{"name": "stacks", "status": "completed"}, {"name": "up (staging)", "status": "queued"}],
    }
    result = in_flight(gh(runs, jobs))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["dev", "staging"]


def test_a_deploy_in_flight_behind_pages_of_completed_runs_is_found(gh):
    # 120 newer completed runs (a busy day of merges), then one waiting for its environment's approval.
    runs = [{"id": 1000 + i, "status": "completed"} for i in range(120)]
    runs += [{"id": 7, "status": "waiting"}, {"id": 8, "status": "queued"}]
    jobs = {7: [{"name": "up (prod)", "status": "waiting"}], 8: [{"name": "up (dev)", "status": "queued"}]}
    result = in_flight(gh(runs, jobs))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["dev", "prod"]


def test_a_deploy_that_has_not_picked_its_stacks_holds_every_stack(gh):
    runs = [{"id": 4, "status": "in_progress"}]
    result = in_flight(gh(runs, {4: [{"name": "stacks", "status": "in_progress"}]}))
    assert result.returncode == 0 and result.stdout.split() == ["*"]
    assert in_flight(gh([{"id": 1, "status": "completed"}], {})).stdout == ""


# --- drift.yml around the scripts ---------------------------------------------------------------------


def _drift_step(job: str, name: str) -> dict:
    doc = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / "drift.yml").read_text())
    return next(s for s in doc["jobs"][job]["steps"] if s.get("name", "").startswith(name))


@pytest.mark.parametrize(
    "runs, jobs, expected",
    [
        ([], {}, ["dev"]),
        ([{"id": 2, "status": "in_progress"}], {2: [{"name": "up (dev)", "status": "in_progress"}]}, []),
        ([{"id": 2, "status": "in_progress"}], {2: [{"name": "up (prod)", "status": "in_progress"}]}, ["dev"]),
        ([{"id": 5, "status": "queued"}], {5: []}, []),
    ],
)
def test_drift_skips_a_stack_while_a_deploy_of_it_is_queued_or_running(gh, tmp_path, runs, jobs, expected):
    step = _drift_step("stacks", "Every deployed stack")
    (tmp_path / "repo").mkdir()
    repo = copy_program(tmp_path / "repo")
    shutil.copytree(PROJECT_DIR / "scripts", repo / "scripts")
    output = tmp_path / "github-output"
    output.write_text("")
    # `python`, as setup-python puts it on a runner's PATH: this interpreter, with the requirements.
    wrapper = tmp_path / "gh-bin" / "python"
    wrapper.write_text(f'#!{BASH}\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    done = subprocess.run(
        [BASH, "-e", "-c", step["run"]],
        cwd=repo,
        env={**os.environ, **gh(runs, jobs), "GITHUB_OUTPUT": str(output), "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(output.read_text().split("stacks=", 1)[1]) == expected


def test_the_drift_issue_holds_the_helm_release_differences(tmp_path):
    step = _drift_step("refresh", "Report drift in an issue")
    (tmp_path / "refresh.txt").write_text("Resources: 42 unchanged\n")
    (tmp_path / "helm-drift.md").write_text(
        "### helm release istio-system/istiod: live objects differ\n\n```diff\n" + ISTIOD_DIFF + "\n```\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "gh.log"
    # `gh issue list` finds no open issue: the step creates one, with the body it was given.
    (bin_dir / "gh").write_text(f'#!{BASH}\nprintf "%s\\0" "$@" >> {calls}\n')
    (bin_dir / "gh").chmod(0o755)
    done = subprocess.run(
        [BASH, "-e", "-c", step["run"]],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STACK": "dev", "RUN_URL": "https://run"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    args = calls.read_text().split("\0")
    assert "create" in args
    body = args[args.index("--body") + 1]
    assert "Resources: 42 unchanged" in body and "istio-system/istiod: live objects differ" in body
    assert "+  replicas: 2" in body and "https://run" in body
