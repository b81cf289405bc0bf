"""How every delivery command reports bad input: one line naming what is wrong, exit code 2."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input (a config key, an argument, a missing file): exit 2, no traceback."""


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE
