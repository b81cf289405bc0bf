"""`make` alone is the adopter's index: every target with one line, and the variables it reads."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.project import PROJECT_DIR


@pytest.mark.slow
def test_make_alone_lists_every_target_and_the_variables():
    if shutil.which("make") is None:
        pytest.skip("make not found: apt-get install make")
    makefile = (PROJECT_DIR / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:")).split()[1:]
    result = subprocess.run(
        ["make", "--no-print-directory"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    for target in phony:
        assert len(listed.get(target, "").split()) > 1, f"`make` lists no description for {target}"
    assert "STACK" in listed and "PYTHON" in listed
