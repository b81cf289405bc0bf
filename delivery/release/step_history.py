"""When did each weighted app's current release step start? Read from the stack file's git history.

Bake time is measured with git, never with a clock file: from the committer time of the newest
commit on the base branch's first-parent line that changed an app's canary weight or canary tag
in `Pulumi.<stack>.yaml` (the merge of the step's pull request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delivery import stack
from delivery.clients import git
from delivery.errors import UnavailableError, UsageError

DEFAULT_BASE = "origin/main"


@dataclass(frozen=True)
class AppState:
    """What starts a new step when it changes on the base branch."""

    canary_weight: Any
    canary_tag: Any


@dataclass(frozen=True)
class StepStart:
    """The base-branch commit that last changed an app's state: the step's start."""

    commit: str
    committed_at: int  # committer time, seconds since the epoch
    before: AppState | None  # None: the app was not in the file before
    after: AppState


def states(raw: bytes | None, source: str) -> dict[str, AppState]:
    """Raw state of each app in a stack file's bytes (no schema: old commits predate today's rules),
    read by the one stack-file loader."""
    if raw is None:
        return {}
    try:
        apps = stack.config_from_bytes(raw, source).get(stack.APPS_KEY)
    except stack.StackFileError:
        return {}  # a broken file on the base branch changed nothing we can read
    found = {}
    for name, raw in apps.items() if isinstance(apps, Mapping) else []:
        if isinstance(raw, Mapping):
            weights, canary = raw.get("weights"), raw.get("canary")
            found[name] = AppState(
                weights.get("canary") if isinstance(weights, Mapping) else None,
                canary.get("tag") if isinstance(canary, Mapping) else None,
            )
    return found


def step_starts(project_dir: Path, base: str, filename: str, apps: list[str]) -> dict[str, StepStart | None]:
    """For each app, the newest commit on `base` that changed its state (None: the app is not on `base`)."""
    if git.is_shallow(project_dir):
        raise UsageError(
            "the repository is a shallow clone: bake time is read from the stack file's history; "
            "fetch it all (git fetch --unshallow, or actions/checkout with fetch-depth: 0)"
        )
    found: dict[str, StepStart | None] = {name: None for name in apps}
    pending = set(apps)
    commits = git.commits_changing(project_dir, base, filename)
    after = states(git.file_at(project_dir, commits[0][0], filename), filename) if commits else {}
    for i, (sha, when) in enumerate(commits):
        older = commits[i + 1][0] if i + 1 < len(commits) else None
        before = states(git.file_at(project_dir, older, filename), filename) if older else {}
        for name in sorted(pending):
            if name not in after:
                pending.discard(name)  # not on the base branch at all
            elif before.get(name) != after[name]:
                found[name] = StepStart(sha, when, before.get(name), after[name])
                pending.discard(name)
        if not pending:
            break
        after = before
    return found


def resolve_base(project_dir: Path, base: str | None) -> str:
    """`base` as given, or origin/main, or HEAD when there is no origin/main."""
    if base is not None:
        git.require_commit(project_dir, base)
        return base
    try:
        git.require_commit(project_dir, DEFAULT_BASE)
        return DEFAULT_BASE
    except UnavailableError:  # no origin/main here (a ref that is not a commit is exit 3 elsewhere)
        git.require_commit(project_dir, "HEAD")
        return "HEAD"


def commit_of(project_dir: Path, ref: str) -> str:
    """The full sha `ref` names (a commit, checked by `resolve_base`)."""
    return git.git(project_dir, "rev-parse", f"{ref}^{{commit}}").stdout.strip()


def previous_start(project_dir: Path, base: str, filename: str, app: str, start: StepStart) -> StepStart | None:
    """The start of the step before `start` (the newest older commit on `base` that changed the
    app's state), or None when the history holds none: the time range of the previous step is
    from its `committed_at` to `start.committed_at`."""
    commits = git.commits_changing(project_dir, base, filename)
    shas = [sha for sha, _ in commits]
    if start.commit not in shas:
        return None
    older = commits[shas.index(start.commit) + 1 :]
    after = start.before
    for i, (sha, when) in enumerate(older):
        parent = older[i + 1][0] if i + 1 < len(older) else None
        before = states(git.file_at(project_dir, parent, filename), filename).get(app) if parent else None
        if before != after:
            return StepStart(sha, when, before, after) if after is not None else None
        after = before
    return None
