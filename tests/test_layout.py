"""The shape a maintainer relies on (issue 13): small files, no import cycles, layers that only
import downwards. A change that breaks the shape fails here, naming the file and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.project import PROJECT_DIR

PACKAGES = ("model", "components", "delivery", "policies")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (PROJECT_DIR / package).rglob("*.py"):
            if "venv" in path.relative_to(PROJECT_DIR).parts:
                continue
            name = ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Project modules `name` imports, at module level or inside functions."""
    path = MODULES[name]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


TEST_FILES = [p for p in (PROJECT_DIR / "tests").rglob("*.py") if "fixtures" not in p.parts]


@pytest.mark.parametrize("path", sorted([*MODULES.values(), PROJECT_DIR / "__main__.py", *TEST_FILES]), ids=str)
def test_no_source_file_is_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PROJECT_DIR)} has {lines} lines: split it by concern"


def test_no_import_cycles():
    # Depth-first search for a back edge; the cycle found is printed whole.
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        stack.append(name)
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                cycle = stack[stack.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


# Who may import whom: model is pure Python for program, CLI and policies; the CLI's layers
# import downwards only (commands -> release/plan -> stack/clients), never a command.
FORBIDDEN = {
    "model": ("components", "delivery", "policies"),
    "components": ("delivery", "policies"),
    "policies": ("components", "delivery"),
    "delivery.clients": ("delivery.commands", "delivery.release", "delivery.plan", "delivery.stack"),
    "delivery.stack": ("delivery.commands", "delivery.release", "delivery.plan"),
    "delivery.release": ("delivery.commands",),
    "delivery.plan": ("delivery.commands",),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_downwards_only(layer):
    wrong = [
        f"{name} imports {target}"
        for name in sorted(GRAPH)
        if name == layer or name.startswith(layer + ".")
        for target in sorted(GRAPH[name])
        if any(target == f or target.startswith(f + ".") for f in FORBIDDEN[layer])
    ]
    assert not wrong, "\n".join(wrong)


def test_commands_do_not_import_each_other():
    # A command is arguments and printing; what two commands share lives in `common` or below.
    wrong = [
        f"{name} imports {target}"
        for name in sorted(GRAPH)
        if name.startswith("delivery.commands.")
        for target in sorted(GRAPH[name])
        if target.startswith("delivery.commands.") and target != "delivery.commands.common"
    ]
    assert not wrong, "\n".join(wrong)
