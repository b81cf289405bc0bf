"""Where the repository and the fixture stacks are, and the one git helper tests use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The tests' own stack files: the live Pulumi.<stack>.yaml are users' data, edited by every release PR.
FIXTURES_DIR = PROJECT_DIR / "tests" / "fixtures"
REFERENCE_DIR = Path(os.environ.get("ISTIO_CANARY_REFERENCE", PROJECT_DIR.parent / "shared" / "reference"))
# What `pulumi up` runs: a copy of these is a working program.
PROGRAM = ("__main__.py", "Pulumi.yaml", "model", "components", "delivery", "policies", "dashboards")

# The fixture dev stack's podinfo (tests/fixtures/Pulumi.dev.yaml), the starting point of every edit.
PODINFO = {
    "ga": 'ga: {tag: 6.13.0, track: "6.13.x", replicas: 2}',
    "canary": 'canary: {tag: 6.14.1, track: "6.14.x", replicas: 1}',
    "weights": "weights: {ga: 90, canary: 10}",
}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` as a fixed test identity; its stdout. Fails the test on a git error, with git's message."""
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout
