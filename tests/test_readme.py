"""The README is the adopter's manual: what it names must exist with that spelling, and it writes a
traffic split the one way the tool does (`model/weights.py`)."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from delivery.__main__ import COMMANDS, build_parser
from model.settings.schema import SECTIONS, STRATEGIES
from tests.support.project import PROJECT_DIR

README = (PROJECT_DIR / "README.md").read_text()
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _command_uses() -> list[tuple[str, str, int]]:
    """(command, the text of its options, line) for every command line and inline command in the README."""
    lines = README.splitlines()
    uses = []
    for number, line in enumerate(lines):
        for match in re.finditer(r"(?:python -m delivery|istio-canary|`delivery) ([a-z][a-z-]*)", line):
            rest = line[match.end() :].split("#")[0]
            follow = number
            while rest.rstrip().endswith("\\") and follow + 1 < len(lines):
                follow += 1
                rest += lines[follow].split("#")[0]
            uses.append((match.group(1), rest.split("`")[0], number + 1))
        # Inline spans that start with a command and name options: `status --all`, `promote --step`.
        for match in re.finditer(r"`([a-z][a-z-]*)( [^`]*--[^`]*)`", line):
            if match.group(1) in COMMANDS:
                uses.append((match.group(1), match.group(2), number + 1))
    return uses


def test_every_command_and_option_the_readme_shows_exists_with_that_spelling():
    _, parsers, _ = build_parser()
    # `pulumi policy enable istio-canary latest`, "istio-canary at that version": the pack, not the CLI.
    not_commands = {"latest", "at"}
    wrong = []
    for command, options, line in _command_uses():
        if command in not_commands:
            continue
        if command not in COMMANDS:
            wrong.append(f"README line {line}: no command {command!r}")
            continue
        known = parsers[command]._option_string_actions
        wrong += [
            f"README line {line}: {command} has no {option}"
            for option in OPTION.findall(options)
            if option not in known
        ]
    assert not wrong, "\n".join(wrong)


def _aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _nested(model: type[BaseModel]) -> set[str]:
    """The keys of a model and of the models its fields hold (ga/canary sides, analysis, match, loadtest)."""
    found = _aliases(model)
    for field in model.model_fields.values():
        for inner in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found |= _nested(inner)
    return found


def test_the_configuration_reference_names_every_key_the_model_accepts():
    table = _section("Configuration reference")
    quoted = set(re.findall(r"`([^`]+)`", table))
    words = {word for span in quoted for word in re.findall(r"[A-Za-z]+", span)}
    missing = [
        f"{section}.{key}"
        for section, model in SECTIONS.items()
        for key in _aliases(model)
        if f"{section}.{key}" not in quoted and not (key in words and f"`{section}." in table)
    ]
    missing += [
        f"apps.<name>.{key} ({strategy})" for strategy, model in STRATEGIES.items() for key in _nested(model) - words
    ]
    assert not missing, f"keys the model accepts but the README's reference does not name: {missing}"


def test_every_section_key_the_configuration_reference_names_exists_in_the_model():
    table = _section("Configuration reference")
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    named = [key for row in rows for key in re.findall(r"`([a-z]+)\.([A-Za-z]+)`", row)]
    unknown = [
        f"{section}.{key}" for section, key in named if section in SECTIONS and key not in _aliases(SECTIONS[section])
    ]
    assert named and not unknown, f"the README names keys the model rejects: {unknown}"


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        ".github/workflows/e2e.yml",
        ".github/workflows/autopilot.yml",
        ".github/workflows/images.yml",
        ".github/workflows/upgrades.yml",
        ".github/workflows/pull-request.yml",
        ".github/workflows/deploy.yml",
    ],
)
def test_a_traffic_split_is_written_the_one_way_naming_both_sides(path):
    text = (PROJECT_DIR / path).read_text()
    # `90/10`, `GA/canary 40/60`: which number is which side depends on the reader's guess.
    slashed = [m.group(0) for m in re.finditer(r"(?<![\w./])(\d{1,3})/(\d{1,3})(?![\w./])", text) if m.group(1) != "0"]
    splits = [s for s in slashed if sum(map(int, s.split("/"))) == 100]
    assert not splits, f"{path}: write `GA 90 / canary 10` (model/weights.py), not {splits}"
