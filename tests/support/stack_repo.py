"""A throwaway git repository holding one stack file, whose commits carry the dates a test sets:
what `check` and `autopilot` read history from.

Apps are weighted podinfo apps in namespace `shop`, named after the traffic scenario the test's
Prometheus serves for `<app>-canary` and `<app>-ga` (see tests/support/canary_scenarios.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.project import git

NAMESPACE = "shop"
STACK = "auto"
GA_TAG, NEW_TAG = "6.13.0", "6.14.1"


def app(canary: int = 0, canary_tag: str = NEW_TAG, ga_tag: str = GA_TAG, **extra: Any) -> dict[str, Any]:
    return {
        "namespace": NAMESPACE,
        "strategy": "weighted",
        "image": "ghcr.io/stefanprodan/podinfo",
        "ga": {"tag": ga_tag},
        "canary": {"tag": canary_tag},
        "weights": {"ga": 100 - canary, "canary": canary},
        **extra,
    }


def stack_text(apps: dict[str, dict], delivery: dict | None = None) -> str:
    config: dict[str, Any] = {
        "istio-canary:cluster": {"provider": "existing", "context": "kind-test"},
        "istio-canary:apps": apps,
    }
    if delivery:
        config["istio-canary:delivery"] = delivery
    return "# autopilot test stack\n" + yaml.safe_dump({"config": config}, sort_keys=False)


class StackRepo:
    """`Pulumi.auto.yaml` in a git repository on branch `main`."""

    def __init__(self, path: Path):
        if shutil.which("git") is None:
            pytest.skip("git not found: apt-get install git")
        self.path = path
        self.file = path / f"Pulumi.{STACK}.yaml"
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, when: int | None = None) -> str:
        return git(self.path, *args, when=when)

    def commit(self, when: int, message: str, text: str | None = None) -> str:
        """Commit the stack file (with `text`, when given) dated `when`; returns the sha."""
        if text is not None:
            self.file.write_text(text)
        self.git("add", self.file.name)
        self.git("commit", "-q", "--allow-empty", "-m", message, when=when)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def log(self) -> list[str]:
        return self.git("log", "--format=%h %ct %s").splitlines()
