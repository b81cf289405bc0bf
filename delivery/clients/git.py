"""Reading the repository at a git ref: what `check`, `diff` and `changed-stacks` compare against."""

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
