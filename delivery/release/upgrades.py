"""Which pinned chart versions can move to the newest patch release of their minor.

Reads each chart repository's index.yaml (the repositories the program installs from),
keeps the released versions (no pre-releases) with the same major.minor as the stack's
`platform.<chart>Version`, and sets the highest through the safe stack-file edit (the `upgrades` command). Istio's
version applies to three charts (base, istiod, gateway): only a version all three publish
counts. A newer minor is reported, never applied: it needs a reviewed upgrade. Keys the
stack file does not set (the settings defaults apply) are left alone. The repositories and
which key pins which chart come from model/charts.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from delivery.clients import http
from delivery.errors import UnavailableError, UsageError
from model import charts
from model.charts import REPOSITORIES
from model.versions import Version


@dataclass(frozen=True)
class Upgrade:
    key: str
    current: str
    patch: str | None  # newest patch of the current minor, when newer
    newer_minor: str | None  # newest release of a later minor, reported only


def repositories(overrides: list[str]) -> dict[str, str]:
    repos = dict(REPOSITORIES)
    for item in overrides:
        name, sep, url = item.partition("=")
        if not sep or name not in repos or not url.startswith(("http://", "https://")):
            raise UsageError(
                f"--repo {item!r}: use NAME=URL with NAME one of {', '.join(REPOSITORIES)} and an http(s) URL"
            )
        repos[name] = url
    return repos


def plan(current: str, published: list[list[str]], key: str) -> Upgrade:
    """What `current` should become, given the versions each chart publishes."""
    common = set.intersection(*(set(v) for v in published)) if published else set()
    releases = [v for v in map(Version.parse, common) if v is not None and not v.pre]
    now = Version.parse(current)
    if now is None:
        raise ValueError(f"platform.{key}: {current!r} is not a version")  # find_upgrades skips those
    same_minor = [v for v in releases if (v.major, v.minor) == (now.major, now.minor) and v > now]
    later = [v for v in releases if (v.major, v.minor) > (now.major, now.minor)]
    return Upgrade(key, current, str(max(same_minor)) if same_minor else None, str(max(later)) if later else None)


def find_upgrades(
    platform: Mapping[str, Any], repos: dict[str, str], fetch_index: Callable[[str], dict[str, list[str]]]
) -> list[Upgrade]:
    """The upgrade of each `platform.*Version` the stack sets; `fetch_index(url)` reads a repository."""
    indexes: dict[str, dict[str, list[str]]] = {}
    found = []
    for key in charts.version_keys():
        pinned = charts.pinned_by(key)
        repo = pinned[0].repository
        current = platform.get(key)
        if not isinstance(current, str) or Version.parse(current) is None:
            continue  # unset (the default applies) or invalid (settings says why)
        if repo not in indexes:
            indexes[repo] = fetch_index(repos[repo])
        missing = [c.name for c in pinned if c.name not in indexes[repo]]
        if missing:
            raise UnavailableError(
                f"{http.redact(repos[repo])}/index.yaml has no chart {', '.join(missing)} (for platform.{key})"
            )
        found.append(plan(current, [indexes[repo][c.name] for c in pinned], key))
    return found
