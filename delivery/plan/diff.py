"""What changes between two plans: resources added, removed and changed, with input paths.

The `diff` command, the benchmark and the blast-radius tests compare plans with `compare`;
`delivery/plan/markdown.py` prints the result for a PR comment. Secrets are never shown:
plans carry them as "[secret]".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def _resources(plan: engine.Plan | dict) -> list[dict]:
    return plan.resources if isinstance(plan, engine.Plan) else plan["resources"]


def _outputs(plan: engine.Plan | dict) -> dict:
    return plan.outputs if isinstance(plan, engine.Plan) else plan.get("outputs", {})


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
