"""Shared fixtures: plans of the real program, rendered once per session under mocks.

The plans come from the fixture stacks in tests/fixtures/, never from the live `Pulumi.<stack>.yaml`
files: those are the users' data, edited by every release PR (tests/delivery/stack/test_live_stacks.py checks them
only for invariants that hold in any release state)."""

from __future__ import annotations

import copy
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# The repository root on sys.path: the program's packages and tests.support import from it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delivery import stack  # noqa: E402
from delivery.plan import engine  # noqa: E402
from tests.support.project import FIXTURES_DIR, REFERENCE_DIR, TEAM_DIR  # noqa: E402

# Fixtures shared by the test files of one directory live beside them in a support module and are
# registered here: a second conftest.py would shadow this one's `from conftest import reference_file`.
pytest_plugins = [
    "tests.support.canary_scenarios",  # a real Prometheus serving canary scenarios
    "tests.support.stack_edits",  # commands editing copies of the fixture stack files
    "tests.components.support.platform",  # a second platform configuration
    "tests.policies.support.plans",  # the dev plan as JSON to mutate
]


@pytest.fixture(scope="session")
def dev_config() -> dict:
    return stack.load_config("dev", FIXTURES_DIR)


@pytest.fixture(scope="session")
def dev_plan() -> engine.Plan:
    return engine.render("dev", stack_dir=FIXTURES_DIR)


@pytest.fixture(scope="session")
def local_plan() -> engine.Plan:
    return engine.render("local", stack_dir=FIXTURES_DIR)


@pytest.fixture(scope="session")
def team_config() -> dict:
    """A team's own services, none of them podinfo: every app key used once (tests/fixtures/team)."""
    return stack.load_config("team", TEAM_DIR)


@pytest.fixture(scope="session")
def team_plan() -> engine.Plan:
    return engine.render("team", stack_dir=TEAM_DIR)


@pytest.fixture(scope="session")
def render_config(dev_config) -> Callable[[Callable[[dict], None]], engine.Plan]:
    """Render the dev fixture stack after `mutate(config)` edits a deep copy of its config."""

    def render(mutate: Callable[[dict], None], stack: str = "dev") -> engine.Plan:
        config = copy.deepcopy(dev_config if stack == "dev" else stack.load_config(stack, FIXTURES_DIR))
        mutate(config)
        return engine.render(stack, config)

    return render


@pytest.fixture
def fixture_project(tmp_path) -> Path:
    """A scratch project directory holding copies of the fixture stack files, for commands that edit them."""
    for path in FIXTURES_DIR.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE_DIR


def reference_file(relative: str) -> Path:
    """A file of ../shared/reference, or a skip that names the missing path."""
    path = REFERENCE_DIR / relative
    if not path.is_file():
        pytest.skip(f"upstream reference {path} is absent (it ships in shared/reference beside the repo)")
    return path
