"""The README and the docs/ site are the adopter's manual: what they name must exist with that
spelling, every page must be reachable, and a traffic split is written the one way the tool writes
it (`model/weights.py`). The configuration reference and the exit codes have their own tests
(tests/docs/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from markdown.extensions.toc import slugify

from delivery.__main__ import COMMANDS, build_parser
from model.settings.schema import SECTIONS, STRATEGIES
from tests.support.project import PROJECT_DIR

DOCS_DIR = PROJECT_DIR / "docs"
README = PROJECT_DIR / "README.md"
PAGES = sorted(DOCS_DIR.rglob("*.md"))
TEXTS = [README, *PAGES]
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MAX_README_BYTES = 20_000


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(PROJECT_DIR)) for path in paths]


def _command_uses(text: str) -> list[tuple[str, str, int]]:
    """(command, the text of its options, line) for every command line and inline command in a page."""
    lines = text.splitlines()
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


@pytest.mark.parametrize("path", TEXTS, ids=_ids(TEXTS))
def test_every_command_and_option_a_page_shows_exists_with_that_spelling(path):
    _, parsers, _ = build_parser()
    # `pulumi policy enable <org>/istio-canary latest`, "istio-canary at that version", "the
    # istio-canary command": the policy pack and the CLI's name, not a command of it.
    not_commands = {"latest", "at", "command"}
    wrong = []
    for command, options, line in _command_uses(path.read_text()):
        if command in not_commands:
            continue
        if command not in COMMANDS:
            wrong.append(f"{path.name} line {line}: no command {command!r}")
            continue
        known = parsers[command]._option_string_actions
        wrong += [
            f"{path.name} line {line}: {command} has no {option}"
            for option in OPTION.findall(options)
            if option not in known
        ]
    assert not wrong, "\n".join(wrong)


def test_the_command_check_reads_the_pages():
    # The check above is only as good as its reading: the release page shows most commands.
    shown = {command for command, _, _ in _command_uses((DOCS_DIR / "releases" / "index.md").read_text())}
    assert {"set-tag", "promote", "rollback", "finalize", "check", "diff", "status", "images"} <= shown


@pytest.mark.parametrize(
    "path",
    [
        *TEXTS,
        *(PROJECT_DIR / ".github" / "workflows").glob("*.yml"),
    ],
    ids=str,
)
def test_a_traffic_split_is_written_the_one_way_naming_both_sides(path):
    text = path.read_text()
    # `90/10`, `GA/canary 40/60`: which number is which side depends on the reader's guess.
    slashed = [m.group(0) for m in re.finditer(r"(?<![\w./])(\d{1,3})/(\d{1,3})(?![\w./])", text) if m.group(1) != "0"]
    splits = [s for s in slashed if sum(map(int, s.split("/"))) == 100]
    assert not splits, f"{path.name}: write `GA 90 / canary 10` (model/weights.py), not {splits}"


class _MkDocsLoader(yaml.SafeLoader):
    """mkdocs.yml names Python objects (`!!python/name:`); the nav needs none of them."""


_MkDocsLoader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix)


def _nav_pages(entries: list) -> list[str]:
    found = []
    for entry in entries:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            found += _nav_pages(value) if isinstance(value, list) else [value]
    return found


NAV = _nav_pages(yaml.load((PROJECT_DIR / "mkdocs.yml").read_text(), Loader=_MkDocsLoader)["nav"])


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    pages = {str(path.relative_to(DOCS_DIR)) for path in PAGES}
    assert sorted(pages - set(NAV)) == [], "pages no reader can reach from the nav"
    assert sorted(set(NAV) - pages) == [], "nav entries without a page"
    assert len(NAV) == len(set(NAV)), "a page is twice in the nav"


def _anchors(path: Path) -> set[str]:
    # MkDocs' default `toc` slugs (Python-Markdown's slugify), as `mkdocs build` validates them.
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slugify(re.sub(r"[`*]", "", m.group(1)).strip(), "-") for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_every_link_of_the_readme_resolves_to_a_file_and_anchor():
    broken = []
    for target in LINK.findall(README.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (README.parent / file) if file else README
        if not path.exists():
            broken.append(f"{target}: no file {file}")
        elif anchor and anchor not in _anchors(path):
            broken.append(f"{target}: {file or 'README.md'} has no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_readme_links_every_docs_page():
    # "Every page is reachable": a new reader finds each one from the README's map of the docs.
    linked = {
        str((README.parent / t.partition("#")[0]).resolve().relative_to(DOCS_DIR))
        for t in LINK.findall(README.read_text())
        if t.startswith("docs/")
    }
    missing = sorted(set(NAV) - linked - {"index.md"})
    assert not missing, f"docs pages the README's map does not link: {missing}"


def test_the_readme_is_read_in_minutes():
    size = len(README.read_bytes())
    assert size <= MAX_README_BYTES, f"README.md is {size} bytes: move detail to a docs/ page"
    first = "\n".join(README.read_text().splitlines()[:40])
    assert "make preview" in first and "make test" in first, "the two commands come first"


def _section_keys() -> dict[str, set[str]]:
    keys = {section: {f.alias or n for n, f in model.model_fields.items()} for section, model in SECTIONS.items()}
    keys["apps"] = {f.alias or n for model in STRATEGIES.values() for n, f in model.model_fields.items()}
    return keys


KEY_SPAN = re.compile(r"`[^`\n]*`")
SECTION_NAMES = "|".join(sorted(_section_keys().keys() - {"apps"}))
KEY = re.compile(rf"(?<![\w/.-])(?:istio-canary:)?({SECTION_NAMES}|apps\.[<a-z][\w<>-]*)\.([a-z]\w*)")


@pytest.mark.parametrize("path", TEXTS, ids=_ids(TEXTS))
def test_every_config_key_a_page_names_exists_in_the_model(path):
    # Prose that names `delivery.maxWeightStep` or `apps.<app>.weights` goes stale when the model
    # renames a key; the generated reference cannot, the other pages can.
    keys = _section_keys()
    unknown = []
    for span in KEY_SPAN.findall(path.read_text()):
        for section, key in KEY.findall(span):
            section = "apps" if section.startswith("apps.") else section
            if key not in keys[section]:
                unknown.append(f"{section}.{key} in {span}")
    assert not unknown, f"{path.name} names keys the settings model does not have: {unknown}"
