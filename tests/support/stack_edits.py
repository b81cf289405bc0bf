"""Commands that edit stack files, run on a scratch copy of the fixture stacks: each edit is
asserted as the exact resulting text, the original with only the edited values changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery.__main__ import main
from tests.support.project import PODINFO


@pytest.fixture
def project(fixture_project: Path) -> Path:
    text = (fixture_project / "Pulumi.dev.yaml").read_text()
    assert all(line in text for line in PODINFO.values()), "tests/fixtures/Pulumi.dev.yaml lost its podinfo lines"
    return fixture_project


@pytest.fixture
def delivery(project, capsys):
    """Run `python -m delivery ARGS --project-dir <tmp>`: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--project-dir", str(project)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def dev(project: Path) -> str:
    return (project / "Pulumi.dev.yaml").read_text()


def changed(original: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert original.count(old) == 1, old
        original = original.replace(old, new)
    return original
