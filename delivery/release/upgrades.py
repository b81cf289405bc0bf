"""Raise each pinned chart version to the newest patch release of its minor.

    python -m delivery upgrades --stack dev [--dry-run]
    python -m delivery upgrades --stack dev --repo istio=https://mirror.example.com/istio

Reads each chart repository's index.yaml (the repositories the program installs from),
keeps the released versions (no pre-releases) with the same major.minor as the stack's
`platform.<chart>Version`, and sets the highest through the safe stack-file edit. Istio's
version applies to three charts (base, istiod, gateway): only a version all three publish
counts. A newer minor is reported, never applied: it needs a reviewed upgrade. Keys the
stack file does not set (the settings defaults apply) are left alone. Exit 0 with "up to
date" when nothing changes; a repository that cannot be read is an error (exit 2), and the
file is untouched.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

import yaml

from components.flagger import FLAGGER_CHARTS
from components.mesh import ISTIO_CHARTS
from components.observability import GRAFANA_CHARTS, PROMETHEUS_CHARTS
from components.settings import PROJECT
from components.versions import Version
from delivery import edit, engine, stackfile
from delivery.errors import EXIT_OK, UsageError, fail

HELP = "raise platform chart versions to the newest patch of their minor"

# repository name (for --repo) -> the URL the program installs from
REPOSITORIES = {"istio": ISTIO_CHARTS, "flagger": FLAGGER_CHARTS,
                "prometheus-community": PROMETHEUS_CHARTS, "grafana-community": GRAFANA_CHARTS}
# platform key -> (repository name, charts that must all publish the version)
CHARTS = {
    "istioVersion": ("istio", ("base", "istiod", "gateway")),
    "flaggerVersion": ("flagger", ("flagger",)),
    "loadtesterVersion": ("flagger", ("loadtester",)),
    "prometheusVersion": ("prometheus-community", ("prometheus",)),
    "grafanaVersion": ("grafana-community", ("grafana",)),
}
TIMEOUT = 30


@dataclass(frozen=True)
class Upgrade:
    key: str
    current: str
    patch: str | None  # newest patch of the current minor, when newer
    newer_minor: str | None  # newest release of a later minor, reported only


def add_arguments(parser) -> None:
    edit.add_stack_arguments(parser)
    parser.add_argument("--repo", action="append", default=[], metavar="NAME=URL",
                        help=f"read repository NAME ({', '.join(REPOSITORIES)}) from URL instead (a mirror)")


def repositories(overrides: list[str]) -> dict[str, str]:
    repos = dict(REPOSITORIES)
    for item in overrides:
        name, sep, url = item.partition("=")
        if not sep or name not in repos or not url.startswith(("http://", "https://")):
            raise UsageError(f"--repo {item!r}: use NAME=URL with NAME one of {', '.join(REPOSITORIES)} "
                             "and an http(s) URL")
        repos[name] = url
    return repos


def fetch_index(url: str) -> dict[str, list[str]]:
    """chart name -> versions, from `<url>/index.yaml`."""
    index_url = url.rstrip("/") + "/index.yaml"
    try:
        with urllib.request.urlopen(index_url, timeout=TIMEOUT) as response:
            text = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"cannot read {index_url}: {getattr(exc, 'reason', exc)}") from None
    try:
        # The big repositories' indexes are megabytes: the C loader when PyYAML has it.
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise UsageError(f"{index_url} is not a Helm repository index: {exc}") from None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise UsageError(f"{index_url} is not a Helm repository index: no `entries` mapping")
    return {chart: [str(e.get("version")) for e in versions if isinstance(e, dict) and e.get("version")]
            for chart, versions in entries.items() if isinstance(versions, list)}


def plan(current: str, published: list[list[str]], key: str) -> Upgrade:
    """What `current` should become, given the versions each chart publishes."""
    common = set.intersection(*(set(v) for v in published)) if published else set()
    releases = [v for v in map(Version.parse, common) if v is not None and not v.pre]
    now = Version.parse(current)
    same_minor = [v for v in releases if (v.major, v.minor) == (now.major, now.minor) and v > now]
    later = [v for v in releases if (v.major, v.minor) > (now.major, now.minor)]
    return Upgrade(key, current, str(max(same_minor)) if same_minor else None, str(max(later)) if later else None)


def find_upgrades(platform: dict, repos: dict[str, str]) -> list[Upgrade]:
    indexes: dict[str, dict[str, list[str]]] = {}
    found = []
    for key, (repo, charts) in CHARTS.items():
        current = platform.get(key)
        if not isinstance(current, str) or Version.parse(current) is None:
            continue  # unset (the default applies) or invalid (settings says why)
        if repo not in indexes:
            indexes[repo] = fetch_index(repos[repo])
        missing = [c for c in charts if c not in indexes[repo]]
        if missing:
            raise UsageError(f"{repos[repo]}/index.yaml has no chart {', '.join(missing)} (for platform.{key})")
        found.append(plan(current, [indexes[repo][c] for c in charts], key))
    return found


def run(args) -> int:
    try:
        repos = repositories(args.repo)
        path = stackfile.stack_path(args.stack, args.project_dir)
        stackfile.load_settings(path)  # refuse an invalid file before going to the network
        config = engine.config_from_text(path.read_text(), path.name)
        upgrades = find_upgrades(config.get(f"{PROJECT}:platform") or {}, repos)
    except (UsageError, stackfile.EditError) as exc:
        return fail(str(exc))

    for up in upgrades:
        if up.newer_minor:
            print(f"platform.{up.key}: {up.newer_minor} is a newer minor; not applied (upgrade it in a reviewed PR)")
    todo = [up for up in upgrades if up.patch]
    if not todo:
        print(f"{path.name}: up to date (every chart is on the newest patch of its minor)")
        return EXIT_OK

    def mutate(config) -> list[str]:
        platform_map = stackfile.sub_mapping(config, f"{PROJECT}:platform", "config")
        for up in todo:
            stackfile.set_scalar(platform_map, up.key, up.patch)
        return [f"platform.{up.key}: {up.current} -> {up.patch}" for up in todo]

    return edit.apply(args, mutate)
