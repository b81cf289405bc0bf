"""Release history of a stack file on the base branch: when each weighted app's current step
started (bake time), and which canary builds were rolled back (autopilot's memory).

Bake time is measured with git, never with a clock file: from the committer time of the newest
commit on the base branch's first-parent line that changed what an app's canary serves: its
weight, or its build (image reference or any pod-spec key, `model/serving.py`), in the stack file
(the merge of the step's pull request). A commit whose file today's loader refuses carries no
information: it neither starts a step nor hides a rollback before it.

Rollback memory: a canary build is rolled back by a base commit that takes its canary from a
weight above 0 to 0 while it runs that build (finalize, where GA takes the build, is not a
rollback). Autopilot never promotes that image reference again, whatever happened since (the app
removed and restored, broken commits), until a person sets it again: a later first-parent commit
on the base whose message has the trailer `Autopilot-Retry: <tag>` (or `<repository>:<tag>`), or a
later commit that is not automation's (subject `autopilot(...` or `images:`) and sets an app's
canary to that reference from another one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from delivery import stack
from delivery.clients import git
from delivery.errors import UnavailableError, UsageError
from model import serving
from model.serving import Build, Serving

DEFAULT_BASE = "origin/main"
RETRY_TRAILER = "Autopilot-Retry"
# Commits of autopilot's and images' pull requests (their titles; GitHub's squash keeps the title,
# a merge commit names the branch): they never count as a person setting a tag again.
_AUTOMATION = re.compile(r"^(autopilot\(|images: |Merge pull request #\d+ from \S+/(autopilot|automation)/)")
_RETRY = re.compile(rf"^{RETRY_TRAILER}:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class AppState:
    """What starts a new step when it changes on the base branch: what the canary serves."""

    canary_weight: int
    canary: Build


@dataclass(frozen=True)
class StepStart:
    """The base-branch commit that last changed an app's state: the step's start."""

    commit: str
    committed_at: int  # committer time, seconds since the epoch
    before: AppState | None  # None: the app was not in the file before (or unreadable)
    after: AppState


@dataclass(frozen=True)
class RolledBack:
    """A canary build rolled back on the base and not set again by a person since."""

    ref: str
    app: str
    commit: str


def state(app: Serving) -> AppState | None:
    canary = app.canary
    return AppState(app.canary_weight, canary) if canary is not None else None


def apps_of(raw: bytes | None, source: str) -> dict[str, Serving] | None:
    """Each app of a stack file's bytes by today's model, read by the one stack-file loader; None
    when the file is unreadable. An app today's rules refuse is left out (old commits)."""
    if raw is None:
        return {}
    try:
        apps = stack.config_from_bytes(raw, source).get(stack.APPS_KEY)
    except stack.StackFileError:
        return None
    found = {}
    for name, raw_app in apps.items() if isinstance(apps, Mapping) else []:
        app = serving.from_raw(str(name), raw_app)
        if app is not None:
            found[str(name)] = app
    return found


@dataclass(frozen=True)
class Version:
    commit: str
    committed_at: int
    apps: dict[str, Serving]


@dataclass(frozen=True)
class History:
    """The stack file's readable versions on the base's first-parent line, newest first, and the
    canary builds rolled back and not set again."""

    versions: list[Version]
    rolled_back: dict[str, RolledBack]

    def step_starts(self, apps: list[str]) -> dict[str, StepStart | None]:
        """For each app, the newest commit that changed its state (None: not on the base)."""
        found: dict[str, StepStart | None] = {}
        for name in apps:
            found[name] = None
            newest = self.versions[0].apps.get(name) if self.versions else None
            after = state(newest) if newest is not None else None
            if after is None:
                continue
            start = self.versions[0]
            for older in self.versions[1:]:
                app = older.apps.get(name)
                if app is None or state(app) != after:
                    found[name] = StepStart(start.commit, start.committed_at, state(app) if app else None, after)
                    break
                start = older
            else:
                found[name] = StepStart(start.commit, start.committed_at, None, after)
        return found

    def previous_start(self, app: str, start: StepStart) -> StepStart | None:
        """The start of the step before `start`: the oldest of the versions just older than it in
        which the app's state was `start.before`, or None when the history holds none. The previous
        step ran from its `committed_at` to `start.committed_at`."""
        commits = [version.commit for version in self.versions]
        if start.before is None or start.commit not in commits:
            return None
        older = self.versions[commits.index(start.commit) + 1 :]
        found: Version | None = None
        for version in older:
            app_then = version.apps.get(app)
            if app_then is None or state(app_then) != start.before:
                before = state(app_then) if app_then is not None else None
                break
            found = version
        else:
            before = None
        return None if found is None else StepStart(found.commit, found.committed_at, before, start.before)


def _rollbacks(
    versions: list[Version], retries: dict[str, list[str]], human: set[str], order: dict[str, int]
) -> dict[str, RolledBack]:
    """Replay the history oldest first: rollbacks remember a build, a person's retry forgets it."""
    memory: dict[str, RolledBack] = {}
    oldest_first = list(reversed(versions))
    events: list[tuple[int, str, str, object]] = []  # (position, kind, ref, detail)
    for before, after in zip(oldest_first, oldest_first[1:], strict=False):
        position = order.get(after.commit, 0)
        for name, now in after.apps.items():
            was = before.apps.get(name)
            if was is None or not (was.weighted and now.weighted and was.canary and now.canary):
                continue
            if was.canary_weight > 0 and now.canary_weight == 0 and not now.baseline.same_as(was.canary):
                events.append((position, "rollback", was.canary.ref, RolledBack(was.canary.ref, name, after.commit)))
            if now.canary.ref != was.canary.ref:
                events.append((position, "set", now.canary.ref, after.commit))
    for commit, refs in retries.items():
        for ref in refs:
            events.append((order.get(commit, 0), "retry", ref, commit))
    for _, kind, ref, detail in sorted(events, key=lambda e: (e[0], e[1] != "rollback")):
        if kind == "rollback":
            memory[ref] = detail  # type: ignore[assignment]
        elif kind == "set" and detail in human:
            memory.pop(ref, None)
        elif kind == "retry":
            for known in [r for r in memory if r == ref or r.endswith(f":{ref}") or r.endswith(f"@{ref}")]:
                memory.pop(known)
    return memory


def read(project_dir: Path, base: str, filename: str) -> History:
    """The history of stack file `filename` (relative to `project_dir`) on `base`."""
    if git.is_shallow(project_dir):
        raise UsageError(
            "the repository is a shallow clone: bake time is read from the stack file's history; "
            "fetch it all (git fetch --unshallow, or actions/checkout with fetch-depth: 0)"
        )
    # A symlinked stack file changes when its target does: follow it in the base's tree.
    path = git.chain_at(project_dir, base, filename)[-1]
    versions = []
    for sha, when in git.commits_changing(project_dir, base, path):
        apps = apps_of(git.file_at(project_dir, sha, path), path)
        if apps is not None:
            versions.append(Version(sha, when, apps))
    first_parent = git.first_parent_messages(project_dir, base)
    order = {sha: len(first_parent) - i for i, (sha, _) in enumerate(first_parent)}
    retries = {sha: _RETRY.findall(message) for sha, message in first_parent if _RETRY.search(message)}
    human = {sha for sha, message in first_parent if not _AUTOMATION.match(message)}
    return History(versions, _rollbacks(versions, retries, human, order))


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
