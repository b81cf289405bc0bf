"""docs/releases/exit-codes.md against the code: the legend is `ExitStatus`, every command has a row,
each command's own help states no code the page leaves out, and where the page says what an
unknown `--base` gives, the command really exits with that code."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from delivery.__main__ import COMMANDS, build_parser, main
from delivery.errors import ExitStatus
from tests.support.project import FIXTURES_DIR, PROJECT_DIR, git

PAGE = PROJECT_DIR / "docs" / "releases" / "exit-codes.md"
CODES = [status.value for status in ExitStatus]


def _table(text: str, first_column: str) -> list[list[str]]:
    """The cells of the table whose header starts with `first_column`, header row excluded."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_column} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


LEGEND = _table(PAGE.read_text(), "code")
PER_COMMAND = {row[0].strip("`"): dict(zip(CODES, row[1:], strict=True)) for row in _table(PAGE.read_text(), "command")}


def test_the_legend_is_the_codes_exit_status():
    assert [(int(row[0]), row[1].strip("`")) for row in LEGEND] == [(s.value, s.name) for s in ExitStatus]


def test_every_command_has_one_row_and_every_row_is_a_command():
    assert sorted(PER_COMMAND) == sorted(COMMANDS)
    assert all(PER_COMMAND[command][0] != "-" for command in COMMANDS), "every command can succeed"


def _stated_codes(help_text: str) -> set[int]:
    """Exit codes a command's own description states ("Exit codes: 0 ok, 1 ...", "(exit 1)")."""
    stated: set[int] = set()
    for sentence in re.findall(r"(?i)\bexit\b[^.]*(?:\.[^\s][^.]*)*", help_text):
        stated |= {int(code) for code in re.findall(r"(?<![\w.-])([0-3])(?![\w.%])", sentence)}
    return stated


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_codes_a_commands_help_states_are_on_the_page(command):
    _, parsers, _ = build_parser()
    stated = _stated_codes(parsers[command].description or "")
    documented = {code for code, meaning in PER_COMMAND[command].items() if meaning != "-"}
    assert stated <= documented, f"{command}: its help states exit codes {sorted(stated - documented)} the page omits"


def test_the_help_parser_reads_the_codes():
    # The check above is only as good as its reading: these descriptions state their codes.
    _, parsers, _ = build_parser()
    assert _stated_codes(parsers["verify"].description) == {0, 1, 2, 3}
    assert _stated_codes(parsers["check"].description) == {1, 2, 3}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git not found: apt-get install git")
    for name in ("Pulumi.dev.yaml", "Pulumi.local.yaml"):
        shutil.copy(FIXTURES_DIR / name, tmp_path / name)
    (tmp_path / "Pulumi.yaml").write_text("name: istio-canary\nruntime: python\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


UNKNOWN_BASE = {
    "check": ["check", "--stack", "dev"],
    "diff": ["diff", "--stack", "dev"],
    "autopilot": ["autopilot", "--stack", "dev", "--prometheus", "http://127.0.0.1:9"],
    "changed-stacks": ["changed-stacks"],
    "gate": ["gate", "--stack", "dev", "podinfo", "--prometheus", "http://127.0.0.1:9"],
}


def test_every_command_whose_row_names_an_unknown_base_is_tested_below():
    named = {command for command, cells in PER_COMMAND.items() if any("unknown `--base`" in c for c in cells.values())}
    assert named == set(UNKNOWN_BASE)


@pytest.mark.parametrize("command", sorted(UNKNOWN_BASE))
def test_an_unknown_base_exits_with_the_code_the_page_gives(command, repo, capsys):
    documented = [code for code, meaning in PER_COMMAND[command].items() if "unknown `--base`" in meaning]
    code = main([*UNKNOWN_BASE[command], "--base", "no-such-ref", "--project-dir", str(repo)])
    err = capsys.readouterr().err
    assert "'no-such-ref' is not a commit" in err, err
    assert documented == [code], f"{command} --base no-such-ref exits {code}; the page says {documented}"
