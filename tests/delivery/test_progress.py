"""Progress lines: plain text when not on a terminal or when NO_COLOR is set, colour on a terminal."""

from __future__ import annotations

import io
import os
import select

import pytest

from delivery import progress

ESC = "\033["


def _run_step(stream) -> None:
    with progress.step("preview dev", stream=stream) as step:
        step.result = "58 resources to create"


def test_progress_on_a_pipe_is_plain_text(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    _run_step(out)
    first, last = out.getvalue().splitlines()
    assert first == "… preview dev"
    assert last.startswith("✓ preview dev: 58 resources to create (") and last.endswith(" s)")
    assert ESC not in out.getvalue()


def _on_a_terminal() -> str:
    """What a step prints to a pseudo-terminal."""
    main, secondary = os.openpty()
    try:
        with os.fdopen(secondary, "w", closefd=False) as tty:
            assert tty.isatty()
            _run_step(tty)
        # A terminal hands out what was written in pieces: read until nothing more is waiting.
        chunks = []
        while select.select([main], [], [], 0.5)[0]:
            chunk = os.read(main, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(main)
        os.close(secondary)


def test_progress_on_a_terminal_is_coloured(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    text = _on_a_terminal()
    assert ESC + "32m✓ preview dev: 58 resources to create" in text and ESC + "0m" in text


def test_no_color_turns_colour_off_on_a_terminal(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    text = _on_a_terminal()
    assert "✓ preview dev: 58 resources to create" in text and ESC not in text


def test_a_failing_step_says_so_and_reraises(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    with pytest.raises(RuntimeError), progress.step("diff dev", stream=out):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1].startswith("✗ diff dev: failed (")
