"""Where the repository and the fixture stacks are, and the one git helper tests use."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The tests' own stack files: the live Pulumi.<stack>.yaml are users' data, edited by every release PR.
FIXTURES_DIR = PROJECT_DIR / "tests" / "fixtures"
# A stack of a team's own services (not podinfo), in a directory of its own: commands that copy or
# list the fixture stacks above do not see it.
TEAM_DIR = FIXTURES_DIR / "team"
REFERENCE_DIR = Path(os.environ.get("ISTIO_CANARY_REFERENCE", PROJECT_DIR.parent / "shared" / "reference"))
# What `pulumi up` runs: a copy of these is a working program.
PROGRAM = ("__main__.py", "Pulumi.yaml", "model", "components", "delivery", "policies", "dashboards")


def copy_program(root: Path, stacks: tuple[str, ...] = ("dev",)) -> Path:
    """A working copy of the program in `root`, with the fixture stack files `stacks`: what a CI
    checkout holds, minus the live stack files (tests never read those)."""
    for name in PROGRAM:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "venv"))
        elif source.exists():
            shutil.copy(source, root / name)
    for stack in stacks:
        shutil.copy(FIXTURES_DIR / f"Pulumi.{stack}.yaml", root / f"Pulumi.{stack}.yaml")
    return root


# The fixture dev stack's podinfo (tests/fixtures/Pulumi.dev.yaml), the starting point of every edit.
PODINFO = {
    "ga": 'ga: {tag: 6.13.0, track: "6.13.x", replicas: 2}',
    "canary": 'canary: {tag: 6.14.1, track: "6.14.x", replicas: 1}',
    "weights": "weights: {ga: 90, canary: 10}",
}


def git(repo: Path, *args: str, when: int | None = None) -> str:
    """Run git in `repo` as a fixed test identity; its stdout. Fails the test on a git error, with git's message.

    `when` (seconds since the epoch) dates the author and committer of a commit it makes: what
    autopilot measures bake time from."""
    env = None
    if when is not None:
        env = {**os.environ, "GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000"}
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout
