"""Shared fixtures: plans of the real program, rendered once per session under mocks."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# The repository root on sys.path: the program's packages and tests.support import from it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delivery import stack as stack_file  # noqa: E402
from delivery.plan import engine  # noqa: E402
from tests.support.project import REFERENCE_DIR  # noqa: E402


@pytest.fixture(scope="session")
def dev_config() -> dict:
    return stack_file.load_config("dev")


@pytest.fixture(scope="session")
def dev_plan() -> engine.Plan:
    return engine.render("dev")


@pytest.fixture(scope="session")
def local_plan() -> engine.Plan:
    return engine.render("local")


@pytest.fixture(scope="session")
def render_config(dev_config) -> Callable[[Callable[[dict], None]], engine.Plan]:
    """Render the dev stack after `mutate(config)` edits a deep copy of its config."""

    def render(mutate: Callable[[dict], None], stack: str = "dev") -> engine.Plan:
        config = copy.deepcopy(dev_config if stack == "dev" else stack_file.load_config(stack))
        mutate(config)
        return engine.render(stack, config)

    return render


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE_DIR


def reference_file(relative: str) -> Path:
    """A file of ../shared/reference, or a skip that names the missing path."""
    path = REFERENCE_DIR / relative
    if not path.is_file():
        pytest.skip(f"upstream reference {path} is absent (it ships in shared/reference beside the repo)")
    return path
