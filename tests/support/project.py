"""Where the repository is, and the one git helper tests use to build throwaway repositories."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
REFERENCE_DIR = Path(os.environ.get("ISTIO_CANARY_REFERENCE", PROJECT_DIR.parent / "shared" / "reference"))
# What `pulumi up` runs: a copy of these is a working program.
PROGRAM = ("__main__.py", "Pulumi.yaml", "model", "components", "delivery", "policies", "dashboards")

# The dev stack's podinfo, pinned to a known starting point so a release PR that moves the real
# file's weights or tags does not break these tests (the rest of the file is taken as it is).
PODINFO = {
    "ga": 'ga: {tag: 6.13.0, track: "6.13.x", replicas: 2}',
    "canary": 'canary: {tag: 6.14.1, track: "6.14.x", replicas: 1}',
    "weights": "weights: {ga: 90, canary: 10}",
}


def pin(text: str, key: str, line: str) -> str:
    """`text` (a stack file) with the first app's flow mapping `key: {...}` replaced by `line`."""
    pattern = re.compile(rf"^(      ){key}: \{{[^\n]*\}}$", re.M)
    assert len(pattern.findall(text)) >= 1, f"Pulumi.dev.yaml changed layout: no flow mapping `{key}:` under apps"
    return pattern.sub(lambda m: m.group(1) + line, text, count=1)


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` as a fixed test identity; its stdout. Fails the test on a git error."""
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
