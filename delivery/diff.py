"""Plan diff of a stack between a git ref and the work tree, in Markdown for a PR comment.

The stack file `Pulumi.<stack>.yaml` is read twice: as of `--base` (`git show REF:...`)
and as it is in the work tree. Both configs are rendered offline with the program code
of the WORK TREE, so the diff shows what the config edit does, not what code edits do.
It lists the resources added, removed and changed, and for each change the input paths
with old -> new values. Secrets are never printed: plans carry them as "[secret]".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from delivery import engine, gitref
from delivery.errors import EXIT_OK, UsageError, fail

HELP = "plan diff of a stack between a git ref and the work tree (Markdown)"
MAX_VALUE = 80
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
        if self.type == "kubernetes:helm.sh/v3:Release":
            watched = _HELM_REPLACE_PATHS
        elif self.type.startswith("kubernetes:"):
            watched = _K8S_REPLACE_PATHS
        else:
            return False
        return any(c.path == p or c.path.startswith(p + ".") or c.path.startswith(p + "[")
                   for c in self.changes for p in watched)


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
            out += value_changes(old[i] if i < len(old) else ABSENT, new[i] if i < len(new) else ABSENT,
                                 _join(prefix, i))
        return out
    return [] if old == new else [Change(prefix or "(value)", old, new)]


# The reusable part: the benchmark and the blast-radius tests compare plans with it.
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


# --- Markdown -----------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value == ABSENT:
        return "_absent_"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    return "`" + text.replace("|", "\\|").replace("`", "'").replace("\n", " ") + "`"


def _resource_line(r: dict) -> str:
    return f"| `{r['name']}` | `{r['type']}` |"


def to_markdown(diff: PlanDiff, stack: str, base: str) -> str:
    lines = [f"### Plan diff for stack `{stack}`: `{base}` → work tree", ""]
    summary = (f"**{len(diff.changed)} to change** ({len(diff.replaced)} to replace), "
               f"**{len(diff.added)} to add**, **{len(diff.removed)} to remove**, {diff.unchanged} unchanged.")
    lines.append(summary)
    if diff.empty:
        lines += ["", "No resource or output changes."]
    for title, resources in (("Added", diff.added), ("Removed", diff.removed)):
        if resources:
            lines += ["", f"#### {title}", "", "| Resource | Type |", "|---|---|"]
            lines += [_resource_line(r) for r in resources]
    if diff.changed:
        lines += ["", "#### Changed"]
        for change in diff.changed:
            verb = " (**replace**)" if change.replaces else ""
            lines += ["", f"`{change.name}` (`{change.type}`){verb}", "", "| Input | Old | New |", "|---|---|---|"]
            lines += [f"| `{c.path}` | {_cell(c.old)} | {_cell(c.new)} |" for c in change.changes]
    if diff.outputs:
        lines += ["", "#### Outputs", "", "| Output | Old | New |", "|---|---|---|"]
        lines += [f"| `{c.path}` | {_cell(c.old)} | {_cell(c.new)} |" for c in diff.outputs]
    lines += ["", "<sub>Rendered offline under mocks; program code from the work tree for both sides.</sub>"]
    return "\n".join(lines) + "\n"


# --- command ------------------------------------------------------------------------------

def base_stack_config(stack: str, ref: str) -> dict:
    """The `config:` of `Pulumi.<stack>.yaml` as of git `ref`."""
    filename = f"Pulumi.{stack}.yaml"
    text = gitref.file_at(engine.stack_config_dir(), ref, filename)
    if text is None:
        raise UsageError(f"{filename} does not exist at {ref!r}: the stack is new, nothing to diff against")
    return engine.config_from_text(text, f"{filename} at {ref}")


def add_arguments(parser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: diffs Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--base", default="HEAD",
                        help="git ref for the old side (default: HEAD). Only the stack file is taken from it: "
                             "both sides run the program code of the work tree")


def run(args) -> int:
    from components.settings import ConfigError

    filename = f"Pulumi.{args.stack}.yaml"
    try:
        new_config = engine.load_stack_config(args.stack)
        old_config = base_stack_config(args.stack, args.base)
    except (engine.StackFileError, UsageError) as exc:
        return fail(str(exc))
    plans = []
    for side, config in ((f"{filename} at {args.base}", old_config), (filename, new_config)):
        try:
            plans.append(engine.render(args.stack, config))
        except ConfigError as exc:
            return fail(f"{side}: {exc}")
    print(to_markdown(compare(*plans), args.stack, args.base), end="")
    return EXIT_OK
