"""What changes between two plans: resources added, removed and changed, with input paths.

The `diff` command, the benchmark and the blast-radius tests compare plans with `compare`;
`delivery/plan/markdown.py` prints the result for a PR comment. Secrets are never shown:
plans carry them as "[secret]".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from model.settings import Settings, WeightedApp

if TYPE_CHECKING:  # the diff command compares plan.json dicts without importing Pulumi
    from delivery.plan import engine

ABSENT = "(absent)"

# Input paths whose change makes Pulumi replace a Kubernetes object instead of updating it.
_K8S_REPLACE_PATHS = ("apiVersion", "kind", "metadata.name", "metadata.namespace", "spec.selector")
_HELM_REPLACE_PATHS = ("name", "namespace")


@dataclass
class Change:
    path: str
    old: Any
    new: Any


@dataclass
class ResourceChange:
    urn: str
    type: str
    name: str
    changes: list[Change]

    @property
    def replaces(self) -> bool:
        """Whether Pulumi would delete and recreate the object (known for Kubernetes objects and Helm releases)."""
        watched: tuple[str, ...]
        if self.type == "kubernetes:helm.sh/v3:Release":
            watched = _HELM_REPLACE_PATHS
        elif self.type.startswith("kubernetes:"):
            watched = _K8S_REPLACE_PATHS
        else:
            return False
        return any(
            c.path == p or c.path.startswith(p + ".") or c.path.startswith(p + "[")
            for c in self.changes
            for p in watched
        )


@dataclass
class PlanDiff:
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    unchanged: int = 0
    outputs: list[Change] = field(default_factory=list)

    @property
    def replaced(self) -> list[ResourceChange]:
        return [c for c in self.changed if c.replaces]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.outputs)

    def to_json(self) -> dict[str, Any]:
        """The `diff --json` body (keys in docs/reference/cli.md); a value absent on one side has no old/new key."""

        def change(c: Change) -> dict[str, Any]:
            return {"path": c.path, **{k: v for k, v in (("old", c.old), ("new", c.new)) if v != ABSENT}}

        def resource(r: dict) -> dict[str, Any]:
            return {"urn": r["urn"], "type": r["type"], "name": r["name"]}

        return {
            "summary": {
                "change": len(self.changed),
                "replace": len(self.replaced),
                "add": len(self.added),
                "remove": len(self.removed),
                "unchanged": self.unchanged,
            },
            "added": [resource(r) for r in self.added],
            "removed": [resource(r) for r in self.removed],
            "changed": [
                {**resource(vars(c)), "replaces": c.replaces, "changes": [change(x) for x in c.changes]}
                for c in self.changed
            ],
            "outputs": [change(c) for c in self.outputs],
        }


@dataclass(frozen=True)
class TrafficChange:
    """A weighted app's split before and after, as (ga, canary); None where the app is not weighted."""

    app: str
    old: tuple[int, int] | None
    new: tuple[int, int] | None

    def to_json(self) -> dict[str, Any]:
        def side(split: tuple[int, int] | None) -> dict[str, int] | None:
            return None if split is None else {"ga": split[0], "canary": split[1]}

        return {"app": self.app, "old": side(self.old), "new": side(self.new)}


def traffic_changes(old: Settings, new: Settings) -> list[TrafficChange]:
    """Every weighted app whose split the edit changes: what a release PR is about, said in words."""

    def splits(settings: Settings) -> dict[str, tuple[int, int]]:
        return {
            name: (app.weights.ga, app.weights.canary)
            for name, app in settings.apps.items()
            if isinstance(app, WeightedApp)
        }

    before, after = splits(old), splits(new)
    names = list(before) + [n for n in after if n not in before]
    return [TrafficChange(n, before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)]


def _resources(plan: engine.Plan | dict) -> list[dict]:
    return plan["resources"] if isinstance(plan, dict) else plan.resources


def _outputs(plan: engine.Plan | dict) -> dict:
    return plan.get("outputs", {}) if isinstance(plan, dict) else plan.outputs


def _join(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def value_changes(old: Any, new: Any, prefix: str = "") -> list[Change]:
    """Leaf-level differences between two JSON values, as dotted paths (`spec.http[0].route[1].weight`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Change] = []
        for key in list(old) + [k for k in new if k not in old]:
            out += value_changes(old.get(key, ABSENT), new.get(key, ABSENT), _join(prefix, key))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for i in range(max(len(old), len(new))):
            out += value_changes(
                old[i] if i < len(old) else ABSENT, new[i] if i < len(new) else ABSENT, _join(prefix, i)
            )
        return out
    return [] if old == new else [Change(prefix or "(value)", old, new)]


def compare(old_plan: engine.Plan | dict, new_plan: engine.Plan | dict) -> PlanDiff:
    """Resources added, removed and changed (by URN, on their inputs) from `old_plan` to `new_plan`.

    A renamed resource has a new URN: it shows as removed and added, which is what Pulumi does.
    """
    old = {r["urn"]: r for r in _resources(old_plan)}
    new = {r["urn"]: r for r in _resources(new_plan)}
    diff = PlanDiff(
        added=[r for urn, r in new.items() if urn not in old],
        removed=[r for urn, r in old.items() if urn not in new],
        outputs=value_changes(_outputs(old_plan), _outputs(new_plan)),
    )
    for urn, resource in new.items():
        if urn not in old:
            continue
        changes = value_changes(old[urn]["inputs"], resource["inputs"])
        if changes:
            diff.changed.append(ResourceChange(urn, resource["type"], resource["name"], changes))
        else:
            diff.unchanged += 1
    return diff
