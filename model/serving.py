"""What serves an app's traffic: the one model of an app's identity that `check`, `autopilot` and
`images` judge releases by (never the app's name alone).

Per app: its strategy, namespace and service name, public hosts, image repository, and per side
the build it runs (`Build`: image reference and pod-spec fingerprint) with the share of traffic
it holds. A weighted app has two sides, `ga` and `canary`; a Flagger app (canary/ab) has one,
its primary, which Flagger's first rollout initialises without analysis.

The pod spec is read GENERICALLY from the parsed app model: every key of the app and of its side
except those that are release positions or routing (`NOT_POD_SPEC`, `SIDE_NOT_POD_SPEC`). A key
the app model gains (env, args, resources, probes, ...) is part of the fingerprint by default, so
changing it is a new build, with no change here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from model.settings.fields import DIGEST
from model.settings.schema import STRATEGIES, App, WeightedApp

# App keys that are not what a pod runs: identity and routing (namespace, hosts, strategy), release
# positions (weights, the sides' tags, which `Build.ref` holds), Flagger's or the load tester's
# settings, and autopilot's switch.
NOT_POD_SPEC = frozenset(
    {"namespace", "strategy", "hosts", "weights", "ga", "canary", "tag", "track", "autopilot", "loadtest"}
    | {"analysis", "match"}
)
# Side keys that are not what a pod runs: where the tag may move (track), and how many pods (scale).
SIDE_NOT_POD_SPEC = frozenset({"tag", "track", "replicas"})
PRIMARY = ""  # the side name of a Flagger app's single tag


@dataclass(frozen=True)
class Build:
    """What one side's pods run: `repository:tag` (or `@sha256:...`) and the rest of the pod spec."""

    image: str
    tag: str
    pod: tuple[tuple[str, str], ...] = ()  # (key path, JSON value), sorted

    @property
    def ref(self) -> str:
        return f"{self.image}@{self.tag}" if DIGEST.fullmatch(self.tag) else f"{self.image}:{self.tag}"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.ref, self.pod]).encode()).hexdigest()[:12]

    def same_as(self, other: Build | None) -> bool:
        """The same image reference and the same pod spec. Keys only one side's strategy has (a
        strategy switch) are not compared: they are not the same key of the pod."""
        if other is None or self.ref != other.ref:
            return False
        mine, theirs = dict(self.pod), dict(other.pod)
        return all(mine[key] == theirs[key] for key in mine.keys() & theirs.keys())

    def describe(self) -> str:
        return self.ref


@dataclass(frozen=True)
class Serving:
    """One app as the cluster serves it."""

    name: str
    namespace: str
    strategy: str
    image: str
    hosts: frozenset[str]
    builds: Mapping[str, Build]  # "ga"/"canary", or PRIMARY for a Flagger app
    weights: Mapping[str, int] = field(default_factory=dict)  # share of traffic per side
    checks: str = ""  # a Flagger app's analysis and match, as JSON: what judges its next build

    @property
    def weighted(self) -> bool:
        return self.strategy == "weighted"

    @property
    def baseline(self) -> Build:
        """The build that serves everyone not sent to a canary: GA, or a Flagger app's primary."""
        return self.builds["ga" if self.weighted else PRIMARY]

    @property
    def canary(self) -> Build | None:
        return self.builds.get("canary")

    @property
    def canary_weight(self) -> int:
        return self.weights.get("canary", 0)

    @property
    def service(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _pod(app: App, side: Any) -> tuple[tuple[str, str], ...]:
    fields = app.model_dump(mode="json", by_alias=True, exclude=set(NOT_POD_SPEC))
    side_fields = side.model_dump(mode="json", by_alias=True, exclude=set(SIDE_NOT_POD_SPEC))
    pod = {key: _json(value) for key, value in fields.items()}
    pod.update({f"side.{key}": _json(value) for key, value in side_fields.items()})
    return tuple(sorted(pod.items()))


def serving(name: str, app: App) -> Serving:
    builds = {side_name: Build(app.image, side.tag, _pod(app, side)) for side_name, side in app.sides().items()}
    checks = ""
    if isinstance(app, WeightedApp):
        weights = {"ga": app.weights.ga, "canary": app.weights.canary}
    else:
        weights = {PRIMARY: 100}
        checks = _json(app.model_dump(mode="json", by_alias=True, include={"analysis", "match"}))
    return Serving(name, app.namespace, app.strategy, app.image, frozenset(app.hosts), builds, weights, checks)


def serving_all(apps: Mapping[str, App]) -> dict[str, Serving]:
    return {name: serving(name, app) for name, app in apps.items()}


def from_raw(name: str, raw: Any) -> Serving | None:
    """An app of a raw `apps:` mapping, by today's model; None when today's rules refuse it (an old
    commit), so history never guesses what an unreadable app served."""
    if not isinstance(raw, Mapping) or raw.get("strategy") not in STRATEGIES:
        return None
    try:
        app = STRATEGIES[raw["strategy"]].model_validate(dict(raw))
    except (ValidationError, ValueError, TypeError):
        return None
    return serving(name, app)  # type: ignore[arg-type]


def predecessors(app: Serving, base: Mapping[str, Serving]) -> list[Serving]:
    """The base apps whose traffic `app` takes over: the app of the same name, every app that served
    one of its hosts, and, for an app the base does not know by name (renamed), the apps of its
    namespace that ran its image repository. Same name first."""
    found = [base[app.name]] if app.name in base else []
    for other in base.values():
        if other.name == app.name:
            continue
        if other.hosts & app.hosts or (
            app.name not in base and other.namespace == app.namespace and other.image == app.image
        ):
            found.append(other)
    return found
