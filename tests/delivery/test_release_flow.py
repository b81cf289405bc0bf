"""A release as the README runs it, in a temporary clone: adoption edits, then set-tag, promote,
rollback, finalize, each committed like the pull request it would be.

No test may depend on what a release does to the live stack files. Two runs in the clone prove it:
the fast tests (`-m "not slow"`) pass with the live `Pulumi.*.yaml` files removed, so none of them
reads those files; and after every step the PR rules (`delivery check` against the previous
commit) and the tests of the live files (tests/delivery/stack/test_live_stacks.py) pass. Together: the fast
tests pass at every step, for any release state, at the cost of one suite run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from delivery import stack
from delivery import stack as stackfile
from model.settings import parse_stack_config
from model.versions import Track, Version
from tests.support.project import PROJECT_DIR, REFERENCE_DIR, git

pytestmark = pytest.mark.slow  # never part of the fast subset it runs itself

STACK = "dev"
LIVE_TESTS = "tests/delivery/stack/test_live_stacks.py"  # the only tests that read the live stack files


def clone_work_tree(target: Path) -> Path:
    """A clone of this repository at HEAD, with the work tree's uncommitted changes on top, so the
    code under test is the code the rest of `make test` tests."""
    if shutil.which("git") is None:
        pytest.skip("git not found: apt-get install git")
    if subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=PROJECT_DIR, capture_output=True
    ).returncode:
        pytest.skip(f"{PROJECT_DIR} is not a git checkout with a commit")
    git(target.parent, "clone", "--quiet", "--no-checkout", str(PROJECT_DIR), target.name)
    git(target, "checkout", "--quiet", "HEAD")
    changed = git(PROJECT_DIR, "ls-files", "-z", "--modified", "--others", "--exclude-standard").split("\0")
    for name in filter(None, changed):
        source = PROJECT_DIR / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
        else:
            (target / name).unlink(missing_ok=True)
    git(target, "add", "--all")
    git(target, "commit", "--quiet", "--allow-empty", "-m", "work tree under test")
    return target


def delivery(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "delivery", *args], cwd=repo, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (
        f"python -m delivery {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    )
    return done.stdout


def pytest_in(repo: Path, *args: str) -> None:
    env = {**os.environ, "ISTIO_CANARY_REFERENCE": str(REFERENCE_DIR)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = "\n".join(done.stdout.splitlines()[-25:])
    state = git(repo, "log", "-1", "--format=%s").strip()
    assert done.returncode == 0, f"pytest {' '.join(args)} fails in the clone at `{state}`:\n{tail}"


def fast_tests_without_live_stack_files(repo: Path) -> None:
    stack_files = sorted(stack.stack_config_dir(repo).glob("Pulumi.*.yaml"))
    saved = {path: path.read_bytes() for path in stack_files}
    for path in stack_files:
        path.unlink()
    try:
        pytest_in(
            repo, "-m", "not slow", "--ignore", LIVE_TESTS, "--ignore", str(Path(__file__).relative_to(PROJECT_DIR))
        )
    finally:
        for path, content in saved.items():
            path.write_bytes(content)


def next_patch(tag: str, track: str | None) -> str:
    """The canary's next build: its tag with the patch raised, still inside its track."""
    version = Version.parse(tag)
    if version is None:
        pytest.skip(f"the live canary tag {tag!r} is not a version: no next build to set")
    bumped = re.sub(r"^(v?\d+\.\d+\.)(\d+)$", lambda m: m.group(1) + str(int(m.group(2)) + 1), tag)
    assert bumped != tag and (track is None or Track.parse(track).admits_tag(bumped)), (tag, track)
    return bumped


def adopt(path: Path) -> None:
    """The adopter's edits, as `pulumi config set gcp:project ...` and `pulumi config rm` make them:
    their own GCP project, and no Slack webhook secret (yet)."""

    def mutate(config) -> list[str]:
        if "gcp:project" in config:
            stackfile.set_scalar(config, "gcp:project", "adopter-project-4711")
        config.pop("istio-canary:slackWebhookUrl", None)
        return []

    stackfile.edit(path, mutate)


def test_a_release_keeps_the_pr_checks_and_the_fast_tests_green_at_every_step(tmp_path):
    repo = clone_work_tree(tmp_path / "istio-canary")
    fast_tests_without_live_stack_files(repo)
    stack_file = stack.stack_config_dir(repo) / f"Pulumi.{STACK}.yaml"
    app = next(
        (
            name
            for name, a in parse_stack_config(stack.load_config(STACK, stack_file.parent)).apps.items()
            if a.strategy == "weighted"
        ),
        None,
    )
    if app is None:
        pytest.skip(f"{stack_file.name} has no weighted app: the README's release steps do not apply")

    def step(message: str, *command: str) -> None:
        if command:
            delivery(repo, *command, "--stack", STACK, app)
        git(repo, "commit", "--quiet", "--allow-empty", "-am", message)
        delivery(repo, "check", "--stack", STACK, "--base", "HEAD~1")
        pytest_in(repo, LIVE_TESTS)

    def settings():
        return parse_stack_config(stack.load_config(STACK, stack_file.parent)).apps[app]

    adopt(stack_file)
    step("adopt: own GCP project, no Slack secret")
    assert "secure:" not in stack_file.read_text() and "adopter-project-4711" in stack_file.read_text()

    canary = settings().canary
    new_tag = next_patch(canary.tag, canary.track)
    delivery(repo, "set-tag", "--stack", STACK, app, "--side", "canary", new_tag)
    step(f"{app}: canary {new_tag}")

    step(f"{app}: promote one step", "promote", "--step")
    step(f"{app}: roll back", "rollback")
    while settings().weights.canary < 100:
        step(f"{app}: promote one step", "promote", "--step")
    step(f"{app}: finalize", "finalize")

    final = settings()
    assert (final.ga.tag, final.weights.ga, final.weights.canary) == (new_tag, 100, 0)
