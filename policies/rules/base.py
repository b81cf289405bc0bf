"""What every rule module shares: the pack's levels and reading CrossGuard props safely.

Props are the SDK's read-only proxies: test with `Mapping`/`Sequence`, never `dict`/`list`;
numbers arrive as floats; an unknown value raises `UnknownValueError` when read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "istio-canary"
MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
# The pack's level for a policy that names none (every policy here names its own).
DEFAULT_ENFORCEMENT_LEVEL = MANDATORY


def _map(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence:
    return value if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else ()


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = _map(value).get(key)
    return value


def _text(value: Any) -> str | None:
    """A non-empty string, or None (for anything else, an unknown value included)."""
    return value if isinstance(value, str) and value else None


def _str_map(value: Any) -> dict[str, str]:
    """A label or selector map as plain strings (label values may arrive as numbers or booleans)."""
    return {str(k): _label_value(v) for k, v in _map(value).items()}


def _label_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Unknown:
    """A value a preview cannot know yet, in a stack policy's copy of the props."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def _known(fn: Callable[[], Any], default: Any = None) -> Any:
    """`fn()`, or `default` if it reads a value a preview cannot know yet."""
    try:
        return fn()
    except UnknownValueError:
        return default


def plain(value: Any) -> Any:
    """The SDK's read-only props as plain dicts and lists, with `UNKNOWN` for unknown values:
    a stack rule then judges every resource on what is known instead of stopping at the first
    unknown value anywhere in the stack."""
    if isinstance(value, Mapping):
        mapping = value
        return {key: plain(_known(partial(mapping.__getitem__, key), UNKNOWN)) for key in mapping}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = value
        return [plain(_known(partial(items.__getitem__, i), UNKNOWN)) for i in range(len(items))]
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _num(value: Any) -> str:
    """A number as the stack file would show it (the engine sends 90 as 90.0)."""
    return str(int(value)) if _is_int(value) else repr(value)


def _show(values: list) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"
