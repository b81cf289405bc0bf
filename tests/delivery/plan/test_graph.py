"""`graph`: the plan's dependency DAG as Mermaid or dot, components as clusters, rendered by Graphviz."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict

import pytest

from delivery.__main__ import main
from delivery.plan.graph import to_dot, to_mermaid
from tests.support.project import FIXTURES_DIR, PROJECT_DIR

NODE = re.compile(r'^\s*(n\d+)\["([^"<]+)<br/>[^"]*"\]$')
SUBGRAPH = re.compile(r'^\s*subgraph (n\d+)\["([^"<]+)<br/>[^"]*"\]$')
EDGE = re.compile(r"^\s*(n\d+) (-->|-\.->) (n\d+)$")


def parse_mermaid(text: str) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Edges by node name (A waits for B), and each node's innermost subgraph name."""
    names, cluster_of, edges = {}, {}, defaultdict(set)
    stack: list[str] = []
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    for line in lines[1:]:
        if m := SUBGRAPH.match(line):
            names[m.group(1)] = m.group(2)
            stack.append(m.group(2))
        elif line.strip() == "end":
            stack.pop()
        elif m := NODE.match(line):
            names[m.group(1)] = m.group(2)
            if stack:
                cluster_of[m.group(2)] = stack[-1]
        elif m := EDGE.match(line):
            edges[names[m.group(1)]].add(names[m.group(3)])
        else:
            raise AssertionError(f"not a Mermaid line this graph writes: {line!r}")
    assert not stack, "unclosed subgraph"
    return edges, cluster_of


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.fixture(scope="module")
def mermaid(dev_plan):
    return parse_mermaid(to_mermaid(dev_plan.to_json()))


def test_graph_shows_istiod_waiting_for_istio_base(mermaid):
    edges, _ = mermaid
    assert "istio-base" in edges["istiod"]
    assert "istiod" in edges["istio-gateway"]


def test_graph_gives_prometheus_no_path_to_istio(mermaid):
    edges, _ = mermaid
    after_prometheus = reachable(edges, "prometheus")
    assert after_prometheus, "prometheus waits for nothing at all? (its namespace, the cluster)"
    assert not {"istio-base", "istiod", "istio-gateway"} & after_prometheus


def test_graph_draws_components_as_clusters(mermaid):
    _, cluster_of = mermaid
    assert cluster_of["istiod"] == cluster_of["istio-base"] == "mesh"
    assert cluster_of["prometheus"] == "observability"
    assert cluster_of["cluster-pool"] == "cluster"


def test_graph_has_no_stack_root_and_no_component_nodes(dev_plan):
    text = to_mermaid(dev_plan.to_json())
    assert "pulumi:Stack" not in text
    names = {m.group(2) for m in map(NODE.match, text.splitlines()) if m}
    assert names == {r["name"] for r in dev_plan.resources if r.get("custom")}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed: apt-get install graphviz")
def test_dot_output_is_accepted_by_graphviz(dev_plan):
    done = subprocess.run(["dot", "-Tsvg"], input=to_dot(dev_plan.to_json()), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith("<?xml") and "cluster_" in done.stdout and "istiod" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed: apt-get install graphviz")
def test_graph_command_renders_svg(tmp_path):
    out = tmp_path / "plan.svg"
    done = subprocess.run(
        [sys.executable, "-m", "delivery", "graph", "--stack-dir", str(FIXTURES_DIR), "--output", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text().lstrip().startswith("<?xml") and f"wrote {out}" in done.stdout


def test_graph_svg_without_graphviz_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    assert main(["graph", "--output", str(tmp_path / "plan.svg")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and not (tmp_path / "plan.svg").exists()
