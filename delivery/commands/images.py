"""Image automation: move every tracked tag to the newest registry tag inside its track.

For each app side with a `track` (a weighted app's `ga` and `canary`, a Flagger app's single
tag), list the repository's tags through the OCI distribution API (anonymous bearer-token
handshake, `Link` pagination), keep the semver tags inside the track, and pick the highest.
A tag only moves forward: a registry that lost a tag never downgrades the stack. Only what the
pull-request check accepts is proposed: a weighted app's new canary build restarts at the first of
delivery.steps, and GA's tag waits while the canary holds traffic. All the changes are written in
one validated, atomic edit of `Pulumi.<stack>.yaml`, so the scheduled workflow's pull request holds
one reviewable diff that passes `check`.

The registry is asked everything before the file is touched: a registry that is down, slow or
answers garbage fails the command and leaves the stack file byte-identical.

Public registries are spoken to over https. `--insecure-registry HOST:PORT` (or
DELIVERY_INSECURE_REGISTRIES, comma-separated) switches a registry to plain http, for a
local registry such as the tests' `docker-registry` on 127.0.0.1.

Exit codes: 0 tags updated, or already up to date (also for --dry-run);
2 bad input (stack file, config, options); 3 a registry could not be read (file untouched).
"""

from __future__ import annotations

import argparse

from ruamel.yaml.comments import CommentedMap

from delivery import stack
from delivery.clients import registry
from delivery.commands import common
from delivery.errors import ExitStatus, UnavailableError, UsageError
from delivery.release import images
from delivery.release.images import INSECURE_ENV

HELP = "bump tracked image tags to the newest registry tag inside each track"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser, dry_run=True, what="edits")
    parser.add_argument(
        "--insecure-registry",
        action="append",
        metavar="HOST:PORT",
        help=f"speak plain http to this registry (repeatable; also ${INSECURE_ENV}, comma-separated). "
        "For a local test registry only: public registries need https",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=100,
        metavar="N",
        help="tags per page asked of the registry (?n=N; default: 100)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on a registry that does not answer within this time (default: 10)",
    )


def run(args: argparse.Namespace) -> ExitStatus:
    if args.page_size < 1:
        raise UsageError(f"--page-size {args.page_size}: must be at least 1")
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: must be more than 0 seconds")
    insecure = images.insecure_registries(args.insecure_registry)
    path = stack.stack_path(args.stack, args.project_dir)
    read = stack.read_bytes(path)
    settings = stack.parse_settings(stack.config_from_bytes(read, path.name), path.name)

    client = registry.RegistryClient(insecure=insecure, timeout=args.timeout, page_size=args.page_size)
    try:
        updates = images.plan(settings, client.tags)
    except UnavailableError as exc:
        raise UnavailableError(f"{exc}; {path.name} left unchanged") from None

    for update in updates:
        print(images.describe(update))
    proposal = images.admissible(settings, updates)
    for note in proposal.notes:
        print(note)
    if not proposal.tags:
        print(f"{path.name}: up to date" if updates else f"{path.name}: no app side has a track; nothing to follow")
        return ExitStatus.OK

    def mutate(config: CommentedMap) -> None:
        for (name, side), tag in proposal.tags.items():
            holder, _ = stack.tag_holder(config, name, side)
            stack.set_scalar(holder, "tag", tag)
        for name, canary in proposal.canary_weights.items():
            stack.set_weights(stack.app(config, name), name, canary)

    result = stack.edit(path, mutate, dry_run=args.dry_run, expected=read)
    if args.dry_run:
        print(result.diff, end="")
        print(f"dry run: {path.name} not written ({len(proposal.tags)} tag(s) would change)")
    else:
        print(f"{path.name}: {len(proposal.tags)} tag(s) updated")
    return ExitStatus.OK
