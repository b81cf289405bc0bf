"""Semantic versions and Flux-style version ranges ("tracks").

Pure Python, no Pulumi: the settings validator, the image automation and the
PR checks all decide "is this tag inside its track?" with the same code.

A track is what Flux's image policies accept: an exact version (`6.13.0`),
a wildcard (`6.13.x`, `6.x`, `6.*`), comparators joined by spaces (`>=6.0.0 <7.0.0`),
tilde and caret ranges (`~6.13`, `^6.0.0`) and alternatives joined by `||`.
Pre-release versions are never inside a track unless the track names one
exactly, so a `7.0.0-rc.1` tag does not leak into a `>=6.0.0` track.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_PARTIAL = re.compile(r"^v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=|~|\^)?\s*(\S+)$")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """The version a tag names, or None when the tag is not semver."""
        m = _VERSION.match(text.strip())
        if not m:
            return None
        pre = tuple(m.group("pre").split(".")) if m.group("pre") else ()
        return cls(int(m.group("major")), int(m.group("minor")), int(m.group("patch")), pre)

    def _key(self) -> tuple:
        # A release sorts after its pre-releases; numeric identifiers sort numerically
        # and before alphanumeric ones (semver 2.0.0, section 11).
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre_key)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + ("-" + ".".join(self.pre) if self.pre else "")


@dataclass(frozen=True)
class _Bound:
    op: str  # one of >= > <= < =
    version: Version

    def admits(self, v: Version) -> bool:
        return {
            ">=": v >= self.version,
            ">": v > self.version,
            "<=": v <= self.version,
            "<": v < self.version,
            "=": v == self.version,
        }[self.op]


class TrackError(ValueError):
    """A track that is not a version range."""


@dataclass(frozen=True)
class Track:
    text: str
    alternatives: tuple[tuple[_Bound, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Track:
        if not isinstance(text, str) or not text.strip():
            raise TrackError("a track must be a non-empty version range")
        alternatives = []
        for part in text.split("||"):
            tokens = _tokens(part)
            if not tokens:
                raise TrackError(f"empty alternative in {text!r}")
            bounds: list[_Bound] = []
            for token in tokens:
                bounds.extend(_expand(token, text))
            alternatives.append(tuple(bounds))
        return cls(text, tuple(alternatives))

    def admits(self, version: Version) -> bool:
        for bounds in self.alternatives:
            if version.pre and not any(b.version.pre and b.op == "=" for b in bounds):
                continue
            if all(b.admits(version) for b in bounds):
                return True
        return False

    def admits_tag(self, tag: str) -> bool:
        version = Version.parse(tag)
        return version is not None and self.admits(version)

    def highest(self, tags: list[str]) -> str | None:
        """The tag with the highest version inside this track, if any."""
        inside = [(version, t) for t in tags if self.admits_tag(t) and (version := Version.parse(t)) is not None]
        return max(inside, key=lambda pair: pair[0])[1] if inside else None

    def __str__(self) -> str:
        return self.text


def _tokens(part: str) -> list[str]:
    # ">= 6.0.0" is one comparator: glue a bare operator to the version after it.
    raw = part.split()
    out: list[str] = []
    for token in raw:
        if out and out[-1] in (">=", "<=", ">", "<", "=", "~", "^"):
            out[-1] += token
        else:
            out.append(token)
    return out


def _expand(token: str, whole: str) -> list[_Bound]:
    m = _COMPARATOR.match(token)
    if not m:
        raise TrackError(f"cannot read {token!r} in {whole!r}")
    op, ver = m.group(1) or "", m.group(2)
    exact = Version.parse(ver)
    if exact is not None and op in (">=", ">", "<=", "<", "="):
        return [_Bound(op, exact)]
    if exact is not None and op == "":
        return [_Bound("=", exact)]
    p = _PARTIAL.match(ver)
    if not p:
        raise TrackError(f"{token!r} in {whole!r} is not a version or a wildcard like 6.13.x")
    major = int(p.group(1))
    minor = p.group(2) if p.group(2) not in (None, "x", "X", "*") else None
    patch = p.group(3) if p.group(3) not in (None, "x", "X", "*") else None
    if minor is None and patch is not None:
        raise TrackError(f"{token!r} in {whole!r}: a wildcard minor needs a wildcard patch")
    minor_i = int(minor) if minor is not None else None
    patch_i = int(patch) if patch is not None else None
    low = Version(major, minor_i or 0, patch_i or 0)
    if op == "^":
        # ^6.2.3 := >=6.2.3 <7.0.0; ^0.2.3 := >=0.2.3 <0.3.0 (npm/Masterminds semantics).
        if major > 0 or minor_i is None:
            high = Version(major + 1, 0, 0)
        elif minor_i > 0 or patch_i is None:
            high = Version(0, minor_i + 1, 0)
        else:
            high = Version(0, 0, patch_i + 1)
        return [_Bound(">=", low), _Bound("<", high)]
    if op == "~":
        high = Version(major + 1, 0, 0) if minor_i is None else Version(major, minor_i + 1, 0)
        return [_Bound(">=", low), _Bound("<", high)]
    if op in ("", "="):
        if minor_i is None:
            return [_Bound(">=", low), _Bound("<", Version(major + 1, 0, 0))]
        if patch_i is None:
            return [_Bound(">=", low), _Bound("<", Version(major, minor_i + 1, 0))]
        return [_Bound("=", low)]
    raise TrackError(f"{token!r} in {whole!r}: use a full version with {op}")
