"""The plan's dependency graph as Mermaid or Graphviz dot: what waits for what on a first `pulumi up`.

Nodes are the plan's resources (custom resources and reads); each ComponentResource is a
cluster (Mermaid `subgraph`, dot `subgraph cluster_*`) holding its children, nested as the
components are. An edge `A --> B` means A waits for B: B is in A's `dependencies` (a solid
edge) or B is A's provider (a dotted edge). A dependency on a component means, as in Pulumi,
waiting for every resource inside it, so it is drawn to each of them. The stack root is not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Graph:
    nodes: dict[str, dict] = field(default_factory=dict)  # urn -> resource
    clusters: dict[str, dict] = field(default_factory=dict)  # urn -> component resource
    children: dict[str | None, list[str]] = field(default_factory=dict)  # cluster urn (None: top) -> urns
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from urn, to urn, "dependency"|"provider")
    ids: dict[str, str] = field(default_factory=dict)  # urn -> short identifier


def build(plan: dict) -> Graph:
    """The graph of a plan.json dict (`Plan.to_json()`)."""
    resources = plan["resources"]
    by_urn = {r["urn"]: r for r in resources}
    graph = Graph()
    for r in resources:
        if r["type"] == STACK_TYPE:
            continue
        graph.ids[r["urn"]] = f"n{len(graph.ids)}"
        (graph.clusters if not r.get("custom") else graph.nodes)[r["urn"]] = r
        parent = r.get("parent")
        holder = parent if parent in by_urn and by_urn[parent]["type"] != STACK_TYPE else None
        graph.children.setdefault(holder, []).append(r["urn"])

    def inside(urn: str) -> list[str]:
        """The resources a dependency on `urn` waits for: itself, or every resource inside a component."""
        if urn in graph.nodes:
            return [urn]
        return [leaf for kid in graph.children.get(urn, []) for leaf in inside(kid)]

    seen = set()
    for urn, r in graph.nodes.items():
        targets = [(d, "dependency") for d in r.get("dependencies") or [] for d in inside(d) if d in by_urn]
        if r.get("provider") in graph.nodes:
            targets.append((r["provider"], "provider"))
        for target, kind in targets:
            if target != urn and (urn, target) not in seen:
                seen.add((urn, target))
                graph.edges.append((urn, target, kind))
    return graph


def _label(r: dict) -> str:
    """`istiod` over `helm.sh/v3:Release`: the name and the type without its package."""
    kind = r["type"].split(":", 1)[-1]
    return f"{r['name']}\n{kind}"


def to_mermaid(plan: dict) -> str:
    graph = build(plan)
    lines = ["flowchart LR"]

    def quoted(text: str) -> str:
        return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'

    def emit(holder: str | None, indent: str) -> None:
        for urn in graph.children.get(holder, []):
            if urn in graph.clusters:
                lines.append(f"{indent}subgraph {graph.ids[urn]}[{quoted(_label(graph.clusters[urn]))}]")
                emit(urn, indent + "  ")
                lines.append(f"{indent}end")
            else:
                lines.append(f"{indent}{graph.ids[urn]}[{quoted(_label(graph.nodes[urn]))}]")

    emit(None, "  ")
    for source, target, kind in graph.edges:
        arrow = "-->" if kind == "dependency" else "-.->"
        lines.append(f"  {graph.ids[source]} {arrow} {graph.ids[target]}")
    return "\n".join(lines) + "\n"


def to_dot(plan: dict) -> str:
    graph = build(plan)
    lines = [
        "digraph plan {",
        "  rankdir=LR;",
        '  node [shape=box, fontname="Helvetica", fontsize=10];',
        '  graph [fontname="Helvetica", fontsize=11];',
    ]

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    def emit(holder: str | None, indent: str) -> None:
        for urn in graph.children.get(holder, []):
            if urn in graph.clusters:
                lines.append(f"{indent}subgraph cluster_{graph.ids[urn]} {{")
                lines.append(f"{indent}  label={quoted(_label(graph.clusters[urn]))};")
                emit(urn, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                lines.append(f"{indent}{graph.ids[urn]} [label={quoted(_label(graph.nodes[urn]))}];")

    emit(None, "  ")
    for source, target, kind in graph.edges:
        style = "" if kind == "dependency" else " [style=dotted]"
        lines.append(f"  {graph.ids[source]} -> {graph.ids[target]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"
