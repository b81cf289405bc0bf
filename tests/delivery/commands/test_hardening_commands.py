"""Issue 12, classes 1, 7 and 8 at the command line: `preview --out` never deletes what it did
not write, `check` tells "absent at the base" from "cannot read the base", `policy --plan`
survives any input."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery.__main__ import main
from delivery.errors import UsageError
from delivery.plan import manifests
from tests.support.project import FIXTURES_DIR, git

# --- class 1: preview --out ------------------------------------------------------------------


@pytest.mark.parametrize(
    "prepare",
    [
        lambda d: (d / ".git").mkdir(),
        lambda d: (d / "README.md").write_text("mine\n"),
        lambda d: (d / "plan.json").write_text("my notes, not a plan\n"),
        lambda d: (d / "manifests").mkdir(),
        lambda d: (d / ".istio-canary-preview").write_text('"not a list"'),
    ],
)
def test_preview_never_writes_into_a_directory_it_does_not_own(dev_plan, tmp_path, prepare):
    prepare(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(UsageError, match="--out"):
        manifests.write_outputs(dev_plan, tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_preview_out_dot_leaves_the_repository_alone(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "keep.txt").write_text("x")
    monkeypatch.chdir(repo)
    code = main(["preview", "--stack", "dev", "--stack-dir", str(FIXTURES_DIR), "--out", ".", "--quiet"])
    assert code == 2 and "not written by a preview" in capsys.readouterr().err
    assert sorted(os.listdir(repo)) == ["keep.txt"]


def test_a_second_preview_replaces_only_its_own_files(dev_plan, tmp_path):
    out = tmp_path / "out"
    manifests.write_outputs(dev_plan, out)
    (out / "notes.txt").write_text("mine")
    (out / "manifests" / "mine.yaml").write_text("mine")
    stale = out / "manifests" / "gone" / "x.yaml"
    stale.parent.mkdir()
    stale.write_text("from an older preview")
    listed = json.loads((out / manifests.MARKER).read_text())
    (out / manifests.MARKER).write_text(json.dumps([*listed, "manifests/gone/x.yaml"]))
    manifests.write_outputs(dev_plan, out)
    assert (out / "notes.txt").read_text() == "mine" and (out / "manifests" / "mine.yaml").read_text() == "mine"
    assert not stale.exists() and not stale.parent.exists()
    assert json.loads((out / "plan.json").read_text())["stack"] == "dev"


def test_preview_out_a_file_or_unwritable_dir_is_exit_2(dev_plan, tmp_path, monkeypatch):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        manifests.write_outputs(dev_plan, target)
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            # root ignores the mode bits (CI runs as root): have the kernel's answer given instead.
            real_mkdir = Path.mkdir

            def denied(self, *args, **kwargs):
                if self.parent == locked:
                    raise PermissionError(errno.EACCES, "Permission denied", str(self))
                return real_mkdir(self, *args, **kwargs)

            monkeypatch.setattr(Path, "mkdir", denied)
        with pytest.raises(UsageError, match="Permission denied"):
            manifests.write_outputs(dev_plan, locked / "out")
    finally:
        locked.chmod(0o700)


# --- class 7: git base reads -------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git not found: apt-get install git")
    root = tmp_path / "origin"
    root.mkdir()
    for name in ("Pulumi.dev.yaml", "Pulumi.local.yaml"):
        shutil.copy(FIXTURES_DIR / name, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    return root


def check(repo: Path, base: str, capsys) -> tuple[int, str]:
    code = main(["check", "--stack", "dev", f"--base={base}", "--project-dir", str(repo)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_partial_clone_missing_the_base_object_is_exit_3_not_a_pass(repo, tmp_path, capsys):
    git(repo, "config", "uploadpack.allowFilter", "true")
    git(repo, "config", "uploadpack.allowAnySHA1InWant", "true")
    text = (repo / "Pulumi.dev.yaml").read_text()
    (repo / "Pulumi.dev.yaml").write_text(
        text.replace("weights: {ga: 90, canary: 10}", "weights: {ga: 100, canary: 0}")
    )
    git(repo, "commit", "-q", "-am", "canary 0")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{repo}", str(clone))
    shutil.rmtree(repo)  # the promisor remote is gone: old blobs cannot be fetched
    text = (clone / "Pulumi.dev.yaml").read_text()
    (clone / "Pulumi.dev.yaml").write_text(text.replace("ga: 100, canary: 0", "ga: 0, canary: 100"))
    code, out = check(clone, "HEAD~1", capsys)
    assert code == 3 and "HEAD~1" in out and "Traceback" not in out


@pytest.mark.parametrize("base", ["no-such-ref", "HEAD~5", "--x", "deadbeef"])
def test_a_base_that_is_not_a_commit_is_exit_3_naming_it(repo, capsys, base):
    code, out = check(repo, base, capsys)
    assert code == 3 and repr(base) in out


def test_git_missing_is_exit_3(repo, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    code, out = check(repo, "HEAD", capsys)
    assert code == 3 and "git is not installed" in out


def test_a_stack_absent_at_the_base_is_a_new_stack(repo, capsys):
    shutil.copy(repo / "Pulumi.dev.yaml", repo / "Pulumi.prod.yaml")
    code = main(["check", "--stack", "prod", "--base", "HEAD", "--project-dir", str(repo)])
    assert code == 0 and "a new stack" in capsys.readouterr().out


@pytest.mark.parametrize("canary, code", [(10, 1), (100, 1), (0, 0)])
def test_a_new_or_renamed_weighted_app_starts_at_canary_0(repo, capsys, canary, code):
    text = (repo / "Pulumi.dev.yaml").read_text()
    text = text.replace("    podinfo:\n", "    podinfo2:\n", 1)
    text = text.replace("weights: {ga: 90, canary: 10}", f"weights: {{ga: {100 - canary}, canary: {canary}}}")
    (repo / "Pulumi.dev.yaml").write_text(text)
    got, out = check(repo, "HEAD", capsys)
    assert got == code, out
    if code:
        assert "apps.podinfo2.weights.canary" in out and "new or renamed" in out


# --- class 8: policy --plan survives any input ------------------------------------------------


def run_policy(tmp_path: Path, data: bytes, capsys) -> tuple[int, str]:
    plan = tmp_path / "plan.json"
    plan.write_bytes(data)
    code = main(["policy", "--plan", str(plan)])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": {"x": NaN}}]}',
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": {"x": Infinity}}]}',
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": {"x": 1e999}}]}',
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": {"x": ' + b"9" * 5000 + b"}}]}",
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": {"x": 99999999999999999999}}]}',
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": ' + b'{"a":' * 80 + b"1" + b"}" * 80 + b"}]}",
        b'{"resources": [{"urn": 1, "type": "t", "name": "n"}]}',
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "parent": 5}]}',
        b'{"resources": [{"urn": "u", "type": "t", "name": "n", "dependencies": [1]}]}',
        b'{"resources": "x"}',
        b"[]",
        b"",
        (
            b'{"resources": [{"urn": "u", "type": "kubernetes:apps/v1:Deployment", "name": "n",'
            b' "inputs": {"metadata": "x", "spec": [1, 2]}}]}'
        ),
        (
            b'{"resources": [{"urn": "u", "type": "kubernetes:helm.sh/v3:Release", "name": "n",'
            b' "inputs": {"values": [], "chart": 5, "version": {}}}]}'
        ),
    ],
)
def test_policy_plan_crafted_inputs_exit_0_1_or_2(tmp_path, capsys, data):
    code, err = run_policy(tmp_path, data, capsys)
    assert code in (0, 1, 2) and "Traceback" not in err


def test_policy_plan_that_is_a_directory_or_missing_is_exit_2(tmp_path, capsys):
    assert main(["policy", "--plan", str(tmp_path)]) == 2
    assert main(["policy", "--plan", str(tmp_path / "none.json")]) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=15,
)
TYPES = [
    "kubernetes:apps/v1:Deployment",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Service",
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:networking.istio.io/v1:VirtualService",
    "kubernetes:flagger.app/v1beta1:Canary",
    "gcp:container/cluster:Cluster",
    "gcp:container/nodePool:NodePool",
    "pulumi:providers:kubernetes",
]
resources = st.fixed_dictionaries(
    {"urn": st.text(max_size=6), "type": st.sampled_from(TYPES), "name": st.text(max_size=6)},
    optional={
        "inputs": st.dictionaries(
            st.sampled_from(["metadata", "spec", "values", "chart", "version", "namespace", "kind", "nodeConfig"]),
            json_values,
            max_size=4,
        ),
        "parent": st.one_of(st.none(), st.text(max_size=4)),
        "dependencies": st.lists(st.text(max_size=4), max_size=2),
    },
)
plans = st.one_of(json_values, st.fixed_dictionaries({"resources": st.lists(resources, max_size=4)}))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans)
def test_no_plan_crashes_policy(tmp_path, capsys, plan):
    code, err = run_policy(tmp_path, json.dumps(plan).encode(), capsys)
    assert code in (0, 1, 2) and "Traceback" not in err
