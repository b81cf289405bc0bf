"""Safe, round-trip edits of `Pulumi.<stack>.yaml`: the one way every delivery command writes it.

An edit
- loads the file with ruamel.yaml in round-trip mode, so comments, key order, flow mappings
  (`{tag: 6.13.0, track: "6.13.x"}`) and quotes survive, and refuses a file whose unchanged
  round trip would already reformat it (the reviewer would see noise, not the change);
- hands the `config:` mapping to a `mutate` callback;
- validates the resulting *text* as every reader reads it (`files.config_from_text` then the
  program's settings parser), so an edit can never produce a stack the program rejects;
- refuses to change a node that is an alias or is anchored and referenced (the edit would also
  change every place sharing it), naming the key path;
- writes through `writing.replace` (under `writing.locked`): atomically, through a symlink to its
  target, keeping CRLF line endings, a BOM and a missing final newline, and only if nobody
  changed the file meanwhile; or with `dry_run` only returns the unified diff.
Any refusal raises `StackFileError` before the file is touched, so it stays byte-identical.

Other commands (the image automation) set tags through `set_tags`/`set_tag`.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from delivery.stack import loader, writing
from delivery.stack.files import StackFileError, config_from_text, read_bytes
from model import settings as stack_settings

PROJECT = stack_settings.PROJECT
APPS_KEY = f"{PROJECT}:apps"
WEIGHTED_SIDES = ("ga", "canary")


@dataclass(frozen=True)
class EditResult:
    path: Path
    old_text: str
    new_text: str
    written: bool
    changed_keys: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    @property
    def diff(self) -> str:
        name = self.path.name
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(True), self.new_text.splitlines(True), fromfile=f"a/{name}", tofile=f"b/{name}"
            )
        )


# --- round trip ---------------------------------------------------------------------------

_KEY_ONLY = re.compile(r"^(\s*)(?:- )?[^#\s][^#]*:\s*(#.*)?$")


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indents as ruamel.yaml wants them, read off the file itself."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    mapping = sequence = offset = None
    for line, nxt in zip(lines, lines[1:], strict=False):
        parent = _KEY_ONLY.match(line)
        if not parent:
            continue
        parent_col = len(parent.group(1)) + (2 if line.lstrip().startswith("- ") else 0)
        child_col = len(nxt) - len(nxt.lstrip())
        if child_col <= parent_col:
            continue
        if nxt.lstrip().startswith("- "):
            if sequence is None:
                offset = child_col - parent_col
                sequence = offset + 2
        elif mapping is None:
            mapping = child_col - parent_col
    mapping = mapping or 2
    return mapping, sequence or mapping, offset if offset is not None else 0


def _yaml(text: str) -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line (a secure: ciphertext, a regex)
    yaml.explicit_start = text.startswith("---")
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, doc: Any, like: str) -> str:
    out = io.StringIO()
    yaml.dump(doc, out)
    text = out.getvalue()
    if like and not like.endswith("\n") and text.endswith("\n"):
        text = text[:-1]  # the file had no final newline: do not add one
    return text


def _load(text: str, path: Path) -> tuple[str, YAML, CommentedMap]:
    yaml = _yaml(text)
    doc = loader.parse(text, path.name, yaml)
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap) or not isinstance(
        doc.get("config", CommentedMap()), (CommentedMap, type(None))
    ):
        raise StackFileError(f"{path.name}: expected a mapping with a `config:` mapping")
    unchanged = _dump(yaml, doc, text)
    if unchanged != text:
        old, new = text.splitlines(True), unchanged.splitlines(True)
        line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        was = old[line] if line < len(old) else "(end of file)"
        would = new[line] if line < len(new) else "(end of file)"
        raise StackFileError(
            f"{path.name}:{line + 1}: an edit would also reformat {was!r} as {would!r}; "
            "write it that way once by hand (one indentation style, no trailing spaces), then retry"
        )
    return text, yaml, doc


def _validate(text: str, source: str) -> stack_settings.Settings:
    try:
        return stack_settings.parse_stack_config(config_from_text(text, source))
    except stack_settings.ConfigError as exc:
        raise StackFileError(f"{source}: the edit would make an {exc}") from None


def _walk(node: Any, path: tuple[str, ...], leaves: dict, seen: dict[int, list[tuple[str, ...]]]) -> None:
    """Every leaf of `node` by key path (aliases expanded), and every path each container is at."""
    if isinstance(node, (dict, list)):
        seen.setdefault(id(node), []).append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        if not items:
            leaves[path] = repr(type(node)())
        for key, value in items:
            _walk(value, (*path, str(key)), leaves, seen)
        return
    leaves[path] = repr(loader.to_plain(node))
    anchor = getattr(getattr(node, "anchor", None), "value", None)
    if anchor:
        seen.setdefault(id(node), []).append(path)


def _shared(config: CommentedMap) -> tuple[dict, dict[tuple[str, ...], bool]]:
    leaves: dict = {}
    seen: dict[int, list[tuple[str, ...]]] = {}
    _walk(config, (), leaves, seen)
    objects: dict = {}
    _index(config, (), objects)
    # A node is shared when it is reached by several paths (an alias) or carries an anchor.
    shared = {
        p: len(seen.get(id(obj), [])) > 1 or bool(getattr(getattr(obj, "anchor", None), "value", None))
        for p, obj in objects.items()
    }
    return leaves, shared


def _index(node: Any, path: tuple[str, ...], out: dict) -> None:
    out[path] = node
    if isinstance(node, (dict, list)):
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            _index(value, (*path, str(key)), out)


def _key_path(path: tuple[str, ...]) -> str:
    return ".".join(path[1:] if path and path[0] == APPS_KEY else path).replace(f"{PROJECT}:", "")


def _changed_keys(before: dict, after: dict, shared: dict[tuple[str, ...], bool], source: str) -> tuple[str, ...]:
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    for path in changed:
        for end in range(len(path), 0, -1):
            if shared.get(path[:end]):
                where = ("apps." if path[0] == APPS_KEY else "") + _key_path(path[:end])
                raise StackFileError(
                    f"{source}: {where} is a YAML anchor or alias shared with other keys; an edit there would "
                    "change them all: write the value out in place of the alias, then retry"
                )
    return tuple(("apps." if p and p[0] == APPS_KEY else "") + _key_path(p) for p in changed)


def edit(
    path: Path, mutate: Callable[[CommentedMap], None], dry_run: bool = False, expected: bytes | None = None
) -> EditResult:
    """Apply `mutate` to the `config:` mapping of the stack file at `path`, safely.

    `mutate` edits the round-trip mapping in place (use `app`, `set_scalar`) and raises
    `StackFileError` to refuse. Raises StackFileError when the result is invalid; the file is then
    untouched. Returns the old and new text; `written` is False for a dry run or no change.

    `expected`: the bytes a decision was taken on (promote's gate, autopilot). A file that no longer
    holds them (a rollback merged while Prometheus was queried) is refused, exit 2, nothing written:
    absolute weights computed from an older read must never land on a newer file.
    """
    target = writing.target_of(path)
    with writing.locked(target):
        raw = read_bytes(target)
        if expected is not None and raw != expected:
            raise StackFileError(
                f"{path.name} changed since this command read it to decide (another edit, a pull or a "
                "rollback): nothing written; run the command again to decide on the new content"
            )
        decoded = loader.decode(raw, path.name)
        text, yaml, doc = _load(decoded.text, path)
        if doc.get("config") is None:
            doc["config"] = CommentedMap()  # `config:` with nothing under it is an empty config
        config = doc["config"]
        before, shared = _shared(config)
        mutate(config)
        after, _ = _shared(config)
        keys = _changed_keys(before, after, shared, path.name)
        new_text = _dump(yaml, doc, text)
        if new_text == text:
            return EditResult(path, text, new_text, written=False)
        _validate(new_text, path.name)
        if dry_run:
            return EditResult(path, text, new_text, written=False, changed_keys=keys)
        writing.replace(target, raw, decoded.encode(new_text))
    return EditResult(path, text, new_text, written=True, changed_keys=keys)


# --- helpers for mutate callbacks ----------------------------------------------------------


def app(config: Mapping, name: str) -> CommentedMap:
    """The raw mapping of `apps.<name>`, or StackFileError naming the apps there are."""
    apps = config.get(APPS_KEY)
    if not isinstance(apps, Mapping) or name not in apps:
        known = ", ".join(apps) if isinstance(apps, Mapping) and apps else "none"
        raise StackFileError(f"no app {name!r} in the stack's {APPS_KEY}; apps: {known}")
    found = apps[name]
    if not isinstance(found, CommentedMap):
        raise StackFileError(f"apps.{name} must be a mapping")
    return found


def require_weighted(config: Mapping, name: str, command: str) -> CommentedMap:
    found = app(config, name)
    kind = found.get("strategy")
    if kind != "weighted":
        raise StackFileError(
            f"apps.{name} has strategy {kind!r}: Flagger shifts its traffic itself; "
            f"{command} applies to weighted apps only"
        )
    return found


def set_scalar(mapping: CommentedMap, key: str, value: Any) -> None:
    """Set `mapping[key]`, keeping the quoting style the old value had."""
    old = mapping.get(key)
    if isinstance(value, str):
        if isinstance(old, DoubleQuotedScalarString):
            value = DoubleQuotedScalarString(value)
        elif isinstance(old, SingleQuotedScalarString):
            value = SingleQuotedScalarString(value)
    mapping[key] = value


def sub_mapping(parent: CommentedMap, key: str, path: str) -> CommentedMap:
    found = parent.get(key)
    if not isinstance(found, CommentedMap):
        raise StackFileError(f"{path}.{key} must be a mapping")
    return found


def set_weights(app_map: CommentedMap, name: str, canary: int) -> None:
    weights = sub_mapping(app_map, "weights", f"apps.{name}")
    set_scalar(weights, "ga", 100 - canary)
    set_scalar(weights, "canary", canary)


def tag_holder(config: Mapping, name: str, side: str | None) -> tuple[CommentedMap, str]:
    """The mapping that holds the tag of `side` (`ga`/`canary`, or None for a Flagger app)."""
    found = app(config, name)
    kind = found.get("strategy")
    if kind == "weighted":
        if side not in WEIGHTED_SIDES:
            raise StackFileError(f"apps.{name} is a weighted app with two tags: choose --side ga or --side canary")
        return sub_mapping(found, side, f"apps.{name}"), f"apps.{name}.{side}"
    if side:
        raise StackFileError(f"apps.{name} (strategy {kind}) has a single tag that Flagger rolls out: drop --side")
    return found, f"apps.{name}"


def set_track(holder: CommentedMap, track: str) -> None:
    """Set a side's `track`, quoted like the stack files write it (`"6.15.x"`) when it is new."""
    if "track" in holder:
        set_scalar(holder, "track", track)
    else:
        holder["track"] = DoubleQuotedScalarString(track)


def set_tags(path: Path, tags: Mapping[tuple[str, str | None], str], dry_run: bool = False) -> EditResult:
    """Set several tags in one validated edit: `{(app, side): tag}`, side `ga`/`canary` for
    weighted apps and None (or "") for Flagger apps, whose one tag Flagger rolls out."""

    def mutate(config: CommentedMap) -> None:
        for (name, side), tag in tags.items():
            holder, _ = tag_holder(config, name, side or None)
            set_scalar(holder, "tag", tag)

    return edit(path, mutate, dry_run)


def set_tag(path: Path, app_name: str, side: str | None, tag: str, dry_run: bool = False) -> EditResult:
    """Set one app side's tag (see `set_tags`)."""
    return set_tags(path, {(app_name, side): tag}, dry_run)
