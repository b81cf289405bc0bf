"""The one way every message, table and PR comment writes a traffic split: `GA 90 / canary 10`.

Slashes alone (`90/10`) read both ways round; naming the sides does not.
"""

from __future__ import annotations


def split(ga: int, canary: int) -> str:
    """`GA 90 / canary 10`."""
    return f"GA {ga} / canary {canary}"


def shift(old: tuple[int, int], new: tuple[int, int]) -> str:
    """`GA 90 / canary 10 -> GA 40 / canary 60`: (ga, canary) before and after."""
    return f"{split(*old)} -> {split(*new)}"
