"""Progress for anything slower than ~2 s: a line saying what runs, then the result and the time.

    with progress.step("preview dev (offline, under mocks)") as step:
        ...
        step.result = "42 resources"

prints `… preview dev (offline, under mocks)` when it starts and `✓ preview dev: 42 resources (3.1 s)`
(or `✗ ... failed (3.1 s)`) when it ends. Lines go to stderr by default, so a command's own output
on stdout (Markdown, JSON) stays clean. Colour only when the stream is a terminal and `NO_COLOR`
is unset (https://no-color.org: any non-empty value disables colour).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

_GREEN, _RED, _DIM, _RESET = "\033[32m", "\033[31m", "\033[2m", "\033[0m"


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Step:
    title: str
    result: str = ""


def _paint(text: str, colour: str, on: bool) -> str:
    return f"{colour}{text}{_RESET}" if on else text


@contextlib.contextmanager
def step(title: str, stream: TextIO | None = None) -> Iterator[Step]:
    """Announce `title`, run the body, then print its `result` (set by the body) and elapsed time."""
    out = stream if stream is not None else sys.stderr
    colour = use_colour(out)
    current = Step(title)
    print(_paint(f"… {title}", _DIM, colour), file=out, flush=True)
    start = time.perf_counter()
    try:
        yield current
    except BaseException:
        elapsed = time.perf_counter() - start
        print(_paint(f"✗ {title}: failed ({elapsed:.1f} s)", _RED, colour), file=out, flush=True)
        raise
    elapsed = time.perf_counter() - start
    done = f"{title}: {current.result}" if current.result else f"{title}: done"
    print(_paint(f"✓ {done} ({elapsed:.1f} s)", _GREEN, colour), file=out, flush=True)
