"""Reading the repository at a git ref: what `check`, `diff` and `changed-stacks` compare against,
and the history `autopilot` measures bake time with.

Only git's own answer "this path is not in that commit" means a file is absent at a ref. Any
other failure (git missing, a ref that names no commit, a shallow or partial clone lacking the
objects, a timeout) is `UnavailableError` (exit 3) naming the ref: treating it as "absent" would
let `check` pass a 10 -> 100 weight jump on a clone that simply lacks the base.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from delivery.errors import UnavailableError, UsageError

TIMEOUT = 60
# Never let a partial clone fetch missing objects behind the user's back (git >= 2.44): a
# missing base object is reported, not silently downloaded (or hung on) mid-check.
_ENV = {"GIT_NO_LAZY_FETCH": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def run(project_dir: Path, *args: str, text: bool = True) -> subprocess.CompletedProcess:
    """`git <args>` in `project_dir`; git missing or hanging is UnavailableError (exit 3)."""
    try:
        return subprocess.run(
            ["git", *args], cwd=project_dir, capture_output=True, text=text, timeout=TIMEOUT, env={**os.environ, **_ENV}
        )
    except FileNotFoundError:
        raise UnavailableError(
            "git is not installed (or not on PATH): cannot read the base of the comparison"
        ) from None
    except subprocess.TimeoutExpired:
        raise UnavailableError(f"git {' '.join(args[:2])} did not finish within {TIMEOUT}s") from None
    except NotADirectoryError:
        raise UsageError(f"{project_dir} is not a directory") from None


def git(project_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return run(project_dir, *args)


def _stderr(done: subprocess.CompletedProcess) -> str:
    err = done.stderr if isinstance(done.stderr, str) else done.stderr.decode("utf-8", "replace")
    return (err.strip().splitlines() or [f"exit {done.returncode}"])[-1]


def require_commit(project_dir: Path, ref: str) -> None:
    """Refuse (exit 3) a ref that does not name a commit of the repository at `project_dir`."""
    if not Path(project_dir).is_dir():
        raise UsageError(f"{project_dir} is not a directory")
    inside = run(project_dir, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0:
        raise UsageError(f"{Path(project_dir).resolve()} is not inside a git work tree")
    # A ref starting with '-' would be read by git as an option.
    if ref.startswith("-") or run(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode:
        raise UnavailableError(
            f"--base {ref!r} is not a commit in this repository (a shallow clone may lack it: "
            "fetch it first, git fetch origin, or check out with fetch-depth: 0)"
        )


MAX_LINKS = 8  # symlinks followed in a row before a chain counts as a loop (Linux allows 40)
_LINK_MODE = "120000"


def _entry(project_dir: Path, ref: str, filename: str) -> tuple[str, str, str] | None:
    """(mode, type, object id) of `filename` in `ref`'s tree, or None when it is not there."""
    listed = run(project_dir, "ls-tree", "-z", ref, "--", f"./{filename}")
    if listed.returncode != 0:
        raise UnavailableError(f"cannot list {filename} at {ref!r}: git: {_stderr(listed)}")
    if not listed.stdout:
        return None  # git's own answer: the path is not in that commit's tree
    mode_type_oid = listed.stdout.split("\t", 1)[0].split()
    if len(mode_type_oid) != 3 or mode_type_oid[1] != "blob":
        raise UsageError(f"{filename} at {ref!r} is a {mode_type_oid[1:2] or 'strange entry'}, not a file")
    return mode_type_oid[0], mode_type_oid[1], mode_type_oid[2]


def _blob(project_dir: Path, ref: str, filename: str, oid: str) -> bytes:
    shown = run(project_dir, "cat-file", "blob", oid, text=False)
    if shown.returncode != 0:
        raise UnavailableError(
            f"cannot read {filename} at {ref!r}: git: {_stderr(shown)} "
            "(a partial or shallow clone may lack the object: fetch the base first)"
        )
    return shown.stdout


def link_target(project_dir: Path, link: str, target: str) -> str:
    """Where symlink `link` (relative to `project_dir`) points, relative to `project_dir`."""
    if os.path.isabs(target):
        return os.path.relpath(target, Path(project_dir).resolve())
    return os.path.normpath(os.path.join(os.path.dirname(link), target))


def chain_at(project_dir: Path, ref: str, filename: str) -> list[str]:
    """`filename` and every path its symlinks lead to in `ref`'s tree (relative to `project_dir`),
    ending at the file itself; [filename] when it is a plain file or absent."""
    require_commit(project_dir, ref)
    chain = [filename]
    for _ in range(MAX_LINKS):
        entry = _entry(project_dir, ref, chain[-1])
        if entry is None or entry[0] != _LINK_MODE:
            return chain
        target = _blob(project_dir, ref, chain[-1], entry[2]).decode("utf-8", "surrogateescape")
        chain.append(link_target(project_dir, chain[-1], target))
    raise UsageError(f"{filename} at {ref!r}: more than {MAX_LINKS} symlinks in a row (a loop?)")


def file_at(project_dir: Path, ref: str, filename: str) -> bytes | None:
    """`filename` (relative to `project_dir`) as of `ref`, or None when it is not in that commit.
    A symlink is followed in that commit's tree, as reading the work tree follows it."""
    path = chain_at(project_dir, ref, filename)[-1]
    entry = _entry(project_dir, ref, path)
    if entry is None:
        return None
    return _blob(project_dir, ref, path, entry[2])


def is_shallow(project_dir: Path) -> bool:
    return run(project_dir, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def commits_changing(project_dir: Path, ref: str, filename: str) -> list[tuple[str, int]]:
    """(sha, committer time) of each commit on `ref`'s first-parent line that changed `filename`
    (relative to `project_dir`), newest first.

    First parent only: on a base branch that is the merge (or squash) commit, whose committer
    time is when the change landed, not when its pull request was written. Between two listed
    commits the file does not change, so the file at one listed commit is the file at the parent
    of the newer one.
    """
    require_commit(project_dir, ref)
    shown = run(project_dir, "log", "--first-parent", "--format=%H %ct", ref, "--", f"./{filename}")
    if shown.returncode:
        raise UnavailableError(f"cannot read the history of {filename} at {ref!r}: git: {_stderr(shown)}")
    return [(sha, int(when)) for sha, when in (line.split() for line in shown.stdout.splitlines() if line.strip())]


def first_parent_messages(project_dir: Path, ref: str) -> list[tuple[str, str]]:
    """(sha, full message) of every commit on `ref`'s first-parent line, newest first."""
    require_commit(project_dir, ref)
    shown = run(project_dir, "log", "--first-parent", "-z", "--format=%H%n%B", ref)
    if shown.returncode:
        raise UnavailableError(f"cannot read the history of {ref!r}: git: {_stderr(shown)}")
    found = []
    for entry in shown.stdout.split("\0"):
        sha, _, message = entry.strip("\n").partition("\n")
        if sha:
            found.append((sha, message))
    return found
