"""Render several stack configs at once, one process each.

The offline engine drives Pulumi's runtime, which keeps its state in module globals (the
settings, the mock monitor, the root resource), so two renders cannot share a process: threads
would interleave registrations. Each render gets a fresh `spawn`ed interpreter (no state
inherited from this one, and none of its imports to pay for here), and the machine's cores run
them side by side.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from model.settings import ConfigError


class RenderFailed(Exception):
    """A render's config was invalid: `index` says which job, the message is the ConfigError's."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def _render(job: tuple[str, dict[str, Any], str]) -> tuple[dict | None, str | None]:
    from delivery.plan import engine

    stack, config, project_dir = job
    try:
        return engine.render(stack, config, project_dir=Path(project_dir)).to_json(), None
    except ConfigError as exc:
        # The exception carries unpicklable parts (its registered resources): send its text.
        return None, str(exc)


def render_all(jobs: list[tuple[str, dict[str, Any]]], project_dir: Path) -> list[dict]:
    """The plans (as plan.json dicts) of `[(stack, config), ...]`, in order; RenderFailed on invalid config."""
    work = [(stack, config, str(project_dir)) for stack, config in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(work), mp_context=context) as pool:
        results = list(pool.map(_render, work))
    for index, (_, error) in enumerate(results):
        if error is not None:
            raise RenderFailed(index, error)
    return [plan for plan, _ in results if plan is not None]
