"""A policy pack config file, read as the Pulumi CLI reads `--policy-pack-config FILE`.

The format is Pulumi's (pulumi.com/docs "Configuring policy packs"; the CLI's parser is
pulumi/pulumi pkg/resource/analyzer/config.go, `parsePolicyPackConfig` and `applyConfig`): a JSON
object whose keys are policy names, or `all` for every policy of the pack, and whose values are an
enforcement level (`"advisory"`) or an object holding one (`{"enforcementLevel": "disabled"}`).
A policy's own entry wins over `all`, which wins over the level the policy declares. An empty file
configures nothing, as in the CLI.

Stricter than the CLI where a typo would silently do nothing: an unknown policy name, or a key
besides `enforcementLevel` (no policy of this pack declares a config schema), is an error (exit 2).

Stricter than the CLI where a file would switch the pack off: the Pulumi CLI honours any level the
file sets (`{"all": "disabled"}` turns every rule off), and the workflows pass the stack's
`policy-config.<stack>.json` to `pulumi preview/up`, so one PR could disable the whole pack. Here a
file may lower only the policies the pack lets a stack relax (`relaxable`: deletion protection, for
a teardown); lowering any other policy below the level it declares is an error naming the key that
did it (exit 2), and the PR pipeline runs this check. Raising a level is always allowed.
Order of strictness: disabled < advisory < mandatory < remediate ("remediate is stronger than
both", pulumi/pulumi-policy README).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel

from delivery.errors import UsageError

ALL = "all"
# What apitype.EnforcementLevel.IsValid accepts.
LEVELS = {level.value: level for level in EnforcementLevel}
MAX_BYTES = 1 << 20  # a config file is a few lines; a larger one is not a config file
STRICTNESS = {
    EnforcementLevel.DISABLED: 0,
    EnforcementLevel.ADVISORY: 1,
    EnforcementLevel.MANDATORY: 2,
    EnforcementLevel.REMEDIATE: 3,
}


def _level(name: str, value: Any, where: str) -> EnforcementLevel | None:
    if isinstance(value, str):
        found = LEVELS.get(value)
        if found is None:
            raise UsageError(f"{where}: {name}: {value!r} is not an enforcement level; allowed: {', '.join(LEVELS)}")
        return found
    if isinstance(value, dict):
        extra = sorted(set(value) - {"enforcementLevel"})
        if extra:
            raise UsageError(
                f"{where}: {name}: unknown key {extra[0]!r}; no policy of this pack takes configuration "
                "besides enforcementLevel"
            )
        if "enforcementLevel" not in value:
            return None
        if not isinstance(value["enforcementLevel"], str):
            raise UsageError(
                f"{where}: {name}.enforcementLevel: {value['enforcementLevel']!r} is not an enforcement level; "
                f"allowed: {', '.join(LEVELS)}"
            )
        return _level(f"{name}.enforcementLevel", value["enforcementLevel"], where)
    raise UsageError(f"{where}: {name}: must be an enforcement level or an object, got {type(value).__name__}")


def parse(
    text: str,
    declared: dict[str, EnforcementLevel],
    relaxable: frozenset[str] = frozenset(),
    where: str = "--policy-config",
) -> dict[str, EnforcementLevel]:
    """The enforcement level each configured policy of the pack runs at (only those the file changes).
    `declared`: each policy's own level; `relaxable`: the policies a file may set below it."""
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{where}: not JSON: {str(exc)[:200]}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{where}: must be a JSON object of policy name to enforcement level")
    names = list(declared)
    levels: dict[str, EnforcementLevel | None] = {}
    for name, value in config.items():
        if name != ALL and name not in declared:
            raise UsageError(f"{where}: {name!r} is not a policy of this pack; allowed: all, {', '.join(names)}")
        levels[name] = _level(name, value, where)
    everyone = levels.pop(ALL, None)
    result = dict.fromkeys(names, everyone) if everyone is not None else {}
    source = dict.fromkeys(result, ALL)
    for name, level in levels.items():
        if level is not None:
            result[name], source[name] = level, name
    found = {name: level for name, level in result.items() if level is not None}
    for name, level in found.items():
        if name not in relaxable and STRICTNESS[level] < STRICTNESS[declared[name]]:
            raise UsageError(
                f"{where}: {source[name]}: {level.value!r} would lower {name} below its level "
                f"{declared[name].value!r}; a stack may relax only {', '.join(sorted(relaxable)) or 'no policy'} "
                "(a teardown); fix the stack or the pack instead"
            )
    return found


def load(
    path: Path, declared: dict[str, EnforcementLevel], relaxable: frozenset[str] = frozenset()
) -> dict[str, EnforcementLevel]:
    """`parse` of the file at `path`; a missing or unreadable file is a usage error."""
    where = f"--policy-config {path}"
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{where}: is a directory") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"{where}: larger than {MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not UTF-8 (byte {exc.start})") from None
    return parse(text, declared, relaxable, where)
