"""Issue 12, classes 3 and 8 for stack files: one loader with one rule set for every reader
(edits: test_hardening_edits.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from delivery import stack
from delivery.stack import loader
from delivery.stack.edit import _load as edit_load
from tests.support.stack_bytes import DEV, promote_to, write

# --- class 3: one loader, one rule set -----------------------------------------------------


@pytest.mark.parametrize(
    "scalar", ["010", "0x10", "0o10", "0b11", "1_000", "1:30", "190:20:30", "yes", "No", "ON", "off", "y", "n", "1e3"]
)
def test_scalars_yaml_11_and_12_read_differently_are_refused_by_every_reader(tmp_path, scalar):
    text = DEV.decode().replace("weights: {ga: 90, canary: 10}", f"weights: {{ga: 90, canary: {scalar}}}")
    path = write(tmp_path, text.encode())
    for read in (
        lambda: stack.read_config(path),
        lambda: stack.load("dev", tmp_path),
        lambda: stack.edit(path, promote_to(20), dry_run=True),
    ):
        with pytest.raises(stack.StackFileError, match=r"Pulumi.dev.yaml:\d+: .*podinfo.weights.canary"):
            read()


@pytest.mark.parametrize("scalar", ['"010"', "'yes'", "10", "true", "6.13.0", "'1:30'"])
def test_quoted_or_unambiguous_scalars_are_read_alike_everywhere(scalar):
    text = f"config:\n  a:\n    b: {scalar}\n"
    assert loader.check(text, "x") is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("config:\n  a: 1\n  a: 2\n", "config.a: duplicate key 'a'"),
        ("config:\n  istio-canary:apps:\n    p: {x: 1, x: 2}\n", "duplicate key 'x'"),
        ("config:\n  base: &b {x: 1}\n  other:\n    <<: *b\n", "merge keys"),
        ("config:\n  a: !!python/object:os.system x\n", "explicit tag"),
        ("%YAML 1.1\n---\nconfig:\n  a: 010\n", "YAML 1.2"),
        ("config: {}\n---\nconfig: {}\n", "one YAML document"),
        ("config:\n  ? [a, b]\n  : 1\n", "a key must be a plain string"),
    ],
)
def test_duplicates_merges_tags_and_other_surprises_are_refused(text, message):
    with pytest.raises(stack.StackFileError, match=message):
        stack.config_from_text(text, "Pulumi.dev.yaml")


def billion_laughs(levels: int = 9) -> str:
    lines = ["config:", '  a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (billion_laughs(), "nodes"),
        ("config:\n  a: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested more than"),
        ("config:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(200)) + "  " * 201 + "v: 1\n", "nested"),
    ],
)
def test_bombs_are_refused_before_anything_walks_them(text, message):
    with pytest.raises(stack.StackFileError, match=message):
        stack.config_from_text(text, "Pulumi.dev.yaml")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"config:\n  a: \xff\xfe\n", "not UTF-8"),
        (b"config:\r\n  a: 1\n", "mixes CRLF and LF"),
        (b"config:\r  a: 1\r", "bare CR"),
        (b"config: [\n", "not valid YAML"),
        (b"- a\n- b\n", "expected a mapping"),
        (b"config: 5\n", "expected a mapping"),
        (b"config:\n  a: ._\n", "cannot build"),
    ],
)
def test_undecodable_or_malformed_files_are_exit_2_naming_the_file(tmp_path, data, message):
    path = write(tmp_path, data)
    for read in (lambda: stack.read_config(path), lambda: stack.edit(path, lambda c: None)):
        with pytest.raises(stack.StackFileError, match=message) as info:
            read()
        assert info.value.status == 2 and "Pulumi.dev.yaml" in str(info.value)


@pytest.mark.parametrize("key", ["123", "1.5", "true", "false", "~", "null", "-1", ".inf"])
def test_a_key_yaml_reads_as_a_number_boolean_or_null_is_refused_by_every_reader(tmp_path, key):
    # `apps: {123: ...}`: the editor kept the int key and crashed joining app names; readers
    # stringified it. One rule: a key is a string.
    text = DEV.decode().replace("    backend:\n", f"    {key}:\n")
    path = write(tmp_path, text.encode())
    for read in (
        lambda: stack.read_config(path),
        lambda: stack.load("dev", tmp_path),
        lambda: stack.edit(path, promote_to(20), dry_run=True),
        lambda: stack.edit(path, lambda c: stack.app(c, "nope")),
    ):
        with pytest.raises(stack.StackFileError, match=rf"Pulumi.dev.yaml:\d+: .*key '{re.escape(key)}' .*quote it"):
            read()
    assert path.read_bytes() == text.encode()


@pytest.mark.parametrize("key", ['"123"', "'true'", "on", "n", "podinfo"])
def test_a_quoted_or_string_key_is_read_as_a_string(key):
    assert loader.check(f"config:\n  {key}: 1\n", "x") is None


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b"config:\n  a: '" + b"d" * (loader.MAX_BYTES + 1) + b"'\n"),
        lambda p: p.write_bytes(b"# " + b"x" * loader.MAX_BYTES + b"\nconfig: {}\n"),
        lambda p: p.symlink_to("/dev/zero"),
        lambda p: os.mkfifo(p),
    ],
    ids=["huge-value", "huge-comment", "dev-zero", "fifo"],
)
def test_a_huge_file_device_or_fifo_is_refused_without_reading_it_all(tmp_path, make):
    path = tmp_path / "Pulumi.dev.yaml"
    make(path)
    for read in (
        lambda: stack.read_config(path),
        lambda: stack.load("dev", tmp_path),
        lambda: stack.edit(path, lambda c: None),
    ):
        with pytest.raises(stack.StackFileError, match=r"larger than|not a regular file"):
            read()


def test_a_directory_where_the_stack_file_should_be_is_exit_2(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").mkdir()
    with pytest.raises(stack.StackFileError, match="is a directory"):
        stack.load("dev", tmp_path)


def test_a_yaml_syntax_error_never_quotes_the_line_it_is_on(tmp_path):
    secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    path = write(tmp_path, f"config:\n  istio-canary:slackWebhookUrl: {secret}\n   bad: [\n".encode())
    with pytest.raises(stack.StackFileError) as info:
        stack.read_config(path)
    assert "XXXXSECRET" not in str(info.value)


yaml_scalars = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["010", "0x1F", "yes", "off", "1:30", "1_0", "6.10", "1e3", "~", "null", "true", "'q'", '"d"']),
    st.text(alphabet="abcxyz019.-_: ", min_size=1, max_size=8),
)
documents = st.dictionaries(
    st.text(alphabet="abcd", min_size=1, max_size=3),
    st.one_of(yaml_scalars, st.lists(yaml_scalars, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")),
    max_size=5,
)


@settings(max_examples=100, deadline=None)
@given(documents, st.booleans())
@example({"a": "-_"}, False)  # ruamel.yaml resolves `-_` as an int, then fails to build it (IndexError)
def test_every_reader_parses_the_same_bytes_to_the_same_data(doc, crlf):
    """preview/diff (load_config), check (read_config), status/gate (load) and the editor agree:
    the same data, or the same refusal."""
    text = "config:\n" + "".join(f"  {k}: {v}\n" for k, v in doc.items())
    data = text.replace("\n", "\r\n").encode() if crlf else text.encode()
    results = []
    for read in (
        lambda: stack.config_from_bytes(data, "Pulumi.x.yaml"),
        lambda: (
            loader.to_plain(edit_load(loader.decode(data, "Pulumi.x.yaml").text, Path("Pulumi.x.yaml"))[2])["config"]
            or {}
        ),
    ):
        try:
            results.append(("ok", read()))
        except stack.StackFileError as exc:
            # The editor also refuses a file its round trip would reformat: not a parse disagreement.
            results.append(("reformat" if "would also reformat" in str(exc) else "refused", str(exc).split(":")[0]))
    if results[1][0] != "reformat":
        assert results[0] == results[1]
