"""`pip install -e .` gives an `istio-canary` command that works from any directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.support.project import FIXTURES_DIR, PROJECT_DIR

pytestmark = pytest.mark.slow  # builds a venv and an editable install (a few seconds, no download)


@pytest.fixture(scope="module")
def istio_canary(tmp_path_factory) -> Path:
    """The console script of an editable install into a throwaway venv that borrows this venv's packages."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    # This venv's packages (pip, setuptools, wheel, Pulumi...) without copying or downloading them.
    Path(site, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(PROJECT_DIR),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    script = root / "bin" / "istio-canary"
    assert script.is_file()
    return script


def test_istio_canary_help_runs_from_another_directory(istio_canary, tmp_path):
    done = subprocess.run([istio_canary, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: istio-canary")
    for command in ("preview", "diff", "graph", "status", "promote", "set-tag", "changed-stacks"):
        assert command in done.stdout


def test_istio_canary_works_on_the_pulumi_project_of_the_current_directory(istio_canary, tmp_path):
    for path in FIXTURES_DIR.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "Pulumi.yaml").write_text("name: istio-canary\nruntime: python\n")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no Pulumi CLI
    done = subprocess.run([istio_canary, "status", "--json"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    podinfo = next(a for a in json.loads(done.stdout)["stacks"][0]["apps"] if a["name"] == "podinfo")
    assert podinfo["weights"] == {"ga": 90, "canary": 10}  # the fixture's, not this checkout's live stack


def test_outside_a_pulumi_project_istio_canary_uses_its_own_checkout(istio_canary, tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run([istio_canary, "status", "--all"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    live = sorted(p.name for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
    assert all(f"({name})" in done.stdout for name in live)
