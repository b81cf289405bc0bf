"""Image automation: move every tracked tag to the newest registry tag inside its track.

For each app side with a `track` (a weighted app's `ga` and `canary`, a Flagger app's single
tag), list the repository's tags through the OCI distribution API (anonymous bearer-token
handshake, `Link` pagination), keep the semver tags inside the track, and pick the highest.
A tag only moves forward: a registry that lost a tag never downgrades the stack. All the new
tags are written in one validated, atomic edit of `Pulumi.<stack>.yaml` (the `set-tag` edit),
so the scheduled workflow's pull request holds one reviewable diff.

The registry is asked everything before the file is touched: a registry that is down, slow or
answers garbage fails the command and leaves the stack file byte-identical.

Public registries are spoken to over https. `--insecure-registry HOST:PORT` (or
DELIVERY_INSECURE_REGISTRIES, comma-separated) switches a registry to plain http, for a
local registry such as the tests' `docker-registry` on 127.0.0.1.

Exit codes: 0 tags updated, or already up to date (also for --dry-run);
2 bad input (stack file, config, options); 3 a registry could not be read (file untouched).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import Callable

from components.settings import Settings
from components.versions import Track, Version
from delivery import edit, registry, stackfile
from delivery.errors import EXIT_OK, fail

HELP = "bump tracked image tags to the newest registry tag inside each track"
EXIT_UNAVAILABLE = 3
INSECURE_ENV = "DELIVERY_INSECURE_REGISTRIES"
_REGISTRY_ADDRESS = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")


@dataclass(frozen=True)
class SideUpdate:
    app: str
    side: str  # "ga"/"canary" for a weighted app, "" for a Flagger app's single tag
    image: str
    track: str
    old: str
    new: str | None  # the highest tag inside the track; None when the registry has none

    @property
    def label(self) -> str:
        return f"{self.app}.{self.side}" if self.side else self.app

    @property
    def changes(self) -> bool:
        old = Version.parse(self.old)
        return self.new is not None and (old is None or Version.parse(self.new) > old)


def plan(settings: Settings, tags_of: Callable[[str], list[str]]) -> list[SideUpdate]:
    """What each tracked side would move to; each repository is listed once."""
    listed: dict[str, list[str]] = {}
    updates = []
    for name, app in settings.apps.items():
        for side_name, side in app.sides().items():
            if side.track is None:
                continue
            if app.image not in listed:
                listed[app.image] = tags_of(app.image)
            best = Track.parse(side.track).highest(listed[app.image])
            updates.append(SideUpdate(name, side_name, app.image, side.track, side.tag, best))
    return updates


def _describe(update: SideUpdate) -> str:
    head = f"{update.label}: {update.image} track {update.track}:"
    if update.new is None:
        return f"{head} no tag inside the track in the registry; keeping {update.old}"
    if update.changes:
        return f"{head} {update.old} -> {update.new}"
    return f"{head} {update.old} (up to date)"


def _insecure(values: list[str] | None) -> frozenset[str]:
    from_env = [v.strip() for v in os.environ.get(INSECURE_ENV, "").split(",") if v.strip()]
    return frozenset([*from_env, *(values or [])])


def add_arguments(parser) -> None:
    edit.add_stack_arguments(parser)
    parser.add_argument("--insecure-registry", action="append", metavar="HOST:PORT",
                        help=f"speak plain http to this registry (repeatable; also ${INSECURE_ENV}, comma-separated). "
                             "For a local test registry only: public registries need https")
    parser.add_argument("--page-size", type=int, default=100, metavar="N",
                        help="tags per page asked of the registry (?n=N; default: 100)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="give up on a registry that does not answer within this time (default: 10)")


def run(args) -> int:
    if args.page_size < 1:
        return fail(f"--page-size {args.page_size}: must be at least 1")
    if not args.timeout > 0:
        return fail(f"--timeout {args.timeout:g}: must be more than 0 seconds")
    insecure = _insecure(args.insecure_registry)
    for address in sorted(insecure):
        if not _REGISTRY_ADDRESS.match(address):
            return fail(f"--insecure-registry {address!r}: give a registry as HOST or HOST:PORT, "
                        "as written in the image (127.0.0.1:5000), without a scheme or path")
    try:
        path = stackfile.stack_path(args.stack, args.project_dir)
        settings = stackfile.load_settings(path)
    except stackfile.EditError as exc:
        return fail(str(exc))

    client = registry.RegistryClient(insecure=insecure, timeout=args.timeout,
                                     page_size=args.page_size)
    try:
        updates = plan(settings, client.tags)
    except registry.RegistryError as exc:
        print(f"error: {exc}; {path.name} left unchanged", file=sys.stderr)
        return EXIT_UNAVAILABLE

    for update in updates:
        print(_describe(update))
    changes = {(u.app, u.side or None): u.new for u in updates if u.changes}
    if not changes:
        print(f"{path.name}: up to date" if updates else f"{path.name}: no app side has a track; nothing to follow")
        return EXIT_OK
    try:
        result = stackfile.set_tags(path, changes, dry_run=args.dry_run)
    except stackfile.EditError as exc:
        return fail(str(exc))
    if args.dry_run:
        print(result.diff, end="")
        print(f"dry run: {path.name} not written ({len(changes)} tag(s) would change)")
    else:
        print(f"{path.name}: {len(changes)} tag(s) updated")
    return EXIT_OK
