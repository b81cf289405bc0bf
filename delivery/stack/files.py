"""Reading `Pulumi.<stack>.yaml`: the one reader every command, the offline engine and CI use.

A stack file is found by name (`stack_path`), its `config:` mapping is read with one loader
(`config_from_text`), and validated with the program's own rules (`parse_settings`). Every
problem is a `StackFileError` (exit 2) naming the file and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from delivery.errors import UsageError
from model import settings as stack_settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")


class StackFileError(UsageError):
    """A stack file is missing, is not a stack config file, or holds invalid config: exit 2."""


@dataclass(frozen=True)
class StackFile:
    """A stack file as read from disk: its text, its raw `config:` mapping and its typed settings."""

    path: Path
    text: str
    config: dict[str, Any]
    settings: stack_settings.Settings

    @property
    def name(self) -> str:
        return self.path.name


def stack_config_dir(project_dir: Path | str = PROJECT_DIR) -> Path:
    """Where the project's `Pulumi.<stack>.yaml` files live: `stackConfigDir` of `Pulumi.yaml`
    (relative to the project, as the Pulumi CLI reads it), else the project directory."""
    try:
        project = yaml.safe_load((Path(project_dir) / "Pulumi.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        project = {}
    configured = project.get("stackConfigDir") if isinstance(project, dict) else None
    return Path(project_dir) / configured if isinstance(configured, str) and configured else Path(project_dir)


def stack_path(stack: str, project_dir: Path | str = PROJECT_DIR) -> Path:
    """`<project_dir>/Pulumi.<stack>.yaml`, which must exist (`project_dir`: the directory holding
    the stack files, see `stack_config_dir`)."""
    if not _STACK_NAME.fullmatch(stack or ""):
        raise StackFileError(f"--stack {stack!r} is not a stack name (letters, digits, '-', '_', '.')")
    path = Path(project_dir) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackFileError(f"no stack file {path.name} in {Path(project_dir).resolve()}")
    return path


def stack_names(project_dir: Path | str = PROJECT_DIR) -> list[str]:
    """Every stack of the project, from its `Pulumi.<stack>.yaml` files, sorted."""
    found = (_STACK_FILE.match(p.name) for p in Path(project_dir).glob("Pulumi.*.yaml"))
    return sorted(m.group(1) for m in found if m)


def stack_of(filename: str) -> str | None:
    """The stack a path names (`Pulumi.dev.yaml` -> "dev"), or None."""
    match = _STACK_FILE.match(filename)
    return match.group(1) if match else None


def config_from_text(text: str, source: str) -> dict[str, Any]:
    """The `config:` mapping of a stack file's text; `source` names it in errors."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}), dict):
        raise StackFileError(f"{source}: expected a mapping with a `config:` mapping")
    return doc.get("config") or {}


def read_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of the stack file at `path`."""
    return config_from_text(path.read_text(), path.name)


def load_config(stack: str, stack_dir: Path | str | None = None) -> dict[str, Any]:
    """The `config:` mapping of `<stack_dir>/Pulumi.<stack>.yaml` (default: this project's stack files)."""
    return read_config(stack_path(stack, stack_dir if stack_dir is not None else stack_config_dir()))


def parse_settings(config: Mapping[str, Any], source: str) -> stack_settings.Settings:
    """Settings of a `config:` mapping by the program's rules; invalid config is a StackFileError."""
    try:
        return stack_settings.parse_stack_config(config)
    except stack_settings.ConfigError as exc:
        raise StackFileError(f"{source}: {exc}") from None


def load_settings(path: Path) -> stack_settings.Settings:
    """The stack file's current settings, validated by the program's rules."""
    return parse_settings(read_config(path), path.name)


def load(stack: str, project_dir: Path | str = PROJECT_DIR) -> StackFile:
    """Stack `stack`, read once: text, raw config and validated settings."""
    path = stack_path(stack, project_dir)
    text = path.read_text()
    config = config_from_text(text, path.name)
    return StackFile(path, text, config, parse_settings(config, path.name))


def config_at(project_dir: Path, ref: str, filename: str) -> dict[str, Any] | None:
    """The `config:` of stack file `filename` as of git `ref`, or None when it did not exist there."""
    from delivery.clients import git

    text = git.file_at(project_dir, ref, filename)
    return None if text is None else config_from_text(text, f"{filename} at {ref}")
