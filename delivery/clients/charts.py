"""Helm chart repositories: read `<repo>/index.yaml`, the versions each chart publishes."""

from __future__ import annotations

import re

import yaml

from delivery.clients import http
from delivery.errors import UnavailableError

TIMEOUT = 30.0
# The big repositories' indexes are megabytes (prometheus-community's is ~20 MB).
MAX_INDEX = 64 * 1024 * 1024


MAX_DEPTH = 64
_DEEP_INDENT = re.compile(rb"(?m)^[ \t-]{256,}")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def _too_deep(body: bytes) -> bool:
    """Whether `body` nests deeper than any index does. libyaml recurses per level: a hostile
    index of 100k nested `[` overflows the C stack (a segfault, not an exception)."""
    if _DEEP_INDENT.search(body):
        return True
    depth = 0
    for c in body.translate(None, _NOT_BRACKETS):
        depth += 1 if c in b"[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def fetch_index(url: str, timeout: float = TIMEOUT) -> dict[str, list[str]]:
    """chart name -> versions, from `<url>/index.yaml`."""
    index_url = url.rstrip("/") + "/index.yaml"
    shown = http.redact(index_url)
    answer = http.get(index_url, where=f"chart repository {http.redact(url)}", timeout=timeout, max_body=MAX_INDEX)
    if answer.status != 200:
        raise UnavailableError(f"cannot read {shown}: HTTP {answer.status}")
    if _too_deep(answer.body):
        raise UnavailableError(f"{shown} is not a Helm repository index: nested more than {MAX_DEPTH} levels")
    try:
        # The C loader when PyYAML has it: a pure-Python load of a big index takes seconds.
        doc = yaml.load(answer.body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise UnavailableError(f"{shown} is not a Helm repository index: {problem}") from None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise UnavailableError(f"{shown} is not a Helm repository index: no `entries` mapping")
    # A version is a string in an index Helm writes; anything else (a YAML float such as 1.10
    # read as 1.1, a mapping) is not a version this tool can compare, so it is left out.
    return {
        str(chart): [e["version"] for e in versions if isinstance(e, dict) and isinstance(e.get("version"), str)]
        for chart, versions in entries.items()
        if isinstance(versions, list)
    }
