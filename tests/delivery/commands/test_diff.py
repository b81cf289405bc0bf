"""`python -m delivery diff`: the plan diff a PR comment shows, run in a throwaway git repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from delivery.plan.diff import compare
from tests.support.project import copy_program
from tests.support.project import git as _git

pytestmark = pytest.mark.slow  # renders twice per run, in subprocesses

OLD_SECRET = "v1:Zm9vYmFyYmF6cXV4"
NEW_SECRET = "v1:cm90YXRlZHNlY3JldA"


def _diff(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "delivery", "diff", *args], cwd=repo, capture_output=True, text=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git not found: apt-get install git")
    root = tmp_path_factory.mktemp("repo")
    dev = (copy_program(root) / "Pulumi.dev.yaml").read_text()
    (root / "Pulumi.broken.yaml").write_text(dev)
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    # The PR: a weight step, and a rotated secret that must not leak into the comment.
    edited = dev.replace("weights: {ga: 90, canary: 10}", "weights: {ga: 80, canary: 20}")
    edited = edited.replace(OLD_SECRET, NEW_SECRET)
    assert edited.count("ga: 80") == 1 and NEW_SECRET in edited
    (root / "Pulumi.dev.yaml").write_text(edited)
    (root / "Pulumi.broken.yaml").write_text(
        dev.replace("weights: {ga: 90, canary: 10}", "weights: {ga: 90, canary: 20}")
    )
    (root / "Pulumi.new.yaml").write_text(dev)
    return root


@pytest.fixture(scope="module")
def dev_diff(repo) -> subprocess.CompletedProcess:
    return _diff(repo, "--stack", "dev", "--base", "HEAD")


def test_diff_shows_a_weight_edit_as_markdown_for_the_pr(dev_diff):
    assert dev_diff.returncode == 0, dev_diff.stderr
    out = dev_diff.stdout
    assert "**1 to change** (0 to replace), **0 to add**, **0 to remove**" in out
    assert "`podinfo` (`kubernetes:networking.istio.io/v1:VirtualService`)" in out
    assert "| `spec.http[0].route[0].weight` | `90` | `80` |" in out
    assert "| `spec.http[0].route[1].weight` | `10` | `20` |" in out
    assert "| `apps.podinfo.weights.ga` | `90` | `80` |" in out  # the stack output moves too


def test_diff_never_prints_secrets(dev_diff):
    assert dev_diff.returncode == 0, dev_diff.stderr
    for leak in (OLD_SECRET, NEW_SECRET, "offline-preview-secret"):
        assert leak not in dev_diff.stdout + dev_diff.stderr


def test_diff_of_an_unknown_ref_cannot_read_the_base(repo):
    done = _diff(repo, "--stack", "dev", "--base", "no-such-branch")
    assert done.returncode == 3
    assert "--base 'no-such-branch' is not a commit" in done.stderr and "Traceback" not in done.stderr


def test_diff_of_a_missing_stack_is_a_usage_error(repo):
    missing = _diff(repo, "--stack", "prod", "--base", "HEAD")
    assert missing.returncode == 2 and "no stack file Pulumi.prod.yaml" in missing.stderr
    new = _diff(repo, "--stack", "new", "--base", "HEAD")
    assert new.returncode == 2 and "Pulumi.new.yaml does not exist at 'HEAD'" in new.stderr


def test_diff_of_an_invalid_edit_names_the_config_key(repo):
    done = _diff(repo, "--stack", "broken", "--base", "HEAD")
    assert done.returncode == 2
    assert "Pulumi.broken.yaml: " in done.stderr and "apps.podinfo.weights" in done.stderr
    assert "Traceback" not in done.stderr


def test_diff_help_says_the_program_code_comes_from_the_work_tree(repo):
    done = subprocess.run(
        [sys.executable, "-m", "delivery", "diff", "--help"], cwd=repo, capture_output=True, text=True
    )
    assert "program code of the work tree" in " ".join(done.stdout.split())


def test_moving_an_app_to_another_namespace_is_reported_as_replacements(dev_plan, render_config):
    plan = render_config(lambda c: c["istio-canary:apps"]["podinfo"].update(namespace="staging"))
    diff = compare(dev_plan, plan)
    assert [(r["type"], r["name"]) for r in diff.added] == [("kubernetes:core/v1:Namespace", "staging")]
    assert [(r["type"], r["name"]) for r in diff.removed] == [("kubernetes:core/v1:Namespace", "test")]
    replaced = {c.name for c in diff.replaced}
    assert {"podinfo-ga", "podinfo-canary", "podinfo-loadtest", "podinfo"} <= replaced


def test_diff_names_the_traffic_split_in_words(dev_diff):
    assert "**Traffic** `podinfo`: GA 90 / canary 10 → GA 80 / canary 20" in dev_diff.stdout


def test_diff_reports_progress_on_stderr_only(dev_diff):
    assert "diff dev: render HEAD and the work tree offline" in dev_diff.stderr
    assert "1 to change, 0 to add, 0 to remove (" in dev_diff.stderr
    assert "render HEAD" not in dev_diff.stdout and "\033[" not in dev_diff.stderr  # not a terminal: no colour


def test_diff_json_is_one_document_with_stable_keys(repo):
    done = _diff(repo, "--stack", "dev", "--base", "HEAD", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # stdout is only the JSON document
    assert (doc["schema"], doc["version"]) == ("istio-canary/diff", 1)
    assert set(doc) == {
        "schema",
        "version",
        "stack",
        "base",
        "traffic",
        "summary",
        "added",
        "removed",
        "changed",
        "outputs",
    }
    assert doc["summary"] == {
        "change": 1,
        "replace": 0,
        "add": 0,
        "remove": 0,
        "unchanged": doc["summary"]["unchanged"],
    }
    assert isinstance(doc["summary"]["unchanged"], int) and doc["summary"]["unchanged"] > 0
    assert doc["traffic"] == [{"app": "podinfo", "old": {"ga": 90, "canary": 10}, "new": {"ga": 80, "canary": 20}}]
    [vs] = doc["changed"]
    assert set(vs) == {"urn", "type", "name", "replaces", "changes"} and vs["replaces"] is False
    assert {"path": "spec.http[0].route[1].weight", "old": 10, "new": 20} in vs["changes"]
    assert all(set(o) <= {"path", "old", "new"} for o in doc["outputs"])
