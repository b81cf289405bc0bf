"""Write docs/reference/configuration.md from the settings model (model/settings/).

    venv/bin/python scripts/config_reference.py            # rewrite the page (what `make docs` runs)
    venv/bin/python scripts/config_reference.py --check    # exit 1 when the page is stale

Keys, defaults and allowed values come from the pydantic models (`SECTIONS`, `STRATEGIES`,
`TOP_LEVEL_KEYS`); what a key means comes from a field's `description=` or, failing that, from
MEANINGS below. A key the model gains without a meaning, a field type this script cannot describe,
or a meaning left for a key the model dropped stops the script naming it: the page never ships
a key without its explanation. tests/docs/test_config_reference.py checks the committed page is
this script's output.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.settings.parse import PROJECT  # noqa: E402
from model.settings.schema import SECTIONS, STRATEGIES, TOP_LEVEL_KEYS  # noqa: E402
from scripts.config_meanings import MEANINGS, NOT_MODELLED, VALIDATORS  # noqa: E402

PAGE = ROOT / "docs" / "reference" / "configuration.md"


@dataclass
class Row:
    key: str  # the path under the project namespace: `cluster.name`, `apps.<name>.ga.tag`
    default: str
    allowed: str
    meaning: str
    set_form: str
    strategies: tuple[str, ...] = ()


class Unexplained(Exception):
    """The model has something this script cannot put on the page without a person's words."""


def _code(text: str) -> str:
    return f"`{text}`"


def _yaml(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if isinstance(value, tuple):
        value = list(value)
    return _code(json.dumps(value).replace('"', "")) if not isinstance(value, str) else _code(value)


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    """The numeric bounds of a field (`ge`, `gt`, `le`, `lt`), from its own and its type's metadata."""
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            found.update(_bounds(item.metadata))
        for bound in ("ge", "gt", "le", "lt"):
            if isinstance(item, getattr(annotated_types, bound.capitalize())):
                found[bound] = getattr(item, bound)
    return found


def _range(kind: str, bounds: dict[str, Any]) -> str:
    if "ge" in bounds and "le" in bounds:
        return f"{kind} {_code(str(bounds['ge']))}..{_code(str(bounds['le']))}"
    words = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}
    parts = [f"{words[bound]} {_code(str(value))}" for bound, value in bounds.items()]
    return " ".join([kind, " and ".join(parts)]) if parts else kind


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The bare type and the metadata of an `Annotated[...]` (or the type itself)."""
    if typing.get_origin(annotation) is typing.Annotated:
        bare, *metadata = typing.get_args(annotation)
        return bare, list(metadata)
    return annotation, []


def _optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _allowed(annotation: Any, metadata: list[Any], where: str) -> str:
    bare, inner = _unwrap(_optional(annotation))
    metadata = [*metadata, *inner]
    validators = [getattr(m, "func", None) for m in metadata if type(m).__name__ == "AfterValidator"]
    if validators:
        name = validators[0].__name__
        if name not in VALIDATORS:
            raise Unexplained(f"{where}: field type validated by {name}(): add its text to VALIDATORS")
        return VALIDATORS[name]
    if typing.get_origin(bare) is Literal:
        return "one of " + ", ".join(_code(str(v)) for v in typing.get_args(bare))
    if bare is bool:
        return "`true` or `false`"
    if bare in (int, float):
        return _range("an integer" if bare is int else "a number", _bounds(metadata))
    if bare is str:
        pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
        if pattern:
            return f"a string matching {_code(pattern)}"
        if any(isinstance(m, annotated_types.MinLen) for m in metadata):
            return "a non-empty string"
        return "a string"
    raise Unexplained(f"{where}: cannot describe the type {bare!r}: extend _allowed()")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default is None:
        return "none"
    return _yaml(field.default)


def _flag(annotation: Any) -> str:
    """`--path` stores `true`/`false` as bools and integers as numbers, everything else as a string
    (Pulumi CLI, `pulumi config set --help`): strings and floats need `--type` to keep their type."""
    bare, _ = _unwrap(_optional(annotation))
    if bare is float:
        return " --type float"
    if bare is str or typing.get_origin(bare) is Literal:
        return " --type string"
    return ""


def _set(path: str, annotation: Any) -> str:
    return _code(f"pulumi config set --path '{PROJECT}:{path}'{_flag(annotation)} VALUE")


# How a key holding several values is written in its name and in its `--path` form.
_SHAPES = {"": ("", ""), "list": ("[]", "[0]"), "map": (".<key>", ".KEY")}


def _shape(annotation: Any) -> tuple[str, Any]:
    """("", the type) for one value, ("list", item) for a list, ("map", value type) for a mapping."""
    bare, _ = _unwrap(_optional(annotation))
    origin = typing.get_origin(bare)
    if origin in (tuple, list):
        return "list", typing.get_args(bare)[0]
    if origin in (dict, Mapping):
        return "map", typing.get_args(bare)[1]
    return "", annotation


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """(the model a field holds, alone or as the items of a list or mapping; the shape)."""
    shape, item = _shape(annotation)
    bare, _ = _unwrap(_optional(item))
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return bare, shape
    return None, shape


def _rows(model: type[BaseModel], prefix: str, set_prefix: str) -> list[Row]:
    rows = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path, set_path = f"{prefix}.{key}", f"{set_prefix}.{key}"
        inner, shape = _model_of(field.annotation)
        written, set_written = _SHAPES[shape]
        if inner is not None:
            rows += _rows(inner, path + written, set_path + set_written)
            continue
        default, meaning = _default(field), field.description or ""
        if shape:
            _, item = _shape(field.annotation)
            non_empty = any(isinstance(m, annotated_types.MinLen) for m in field.metadata)
            kind = {"list": "list", "map": "mapping of names to values"}[shape]
            allowed = f"a {'non-empty ' if non_empty else ''}{kind}, each {_allowed(item, [], path)}"
            rows.append(Row(path, default, allowed, meaning, _set(set_path + set_written, item)))
        else:
            allowed = _allowed(field.annotation, list(field.metadata), path)
            rows.append(Row(path, default, allowed, meaning, _set(set_path, field.annotation)))
    return rows


def _app_rows() -> list[Row]:
    """One row per app key; a key several strategies share with the same rule is one row."""
    merged: dict[tuple[str, str, str], Row] = {}
    for strategy, model in STRATEGIES.items():
        for row in _rows(model, "apps.<name>", "apps.<name>"):
            if row.key == "apps.<name>.strategy":
                row.allowed = "one of " + ", ".join(_code(s) for s in STRATEGIES)
            found = merged.setdefault((row.key, row.default, row.allowed), row)
            found.strategies = (*found.strategies, strategy)
    for row in merged.values():
        if len(row.strategies) == len(STRATEGIES):
            row.strategies = ()
    return list(merged.values())


def _extra(key: str) -> Row:
    """A key the pydantic models do not hold (the `gcp:` keys, an app's name, a secret)."""
    default, allowed, meaning, set_form = NOT_MODELLED[key]
    return Row(key, default, allowed, meaning, _code(set_form))


def collect() -> dict[str, list[Row]]:
    """Every key the model accepts, by section, with its meaning."""
    sections: dict[str, list[Row]] = {"gcp": [], "cluster": []}
    unused = set(MEANINGS)
    missing = []
    for key in TOP_LEVEL_KEYS:
        if key in SECTIONS:
            sections[key] = _rows(SECTIONS[key], key, key)
        elif key == "apps":
            sections["apps"] = [_extra("apps.<name>"), *_app_rows()]
        elif key in NOT_MODELLED:
            sections.setdefault("other", []).append(_extra(key))
        else:
            missing.append(f"top-level key {key!r}: add a row to NOT_MODELLED (scripts/config_meanings.py)")
    sections["gcp"] = [_extra("gcp:project"), _extra("gcp:region")]
    for rows in sections.values():
        for row in rows:
            label = row.key + (f"@{row.strategies[0]}" if len(row.strategies) == 1 else "")
            for candidate in (label, row.key):
                if not row.meaning and candidate in MEANINGS:
                    row.meaning = MEANINGS[candidate]
                    unused.discard(candidate)
            unused.discard(label)
            unused.discard(row.key)
            if not row.meaning:
                missing.append(f"{label}: no meaning; add it to MEANINGS or as the field's description=")
    missing += [f"{key}: in MEANINGS but the model has no such key" for key in sorted(unused)]
    if missing:
        raise Unexplained("\n".join(missing))
    return sections


TITLES = {
    "gcp": "GCP (`gcp:` namespace, GKE stacks)",
    "cluster": "cluster",
    "platform": "platform",
    "apps": "apps",
    "delivery": "delivery",
    "notifications": "notifications",
    "other": "Other top-level keys",
}

# `pulumi config set` mistakes and what the stack file then holds (Pulumi CLI, `pulumi config set
# --help`: with --path, "true"/"false" become booleans and integers numbers, all else strings).
_PITFALLS = [
    (
        f"`pulumi config set {PROJECT}:cluster.name x` (no `--path`)",
        "Pulumi stores a new top-level key literally named `cluster.name`; every command then fails with "
        f"`cluster.name: unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)}`",
        f"`pulumi config rm '{PROJECT}:cluster.name'`, then set it again with `--path`",
    ),
    (
        "`--path` with a number-like string (`... ga.tag 20260101`)",
        "`--path` stores integers as numbers and `true`/`false` as booleans; a tag must be a string",
        "add `--type string` (the forms below do)",
    ),
    (
        "`--path` with a decimal (`... latencyTolerance 1.5`)",
        'stored as the string `"1.5"`, refused: a number is expected',
        "add `--type float` (the forms below do)",
    ),
]
PITFALLS = "\n".join(
    ["| pitfall | what happens | do instead |", "| --- | --- | --- |"]
    + [f"| {mistake} | {result} | {fix} |" for mistake, result, fix in _PITFALLS]
)

INTRO = f"""\
# Configuration reference

<!-- Generated by scripts/config_reference.py (`make docs`) from model/settings/. Do not edit:
     change the model or scripts/config_meanings.py, then run `make docs`. -->

Every key lives under `config:` in `Pulumi.<stack>.yaml`. The program's keys are in the
`{PROJECT}:` namespace, one mapping per section (`{PROJECT}:cluster`, `{PROJECT}:apps`, ...);
the GCP provider's keys are in `gcp:`. The settings model (`model/settings/`) parses them once:
an unknown key, a wrong type or a broken rule stops every command and the program with exit 2 and
a message naming the key path, before a single resource is registered. Values are typed strictly:
`"90"` is not a weight and `6.10` (a YAML float) is not a tag: quote a tag that looks like a number.

## Setting a key: always `--path`

A release PR edits the file directly; from a shell, `pulumi config set` writes the same file.
Sections are mappings, so a key inside one needs `--path`:

```sh
pulumi config set --path '{PROJECT}:cluster.name' my-cluster
pulumi config set --path '{PROJECT}:apps.podinfo.weights.canary' 10
pulumi config set --path '{PROJECT}:cluster.masterAuthorizedNetworks[0]' 198.51.100.0/24
pulumi config set --path '{PROJECT}:delivery.latencyTolerance' --type float 1.5
pulumi config set gcp:project my-project                  # a top-level key: no --path
```

{PITFALLS}

Check an edit offline before you commit it: `make preview` (or `python -m delivery preview --stack <stack>`).

Each table gives the full Pulumi name, the `pulumi config set` form (replace `VALUE`; `<name>` is
the app's name), the default (`required`: no default) and the allowed values.
"""


def _table(rows: list[Row], with_strategies: bool) -> list[str]:
    head = "| key | default | allowed | meaning |"
    lines = [head, "| --- | --- | --- | --- |"]
    for row in rows:
        name = row.key if ":" in row.key else f"{PROJECT}:{row.key}"
        only = f" ({', '.join(row.strategies)} only)" if with_strategies and row.strategies else ""
        key = f"{_code(name)}{only}<br>{row.set_form}"
        lines.append(f"| {key} | {row.default} | {row.allowed} | {row.meaning} |")
    return lines


def render() -> str:
    out = [INTRO]
    sections = collect()
    for section in sorted(sections, key=lambda name: list(TITLES).index(name) if name in TITLES else len(TITLES)):
        rows = sections[section]
        out += ["", f"## {TITLES.get(section, section)}", ""]
        out += _table(rows, with_strategies=section == "apps")
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed page differs")
    args = parser.parse_args(argv)
    try:
        text = render()
    except Unexplained as exc:
        print(f"error: the settings model has keys the reference cannot explain yet:\n{exc}", file=sys.stderr)
        return 2
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
