"""A plan diff in Markdown, for the pull-request comment of `python -m delivery diff`."""

from __future__ import annotations

import json
from typing import Any

from delivery.plan.diff import ABSENT, PlanDiff, TrafficChange
from model import weights

MAX_VALUE = 80


def _cell(value: Any) -> str:
    if value == ABSENT:
        return "_absent_"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    return "`" + text.replace("|", "\\|").replace("`", "'").replace("\n", " ") + "`"


def _resource_line(r: dict) -> str:
    return f"| `{r['name']}` | `{r['type']}` |"


def _split(split: tuple[int, int] | None) -> str:
    return "not a weighted app" if split is None else weights.split(*split)


def to_markdown(diff: PlanDiff, stack: str, base: str, traffic: list[TrafficChange] | None = None) -> str:
    lines = [f"### Plan diff for stack `{stack}`: `{base}` → work tree", ""]
    for split in traffic or []:
        lines.append(f"**Traffic** `{split.app}`: {_split(split.old)} → {_split(split.new)}  ")
    if traffic:
        lines.append("")
    summary = (
        f"**{len(diff.changed)} to change** ({len(diff.replaced)} to replace), "
        f"**{len(diff.added)} to add**, **{len(diff.removed)} to remove**, {diff.unchanged} unchanged."
    )
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
