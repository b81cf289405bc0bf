"""What the stack-file commands (promote, rollback, finalize, set-tag, upgrades) share:
their common arguments and how they report an edit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from ruamel.yaml.comments import CommentedMap

from delivery import engine, stackfile
from delivery.errors import EXIT_OK, fail


def add_stack_arguments(parser: argparse.ArgumentParser, dry_run: bool = True) -> None:
    parser.add_argument("--stack", required=True, help="stack name: the file is Pulumi.<stack>.yaml")
    add_project_dir(parser)
    if dry_run:
        parser.add_argument("--dry-run", action="store_true", help="print the unified diff instead of writing the file")


def add_project_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-dir", type=Path, default=engine.PROJECT_DIR, metavar="DIR",
                        help="directory holding Pulumi.yaml and the stack files (default: this repository)")


def weight(text: str) -> int:
    """argparse type for a canary weight."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: a canary weight is 0..100") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..100")
    return value


def apply(args, mutate: Callable[[CommentedMap], list[str]]) -> int:
    """Run `mutate` through the safe edit; it returns the lines describing what it changed."""
    described: list[str] = []

    def recording(config: CommentedMap) -> None:
        described.extend(mutate(config))

    try:
        path = stackfile.stack_path(args.stack, args.project_dir)
        result = stackfile.edit(path, recording, dry_run=args.dry_run)
    except stackfile.EditError as exc:
        return fail(str(exc))
    return report(result, described, args.dry_run)


def report(result: stackfile.EditResult, described: list[str], dry_run: bool) -> int:
    name = result.path.name
    if not result.changed:
        print(f"{name}: nothing to change" + (f" ({'; '.join(described)})" if described else ""))
        return EXIT_OK
    if dry_run:
        print(result.diff, end="")
        print(f"dry run: {name} not written")
        return EXIT_OK
    for line in described:
        print(f"{name}: {line}")
    print(f"wrote {result.path}: commit it and open a pull request; the PR pipeline previews it")
    return EXIT_OK
