"""Which stacks a change touches (the `changed-stacks` command prints them for a CI matrix).

A stack is touched when its Pulumi.<stack>.yaml changed since REF: the file in the project's
stack config directory (`stackConfigDir` of Pulumi.yaml), or, for a symlink, the link or any file
it leads to (now or at REF), or its policy config file `policy-config.<stack>.json` at the project
root (POLICY_CONFIG: what pull-request.yml and deploy.yml pass to `--policy-pack-config`, so a PR
that only adds one is previewed and deployed, and the PR pipeline's offline policy run judges it).
Paths are read NUL-separated (`git diff -z`), so a name git would quote (spaces, non-ASCII) maps to
its stack like any other. Every stack is touched
when the program changed (PROGRAM_PATHS: what `pulumi up` runs). Stacks on an existing
cluster (`cluster.provider: existing`) are left out unless --any-cluster: CI has no
kubeconfig for a kind or minikube context, but can still check and diff them offline.
A base of all zeros (GitHub's `before` of a new branch) means every stack.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from delivery import stack
from delivery.clients.git import chain_at, git, require_commit
from delivery.errors import UnavailableError
from model.settings import PROJECT

# The stack's policy config, where the workflows look for it (the repository root, their working directory).
POLICY_CONFIG = "policy-config.{stack}.json"
PROGRAM_PATHS = ("__main__.py", "Pulumi.yaml", "requirements.txt", "model/", "components/", "policies/", "dashboards/")


def deployable(project_dir: Path, stacks: list[str], any_cluster: bool = False) -> list[str]:
    """`stacks` less those on an existing cluster (unless `any_cluster`), each said once on stderr."""
    kept = []
    for name in stacks:
        config = stack.load_config(name, project_dir)
        cluster = config.get(f"{PROJECT}:cluster") or {}
        if not any_cluster and isinstance(cluster, dict) and cluster.get("provider") == "existing":
            print(f"{name}: skipped, an existing cluster CI cannot reach", file=sys.stderr)
            continue
        kept.append(name)
    return kept


def changed_paths(project_dir: Path, ref: str) -> list[str]:
    """Paths that differ between `ref` and the work tree, relative to `project_dir` (`../x` for a
    path of the repository outside it). `-z`: names as they are, never C-quoted
    (git-diff(1), "-z"); `--no-renames`: a renamed file is its old and its new path."""
    require_commit(project_dir, ref)
    top = git(project_dir, "rev-parse", "--show-toplevel")
    diff = git(project_dir, "diff", "-z", "--name-only", "--no-renames", ref, "--")
    if diff.returncode or top.returncode:
        raise UnavailableError(f"git diff failed: {(diff.stderr or top.stderr).strip()}")
    root = Path(top.stdout.strip())
    return [os.path.relpath(root / name, Path(project_dir).resolve()) for name in diff.stdout.split("\0") if name]


def stack_files(project_dir: Path, ref: str) -> dict[str, set[str]]:
    """Per stack, every path (relative to `project_dir`) whose change changes its stack file:
    the file and its symlink chain, in the work tree and at `ref`."""
    found = {}
    for name in stack.stack_names(project_dir):
        relative = stack.relative_path(stack.stack_config_dir(project_dir) / f"Pulumi.{name}.yaml", project_dir)
        found[name] = {
            *stack.work_tree_chain(project_dir, relative),
            *chain_at(project_dir, ref, relative),
            POLICY_CONFIG.format(stack=name),
        }
    return found


def touched(project_dir: Path, ref: str | None, any_cluster: bool = False) -> list[str]:
    """The deployable stacks the change since `ref` touches. Only touched stacks are mentioned on
    stderr (skipped or why): a stack the change leaves alone is not worth a line in the CI log."""
    stacks = stack.stack_names(project_dir)
    if ref is None or re.fullmatch(r"0{40}", ref):
        print("every stack: no base to compare with", file=sys.stderr)
        return deployable(project_dir, stacks, any_cluster)
    paths = changed_paths(project_dir, ref)
    program = [
        p for p in paths if p in PROGRAM_PATHS or p.startswith(tuple(x for x in PROGRAM_PATHS if x.endswith("/")))
    ]
    if program:
        print(
            f"every stack: the program changed ({', '.join(program[:5])}{' ...' if len(program) > 5 else ''})",
            file=sys.stderr,
        )
        return deployable(project_dir, stacks, any_cluster)
    changed = set(paths)
    files = stack_files(project_dir, ref)
    return deployable(project_dir, [s for s in stacks if files[s] & changed], any_cluster)
