"""The one YAML loader of stack files: every reader (preview, check, diff, status, gate, images,
autopilot) and the editor parse `Pulumi.<stack>.yaml` through `parse`, so they cannot disagree.

The rules (docs/reference/stack-files.md and docs/reference/configuration.md):
- UTF-8 only (a BOM is allowed and kept); one line-ending style per file (LF or CRLF);
- YAML 1.2 core schema (ruamel.yaml), one document, no `%YAML 1.1` directive;
- duplicate keys, merge keys (`<<`), complex keys and explicit tags are refused;
- plain scalars that YAML 1.1 and 1.2 read differently are refused, so the program (the Pulumi
  CLI reads YAML with Go's yaml.v3), the CLI and a reviewer all read one value: `yes`/`no`/`on`/
  `off`/`y`/`n`, numbers with a leading zero (`010`), `0x`/`0o`/`0b` prefixes, underscores
  (`1_000`), sexagesimal (`1:30`) and exponents (`1e3`); quote them to mean a string;
- at most `MAX_BYTES` bytes (a stack file is a few KiB; a larger one is a mistake, and every
  check after this one can then stay linear and quick);
- a key is a string: a plain key YAML resolves as a number, boolean or null (`123:`, `true:`,
  `~:`) is refused (quote it), so the editor (which keeps YAML's types) and the readers agree;
- at most `MAX_DEPTH` levels of nesting and `MAX_NODES` nodes with aliases expanded (a billion-
  laughs document is refused before anything walks it).
Every refusal is a `StackFileError` (exit 2) naming the source, the line and the key path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scalarbool import ScalarBoolean

from delivery.errors import UsageError

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 20_000
_BOM = "\ufeff"
_YAML11_BOOL = frozenset("y Y yes Yes YES n N no No NO on On ON off Off OFF".split())
_AMBIGUOUS_NUMBER = re.compile(
    r"[-+]?0[0-9_]+(\.[0-9_]*)?"  # leading zero: octal in YAML 1.1
    r"|[-+]?0[xXoObB][0-9a-fA-F_]+"  # 0x / 0o / 0b prefixes
    r"|[-+]?[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?"  # underscores
    r"|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?"  # sexagesimal: 1:30 is 90 in YAML 1.1
    r"|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)[eE][-+]?[0-9]+"  # exponent: a float in 1.2 only
)
_STR = "tag:yaml.org,2002:str"
# The resolver `parse` loads with (YAML 1.2 core schema): what type a plain key would get.
_resolver = YAML(typ="rt").resolver
_CORE_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq"))


class StackFileError(UsageError):
    """A stack file is missing, is not a stack config file, or holds invalid config: exit 2."""


@dataclass(frozen=True)
class Decoded:
    """A stack file's text with LF line endings, and how to write it back byte for byte."""

    text: str
    newline: str  # "\n" or "\r\n"
    bom: bool

    def encode(self, text: str) -> bytes:
        body = text.replace("\n", self.newline) if self.newline != "\n" else text
        return ((_BOM if self.bom else "") + body).encode("utf-8")


def decode(raw: bytes, source: str) -> Decoded:
    """The text of a stack file's bytes: UTF-8, one line-ending style, at most MAX_BYTES."""
    if len(raw) > MAX_BYTES:
        raise StackFileError(f"{source} is larger than {MAX_BYTES // 1024} KiB: not a stack file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StackFileError(
            f"{source} is not UTF-8 text (byte {exc.start} is {raw[exc.start : exc.start + 1]!r}): save it as UTF-8"
        ) from None
    bom = text.startswith(_BOM)
    text = text.removeprefix(_BOM)
    crlf = text.count("\r\n")
    if crlf:
        if text.count("\n") != crlf or text.count("\r") != crlf:
            raise StackFileError(f"{source} mixes CRLF and LF line endings: use one style in the whole file")
        return Decoded(text.replace("\r\n", "\n"), "\r\n", bom)
    if "\r" in text:
        raise StackFileError(f"{source} has bare CR line endings: use LF or CRLF")
    return Decoded(text, "\n", bom)


def _where(source: str, event: Any, path: list[str]) -> str:
    line = f":{event.start_mark.line + 1}" if event.start_mark is not None else ""
    return f"{source}{line}" + (f": {'.'.join(path)}" if path else "")


def _ambiguous(value: str) -> str | None:
    if value in _YAML11_BOOL:
        return f"{value!r} is a boolean in YAML 1.1 and a string in YAML 1.2: write true/false, or quote it"
    if _AMBIGUOUS_NUMBER.fullmatch(value):
        return f"{value!r} reads as a different number in YAML 1.1 and 1.2: quote it for a string, or write it plainly"
    return None


class _Frame:
    def __init__(self, path: list[str], is_map: bool):
        self.path, self.is_map = path, is_map
        self.key: str | None = None  # a mapping's pending key (None: the next node is a key)
        self.keys: set[str] = set()
        self.index = 0
        self.nodes = 1  # this collection and everything in it, aliases expanded
        self.anchor: str | None = None


def check(text: str, source: str) -> None:
    """Apply the rules above to `text` from its event stream (no recursion, no expansion)."""
    stack: list[_Frame] = []
    anchors: dict[str, int] = {}
    total, documents = 0, 0
    try:
        for event in YAML(typ="rt").parse(text):
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise StackFileError(f"{_where(source, event, [])}: one YAML document per stack file")
                if event.version not in (None, (1, 2)):
                    raise StackFileError(f"{_where(source, event, [])}: only YAML 1.2 (drop the %YAML directive)")
            if isinstance(event, CollectionEndEvent):
                done = stack.pop()
                if done.anchor:
                    anchors[done.anchor] = done.nodes
                if stack:
                    stack[-1].nodes += done.nodes
                    _advance(stack[-1])
                continue
            if not isinstance(event, NodeEvent):
                continue
            top = stack[-1] if stack else None
            is_key = top is not None and top.is_map and top.key is None
            path = (
                [] if top is None else top.path + ([] if is_key else [str(top.key) if top.is_map else str(top.index)])
            )
            size = anchors.get(event.anchor, 0) if isinstance(event, AliasEvent) else 1
            if isinstance(event, AliasEvent) and event.anchor not in anchors:
                raise StackFileError(f"{_where(source, event, path)}: alias *{event.anchor} to an unfinished node")
            total += size
            if total > MAX_NODES:
                raise StackFileError(f"{_where(source, event, path)}: more than {MAX_NODES} nodes (aliases expanded)")
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _CORE_TAGS and not (isinstance(event, ScalarEvent) and tag == "!"):
                raise StackFileError(f"{_where(source, event, path)}: explicit tag {tag} is not allowed")
            if isinstance(event, ScalarEvent) and event.style is None and tag is None:
                problem = _ambiguous(event.value)
                if problem and not is_key:
                    raise StackFileError(f"{_where(source, event, path)}: {problem}")
            if is_key:
                assert top is not None
                if not isinstance(event, ScalarEvent):
                    raise StackFileError(f"{_where(source, event, path)}: a key must be a plain string")
                if event.value == "<<" and event.style is None:
                    raise StackFileError(f"{_where(source, event, path)}: merge keys (<<) are not allowed")
                if event.style is None and _resolver.resolve(ScalarNode, event.value, (True, False)) != _STR:
                    raise StackFileError(
                        f"{_where(source, event, path)}: key {event.value!r} reads as a number, boolean or null: "
                        "a key must be a string (quote it)"
                    )
                if event.value in top.keys:
                    raise StackFileError(
                        f"{_where(source, event, [*path, event.value])}: duplicate key {event.value!r}"
                    )
                top.keys.add(event.value)
                top.key = event.value
                continue
            if isinstance(event, CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise StackFileError(f"{_where(source, event, path)}: nested more than {MAX_DEPTH} levels")
                frame = _Frame(path, isinstance(event, MappingStartEvent))
                frame.anchor = event.anchor
                stack.append(frame)
                continue
            if isinstance(event, ScalarEvent) and event.anchor:
                anchors[event.anchor] = 1
            if top is not None:
                top.nodes += size
                _advance(top)
    except MarkedYAMLError as exc:
        raise StackFileError(f"{source} is not valid YAML: {_yaml_problem(exc)}") from None
    except YAMLError as exc:
        raise StackFileError(f"{source} is not valid YAML: {type(exc).__name__}") from None


def _advance(frame: _Frame) -> None:
    if frame.is_map:
        frame.key = None
    else:
        frame.index += 1


def _yaml_problem(exc: MarkedYAMLError) -> str:
    # The problem and its position, never the snippet of the line: it could hold a secret.
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(p) for p in (exc.context, exc.problem) if p)


def parse(text: str, source: str, yaml: YAML | None = None) -> Any:
    """The round-trip document of `text` (ruamel.yaml CommentedMap), after `check`."""
    check(text, source)
    try:
        return (yaml or YAML(typ="rt")).load(text)
    except MarkedYAMLError as exc:
        raise StackFileError(f"{source} is not valid YAML: {_yaml_problem(exc)}") from None
    except (YAMLError, RecursionError) as exc:
        raise StackFileError(f"{source} is not valid YAML: {type(exc).__name__}") from None
    except (ValueError, TypeError, OverflowError):
        # ruamel.yaml resolves some odd plain scalars (`._`) as numbers it then cannot build.
        raise StackFileError(f"{source}: a plain scalar reads as a number YAML cannot build: quote it") from None


def to_plain(value: Any) -> Any:
    """Builtin types (dict, list, str, int, float, bool, None) of a round-trip document."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, (bool, ScalarBoolean)) or value is None:
        return None if value is None else bool(value)
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value
