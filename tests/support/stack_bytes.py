"""Stack-file bytes for the hardening tests: the fixture dev stack, a writer, a promote edit."""

from __future__ import annotations

from pathlib import Path

from delivery import stack
from tests.support.project import FIXTURES_DIR

DEV = (FIXTURES_DIR / "Pulumi.dev.yaml").read_bytes()


def write(tmp_path: Path, data: bytes, name: str = "Pulumi.dev.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def promote_to(canary: int):
    def mutate(config):
        stack.set_weights(stack.require_weighted(config, "podinfo", "promote"), "podinfo", canary)

    return mutate
