"""Exit statuses and the one error type every delivery layer raises.

Commands and the layers below them raise a `DeliveryError` (or a subclass) carrying its
`ExitStatus`; `delivery/__main__.py` is the one place that prints `error: ...` and exits with it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # a check, gate or policy failed: the answer is "no"
    USAGE = 2  # bad input: an argument, a stack file, a config key
    UNAVAILABLE = 3  # a remote (Prometheus, a registry, a chart repository, git) could not answer


class DeliveryError(Exception):
    """A command cannot do what it was asked; `status` is the exit status it ends with."""

    status: ClassVar[ExitStatus] = ExitStatus.FAILED


class UsageError(DeliveryError):
    """Bad input (a config key, an argument, a missing file): exit 2, nothing changed."""

    status = ExitStatus.USAGE


class UnavailableError(DeliveryError):
    """A remote was unreachable, too slow, or answered something unusable: exit 3, nothing changed."""

    status = ExitStatus.UNAVAILABLE
