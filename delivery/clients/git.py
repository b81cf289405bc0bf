"""Reading the repository at a git ref: what `check`, `diff` and `changed-stacks` compare against,
and the history `autopilot` measures bake time with."""

from __future__ import annotations

import subprocess
from pathlib import Path

from delivery.errors import UsageError


def git(project_dir: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=project_dir, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise UsageError("git is not installed") from None


def require_commit(project_dir: Path, ref: str) -> None:
    """Refuse (UsageError) a ref that does not name a commit of the repository at `project_dir`."""
    if git(project_dir, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise UsageError(f"{Path(project_dir).resolve()} is not inside a git work tree")
    # A ref starting with '-' would be read by git as an option.
    if ref.startswith("-") or git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode:
        raise UsageError(f"--base {ref!r} is not a commit in this repository (fetch it first: git fetch origin)")


def file_at(project_dir: Path, ref: str, filename: str) -> str | None:
    """`filename` (relative to `project_dir`) as of `ref`, or None when it did not exist there."""
    require_commit(project_dir, ref)
    shown = git(project_dir, "show", f"{ref}:./{filename}")
    return shown.stdout if shown.returncode == 0 else None


def is_shallow(project_dir: Path) -> bool:
    return git(project_dir, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def commits_changing(project_dir: Path, ref: str, filename: str) -> list[tuple[str, int]]:
    """(sha, committer time) of each commit on `ref`'s first-parent line that changed `filename`
    (relative to `project_dir`), newest first.

    First parent only: on a base branch that is the merge (or squash) commit, whose committer
    time is when the change landed, not when its pull request was written. Between two listed
    commits the file does not change, so the file at one listed commit is the file at the parent
    of the newer one.
    """
    require_commit(project_dir, ref)
    shown = git(project_dir, "log", "--first-parent", "--format=%H %ct", ref, "--", f"./{filename}")
    if shown.returncode:
        raise UsageError(f"git log {ref} -- {filename} failed: {shown.stderr.strip()}")
    return [(sha, int(when)) for sha, when in (line.split() for line in shown.stdout.splitlines() if line.strip())]
