"""Which stacks a change touches, as a JSON list for a GitHub Actions matrix.

    python -m delivery changed-stacks --base origin/main     # ["dev"]
    python -m delivery changed-stacks --all

A stack is touched when its Pulumi.<stack>.yaml changed since REF; every stack is touched
when the program changed (PROGRAM_PATHS: what `pulumi up` runs). Stacks on an existing
cluster (`cluster.provider: existing`) are left out unless --any-cluster: CI has no
kubeconfig for a kind or minikube context, but can still check and diff them offline. A base of all zeros (GitHub's `before` of a new branch) means every stack.
Explanations go to stderr, the JSON list to stdout.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from components.settings import PROJECT
from delivery import edit, engine
from delivery.gitref import git, require_commit
from delivery.errors import EXIT_OK, UsageError, fail

HELP = "JSON list of the deployable stacks a change touches (for CI matrices)"

PROGRAM_PATHS = ("__main__.py", "Pulumi.yaml", "requirements.txt", "components/", "policies/", "dashboards/")
_STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")


def add_arguments(parser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--base", metavar="REF", help="git ref to compare the work tree with")
    which.add_argument("--all", action="store_true", help="every deployable stack")
    parser.add_argument("--any-cluster", action="store_true",
                        help="keep stacks on an existing cluster too (for offline checks such as check and diff)")
    edit.add_project_dir(parser)


def deployable(project_dir: Path, any_cluster: bool = False) -> list[str]:
    stacks = []
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        stack = _STACK_FILE.match(path.name).group(1)
        config = engine.config_from_text(path.read_text(), path.name)
        cluster = config.get(f"{PROJECT}:cluster") or {}
        if not any_cluster and isinstance(cluster, dict) and cluster.get("provider") == "existing":
            print(f"{stack}: skipped, an existing cluster CI cannot reach", file=sys.stderr)
            continue
        stacks.append(stack)
    return stacks


def changed_paths(project_dir: Path, ref: str) -> list[str]:
    require_commit(project_dir, ref)
    diff = git(project_dir, "diff", "--name-only", "--relative", ref, "--")
    if diff.returncode:
        raise UsageError(f"git diff failed: {diff.stderr.strip()}")
    return [line for line in diff.stdout.splitlines() if line]


def touched(project_dir: Path, ref: str | None, any_cluster: bool = False) -> list[str]:
    stacks = deployable(project_dir, any_cluster)
    if ref is None or re.fullmatch(r"0{40}", ref):
        print("every stack: no base to compare with", file=sys.stderr)
        return stacks
    paths = changed_paths(project_dir, ref)
    program = [p for p in paths if p in PROGRAM_PATHS or p.startswith(tuple(x for x in PROGRAM_PATHS if x.endswith("/")))]
    if program:
        print(f"every stack: the program changed ({', '.join(program[:5])}{' ...' if len(program) > 5 else ''})",
              file=sys.stderr)
        return stacks
    changed = {m.group(1) for m in map(_STACK_FILE.match, paths) if m}
    return [s for s in stacks if s in changed]


def run(args) -> int:
    try:
        stacks = touched(Path(args.project_dir), None if args.all else args.base, args.any_cluster)
    except (UsageError, engine.StackFileError) as exc:
        return fail(str(exc))
    print(json.dumps(stacks))
    return EXIT_OK
