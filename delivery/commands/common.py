"""What several commands share: the stack arguments, how an edit is reported, how violations print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.errors import ExitStatus

# The stack every command works on unless told otherwise: the GKE stack a release PR edits, as
# `make STACK=...` defaults too. One default for every command, so `--stack` can be left out anywhere.
DEFAULT_STACK = "dev"


def default_project_dir() -> Path:
    """The current directory when it is a Pulumi project (holds Pulumi.yaml), else the project this
    package belongs to: `istio-canary` works from any directory after `pip install -e .`."""
    cwd = Path.cwd()
    return cwd if (cwd / "Pulumi.yaml").is_file() else stack.PROJECT_DIR


def add_project_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=default_project_dir(),
        metavar="DIR",
        help="directory holding Pulumi.yaml and the stack files (default: the current directory when it "
        "holds a Pulumi.yaml, else the installed project's)",
    )


def add_stack(parser: argparse.ArgumentParser, what: str = "reads") -> None:
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help=f"stack name: {what} Pulumi.<stack>.yaml (default: {DEFAULT_STACK})",
    )


def add_stack_arguments(parser: argparse.ArgumentParser, dry_run: bool = False, what: str = "reads") -> None:
    """`--stack` and `--project-dir`, the same way for every command (and `--dry-run` for editors)."""
    add_stack(parser, what)
    add_project_dir(parser)
    if dry_run:
        parser.add_argument("--dry-run", action="store_true", help="print the unified diff instead of writing the file")


def add_stack_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory holding Pulumi.<stack>.yaml (default: the project's, or its stackConfigDir)",
    )


def add_out_dir(parser: argparse.ArgumentParser) -> None:
    """Where preview and verify write (they only write into directories they own)."""
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: <project>/build/preview/<stack>)"
    )


def add_policy_config(parser: argparse.ArgumentParser) -> None:
    """`--policy-config FILE`: what `pulumi preview/up --policy-pack-config FILE` reads."""
    parser.add_argument(
        "--policy-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="a policy pack config file in Pulumi's JSON format (what `pulumi up --policy-pack-config` reads), "
        'e.g. {"gke-deletion-protection": "advisory"}: sets the enforcement level of the policies it names',
    )


def policy_levels(path: Path | None) -> dict:
    """The enforcement levels a `--policy-config` file sets (none without one); exit 2 on a bad file."""
    if path is None:
        return {}
    from delivery.plan import policy_config  # loads pulumi_policy: not for `--help`
    from policies.rules import POLICIES

    return policy_config.load(path, [p.name for p in POLICIES])


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout (keys in docs/reference/cli.md#json-output; messages go to stderr)",
    )


def print_json(kind: str, version: int, body: dict[str, Any]) -> None:
    """One JSON document with `schema` and `version` first, so a bot can tell when the shape changes."""
    print(json.dumps({"schema": f"istio-canary/{kind}", "version": version, **body}, indent=2))


def weight(text: str) -> int:
    """argparse type for a canary weight."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: a canary weight is 0..100") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..100")
    return value


def apply(args: argparse.Namespace, mutate: Callable[[CommentedMap], list[str]]) -> ExitStatus:
    """Run `mutate` through the safe edit; it returns the lines describing what it changed."""
    described: list[str] = []

    def recording(config: CommentedMap) -> None:
        described.extend(mutate(config))

    path = stack.stack_path(args.stack, args.project_dir)
    result = stack.edit(path, recording, dry_run=args.dry_run)
    return report(result, described, args.dry_run)


def report(result: stack.EditResult, described: list[str], dry_run: bool) -> ExitStatus:
    name = result.path.name
    if not result.changed:
        print(f"{name}: nothing to change" + (f" ({'; '.join(described)})" if described else ""))
        return ExitStatus.OK
    if dry_run:
        print(result.diff, end="")
        print(f"dry run: {name} not written")
        return ExitStatus.OK
    for line in described:
        print(f"{name}: {line}")
    print(f"wrote {result.path}: commit it and open a pull request; the PR pipeline previews it")
    return ExitStatus.OK


def print_violations(violations: list[dict], policies: list[Any] | None = None, out: TextIO | None = None) -> None:
    """Each violation with its rule, URN and how to fix it (the rule's description)."""
    if policies is None:
        from policies.rules import POLICIES

        policies = list(POLICIES)
    out = out or sys.stdout
    fixes = {p.name: p.description for p in policies}
    for v in violations:
        print(f"{v['level']:>9}  {v['policy']}: {v['message']}", file=out)
        print(f"           urn: {v['urn'] or '(the stack)'}", file=out)
        if fixes.get(v["policy"]):
            print(f"           fix: {fixes[v['policy']]}", file=out)
