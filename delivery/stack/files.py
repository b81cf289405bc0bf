"""Reading `Pulumi.<stack>.yaml`: the one reader every command, the offline engine and CI use.

A stack file is found by name (`stack_path`), its `config:` mapping is read with one loader
(`config_from_text`), and validated with the program's own rules (`parse_settings`). Every
problem is a `StackFileError` (exit 2) naming the file and what is wrong.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from delivery.stack import loader
from delivery.stack.loader import StackFileError
from model import settings as stack_settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_STACK_FILE = re.compile(r"Pulumi\.([A-Za-z0-9_.-]+)\.yaml")
MAX_LINKS = 8


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
    (relative to the project, as the Pulumi CLI reads it:
    https://www.pulumi.com/docs/iac/concepts/projects/project-file/#attributes), else the project
    directory. A directory without a Pulumi.yaml (a fixture directory) holds its stack files itself."""
    try:
        text = (Path(project_dir) / "Pulumi.yaml").read_text()
    except (OSError, ValueError):
        text = ""
    return Path(project_dir) / configured_dir(text)


def configured_dir(project_yaml: str) -> str:
    """`stackConfigDir` of a Pulumi.yaml's text, or "." when it sets none (or is unreadable)."""
    try:
        project = yaml.safe_load(project_yaml) or {}
    except (ValueError, yaml.YAMLError):
        project = {}
    configured = project.get("stackConfigDir") if isinstance(project, dict) else None
    return configured if isinstance(configured, str) and configured else "."


def stack_path(stack: str, project_dir: Path | str = PROJECT_DIR) -> Path:
    """`Pulumi.<stack>.yaml` of the project at `project_dir`, in its stack config directory
    (`stack_config_dir`), which must exist. A symlink is returned as is: reading follows it, and an
    edit writes through it to its target."""
    if not _STACK_NAME.fullmatch(stack or ""):
        raise StackFileError(f"--stack {stack!r} is not a stack name (letters, digits, '-', '_', '.')")
    directory = stack_config_dir(project_dir)
    path = directory / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
        what = f" ({path.name} is {kind})" if path.exists() else ""
        if path.is_symlink() and not path.exists():
            what = f" ({path.name} is a symlink to {os.readlink(path)}, which does not exist)"
        raise StackFileError(f"no stack file {path.name} in {directory.resolve()}{what}")
    return path


def stack_names(project_dir: Path | str = PROJECT_DIR) -> list[str]:
    """Every stack of the project, from the `Pulumi.<stack>.yaml` files of its stack config directory, sorted."""
    found = (_STACK_FILE.fullmatch(p.name) for p in stack_config_dir(project_dir).glob("Pulumi.*.yaml"))
    return sorted(m.group(1) for m in found if m)


def work_tree_chain(project_dir: Path | str, relative: str) -> list[str]:
    """`relative` (a path under `project_dir`) and every path its symlinks lead to, relative to
    `project_dir` (what a change to any of them changes)."""
    chain = [os.path.normpath(relative)]
    root = Path(project_dir)
    for _ in range(MAX_LINKS):
        here = root / chain[-1]
        if not here.is_symlink():
            return chain
        target = os.readlink(here)
        chain.append(
            os.path.relpath(target, root.resolve())
            if os.path.isabs(target)
            else os.path.normpath(os.path.join(os.path.dirname(chain[-1]), target))
        )
    return chain


def stack_of(filename: str) -> str | None:
    """The stack a path names (`Pulumi.dev.yaml` -> "dev"), or None."""
    match = _STACK_FILE.fullmatch(filename)
    return match.group(1) if match else None


def config_from_text(text: str, source: str) -> dict[str, Any]:
    """The `config:` mapping of a stack file's text, as builtin types; `source` names it in errors.

    Parsed by the one loader (`loader.parse`) with the editor's rules, so every reader agrees."""
    doc = loader.to_plain(loader.parse(text, source))
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}), (dict, type(None))):
        raise StackFileError(f"{source}: expected a mapping with a `config:` mapping")
    return doc.get("config") or {}


def config_from_bytes(raw: bytes, source: str) -> dict[str, Any]:
    """`config_from_text` of a stack file's bytes (UTF-8, LF or CRLF)."""
    return config_from_text(loader.decode(raw, source).text, source)


def read_bytes(path: Path) -> bytes:
    """A stack file's bytes; a missing or unreadable file is a StackFileError naming it."""
    # O_NONBLOCK: opening a FIFO in place of the file must not wait for a writer; the read is
    # bounded, so /dev/zero or a huge file is refused by `loader.decode` instead of filling memory.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except IsADirectoryError:
        raise StackFileError(f"{path} is a directory, not a stack file") from None
    except OSError as exc:
        raise StackFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise StackFileError(f"{path} is a directory, not a stack file")
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StackFileError(f"{path} is not a regular file (a device, FIFO or socket): not a stack file")
            return file.read(loader.MAX_BYTES + 1)
        except OSError as exc:
            raise StackFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of the stack file at `path`."""
    return config_from_bytes(read_bytes(path), path.name)


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
    text = loader.decode(read_bytes(path), path.name).text
    config = config_from_text(text, path.name)
    return StackFile(path, text, config, parse_settings(config, path.name))


def relative_path(path: Path, project_dir: Path | str) -> str:
    """`path` relative to `project_dir`, as git names it there (`config/Pulumi.dev.yaml`)."""
    return os.path.relpath(Path(path).absolute(), Path(project_dir).absolute())


def path_at(project_dir: Path, ref: str, stack: str) -> str:
    """Stack `stack`'s file as of git `ref`, relative to `project_dir`: in the stack config
    directory that ref's Pulumi.yaml names (a PR may move it)."""
    from delivery.clients import git

    project = git.file_at(project_dir, ref, "Pulumi.yaml")
    directory = configured_dir(project.decode("utf-8", "replace") if project is not None else "")
    return os.path.normpath(os.path.join(directory, f"Pulumi.{stack}.yaml"))


def config_at(project_dir: Path, ref: str, filename: str) -> dict[str, Any] | None:
    """The `config:` of stack file `filename` (relative to `project_dir`) as of git `ref`, or None
    when it did not exist there. A symlink is followed in that commit's tree."""
    from delivery.clients import git

    raw = git.file_at(project_dir, ref, filename)
    return None if raw is None else config_from_bytes(raw, f"{filename} at {ref}")
