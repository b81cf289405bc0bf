"""Every command finds a stack file the way Pulumi does (issue 19): in `stackConfigDir` of Pulumi.yaml
(https://www.pulumi.com/docs/iac/concepts/projects/project-file/), through a symlink (reading follows
it, in the work tree and at the base), and under paths git would quote (spaces, non-ASCII)."""

from __future__ import annotations

import json
import os
import time

import pytest

from delivery.__main__ import main
from delivery.release import autopilot
from tests.support.stack_repo import STACK, StackRepo, app, stack_text

JUMP, STEP = {"shop": app(canary=100)}, {"shop": app(canary=60)}  # from canary 10


@pytest.fixture
def repo(tmp_path) -> StackRepo:
    return StackRepo(tmp_path)


def project(repo: StackRepo, config_dir: str | None) -> None:
    lines = ["name: istio-canary", "runtime: python"] + ([f"stackConfigDir: {config_dir}"] if config_dir else [])
    (repo.path / "Pulumi.yaml").write_text("\n".join(lines) + "\n")


def commit_all(repo: StackRepo, message: str = "base", when: int = 1_700_000_000) -> None:
    repo.git("add", "--all")
    repo.git("commit", "-q", "-m", message, when=when)


def run(repo: StackRepo, capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--project-dir", str(repo.path)])
    return code, capsys.readouterr().out


def check(repo: StackRepo, capsys) -> tuple[int, str]:
    return run(repo, capsys, "check", "--stack", STACK, "--base", "HEAD")


def changed(repo: StackRepo, capsys) -> list[str]:
    code, out = run(repo, capsys, "changed-stacks", "--base", "HEAD", "--any-cluster")
    assert code == 0
    return json.loads(out)


@pytest.mark.parametrize("config_dir", ["stacks", "stack configs/ünïcode"], ids=["plain", "quoted by git"])
def test_stack_config_dir_is_where_every_command_reads_and_reviews(repo, capsys, config_dir):
    project(repo, config_dir)
    stack_file = repo.path / config_dir / f"Pulumi.{STACK}.yaml"
    stack_file.parent.mkdir(parents=True)
    stack_file.write_text(stack_text({"shop": app(canary=10)}))
    # A decoy where the old code looked: Pulumi itself ignores it.
    (repo.path / f"Pulumi.{STACK}.yaml").write_text(stack_text({"shop": app(canary=0)}))
    commit_all(repo)

    stack_file.write_text(stack_text(JUMP))
    assert changed(repo, capsys) == [STACK]
    code, out = check(repo, capsys)
    assert code == 1 and "apps.shop.weights.canary 10 -> 100 goes past the next step 60" in out
    stack_file.write_text(stack_text(STEP))
    code, out = check(repo, capsys)
    assert code == 0 and "apps.shop.weights.canary 10 -> 60" in out
    assert run(repo, capsys, "status", "--stack", STACK)[1].count("GA 40 / canary 60") == 1
    assert autopilot.decide(STACK, repo.path, None).settings.apps["shop"].weights.canary == 60


def test_a_file_git_would_quote_maps_to_its_stack(repo, capsys):
    project(repo, None)
    target = repo.path / "stäcks dir" / "auto config.yaml"
    target.parent.mkdir()
    target.write_text(stack_text({"shop": app(canary=10)}))
    os.symlink("stäcks dir/auto config.yaml", repo.path / f"Pulumi.{STACK}.yaml")
    commit_all(repo)
    target.write_text(stack_text(STEP))
    assert changed(repo, capsys) == [STACK]


@pytest.mark.parametrize("config_dir", [None, "stacks"], ids=["root", "stackConfigDir"])
def test_a_pr_touching_only_the_stacks_policy_config_is_reviewed_and_deployed(repo, capsys, config_dir):
    # The workflows pass policy-config.<stack>.json (at the root) to `pulumi preview/up`: changing
    # it changes what the deploy enforces, so it is that stack's change.
    project(repo, config_dir)
    stack_file = repo.path / (config_dir or ".") / f"Pulumi.{STACK}.yaml"
    stack_file.parent.mkdir(exist_ok=True)
    stack_file.write_text(stack_text({"shop": app(canary=10)}))
    commit_all(repo)
    (repo.path / "policy-config.other.json").write_text('{"gke-deletion-protection": "advisory"}')
    repo.git("add", "--all")  # as the PR's commit has it
    assert changed(repo, capsys) == []
    (repo.path / f"policy-config.{STACK}.json").write_text('{"all": "disabled"}')
    repo.git("add", "--all")
    assert changed(repo, capsys) == [STACK]
    commit_all(repo, "policy config", when=1_700_000_100)
    (repo.path / f"policy-config.{STACK}.json").unlink()
    assert changed(repo, capsys) == [STACK]


@pytest.fixture
def linked(repo) -> StackRepo:
    """Pulumi.auto.yaml -> stacks/auto.yaml, committed with canary 10."""
    project(repo, None)
    (repo.path / "stacks").mkdir()
    (repo.path / "stacks" / "auto.yaml").write_text(stack_text({"shop": app(canary=10)}))
    os.symlink("stacks/auto.yaml", repo.path / f"Pulumi.{STACK}.yaml")
    commit_all(repo)
    return repo


def test_a_symlinked_stack_file_whose_target_changed_is_reviewed_and_checked_through_the_link(linked, capsys):
    target = linked.path / "stacks" / "auto.yaml"
    assert changed(linked, capsys) == []
    target.write_text(stack_text(JUMP))
    assert changed(linked, capsys) == [STACK]
    code, out = check(linked, capsys)
    assert code == 1 and "10 -> 100 goes past the next step 60" in out  # the base is read through the link too
    target.write_text(stack_text(STEP))
    assert check(linked, capsys)[0] == 0


def test_a_stack_symlink_pointed_elsewhere_is_reviewed(linked, capsys):
    (linked.path / "stacks" / "other.yaml").write_text(stack_text(JUMP))
    commit_all(linked, "another file")
    link = linked.path / f"Pulumi.{STACK}.yaml"
    link.unlink()
    os.symlink("stacks/other.yaml", link)
    assert changed(linked, capsys) == [STACK]
    assert check(linked, capsys)[0] == 1


def test_autopilot_times_a_symlinked_stack_from_its_targets_history(linked):
    now = int(time.time())
    (linked.path / "stacks" / "auto.yaml").write_text(stack_text({"shop": app(canary=60)}))
    commit_all(linked, "promote to 60", when=now - 120)

    (d,) = autopilot.decide(STACK, linked.path, None).decisions
    assert d.step is not None and d.step.committed_at == now - 120
    assert d.reason == "no --prometheus: the gate cannot judge the canary"


def test_a_pr_that_moves_stack_config_dir_is_checked_against_the_base_file(repo, capsys):
    project(repo, None)
    repo.file.write_text(stack_text({"shop": app(canary=10)}))
    commit_all(repo)
    project(repo, "stacks")
    (repo.path / "stacks").mkdir()
    repo.git("mv", repo.file.name, f"stacks/{repo.file.name}")
    moved = repo.path / "stacks" / repo.file.name
    moved.write_text(stack_text(JUMP))
    code, out = check(repo, capsys)
    assert code == 1 and "10 -> 100 goes past the next step 60" in out  # not "a new stack"
    moved.write_text(stack_text(STEP))
    assert check(repo, capsys)[0] == 0
