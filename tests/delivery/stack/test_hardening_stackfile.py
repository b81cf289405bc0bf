"""Issue 12, classes 1-3 and 8 for stack files: one loader with one rule set for every reader,
edits that change only what they report and never lose the user's bytes."""

from __future__ import annotations

import errno
import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery import stack
from delivery.errors import DeliveryError, UnavailableError, UsageError
from delivery.stack import loader
from delivery.stack.edit import _load as edit_load
from tests.support.project import FIXTURES_DIR

DEV = (FIXTURES_DIR / "Pulumi.dev.yaml").read_bytes()


def write(tmp_path: Path, data: bytes, name: str = "Pulumi.dev.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def promote_to(canary: int):
    def mutate(config):
        stack.set_weights(stack.require_weighted(config, "podinfo", "promote"), "podinfo", canary)

    return mutate


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


# --- class 1: data loss ---------------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_an_edit_keeps_line_endings_bom_and_final_newline(tmp_path, newline, bom, final_newline):
    body = DEV if final_newline else DEV.rstrip(b"\n")
    data = bom + body.replace(b"\n", newline)
    path = write(tmp_path, data)
    result = stack.edit(path, promote_to(20))
    assert result.written and result.changed_keys == ("apps.podinfo.weights.canary", "apps.podinfo.weights.ga")
    expected = data.replace(b"weights: {ga: 90, canary: 10}", b"weights: {ga: 80, canary: 20}")
    assert path.read_bytes() == expected


def test_an_edit_through_a_symlink_edits_the_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    target = write(real, DEV)
    target.chmod(0o600)
    link = tmp_path / "Pulumi.dev.yaml"
    link.symlink_to(target)
    stack.edit(link, promote_to(20))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert b"canary: 20" in target.read_bytes() and target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in real.iterdir()) == ["Pulumi.dev.yaml"]


def test_a_file_changed_while_the_edit_ran_is_not_overwritten(tmp_path):
    path = write(tmp_path, DEV)
    theirs = DEV.replace(b"replicas: 2", b"replicas: 3")

    def mutate(config):
        promote_to(20)(config)
        path.write_bytes(theirs)  # another editor saves meanwhile

    with pytest.raises(UsageError, match="changed while"):
        stack.edit(path, mutate)
    assert path.read_bytes() == theirs


def test_two_edits_at_once_both_land(tmp_path):
    path = write(tmp_path, DEV)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def set_tag(side, tag):
        barrier.wait()
        try:
            stack.set_tag(path, "podinfo", side, tag)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=set_tag, args=a) for a in (("ga", "6.13.1"), ("canary", "6.14.2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    config = stack.read_config(path)["istio-canary:apps"]["podinfo"]
    assert (config["ga"]["tag"], config["canary"]["tag"]) == ("6.13.1", "6.14.2")


@pytest.mark.parametrize(
    "code, status", [(errno.ENOSPC, 3), (errno.EROFS, 2), (errno.EACCES, 2), (errno.EDQUOT, 3), (errno.EIO, 3)]
)
def test_a_full_or_read_only_disk_leaves_the_file_and_is_one_clear_error(tmp_path, monkeypatch, code, status):
    path = write(tmp_path, DEV)

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("tempfile.mkstemp", fail)
    with pytest.raises(DeliveryError) as info:
        stack.edit(path, promote_to(20))
    assert info.value.status == status and os.strerror(code) in str(info.value)
    assert path.read_bytes() == DEV


def test_a_lock_held_too_long_is_exit_3(tmp_path):
    import fcntl

    path = write(tmp_path, DEV)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(UnavailableError, match="lock"), stack.writing.locked(path, timeout=0.2):
            pass
    finally:
        os.close(fd)


# --- class 2: anchors and aliases -----------------------------------------------------------

ANCHORED = {
    "weights alias": (
        b"weights: {ga: 90, canary: 10}",
        b"weights: &w {ga: 90, canary: 10}\n      extra_weights_ref: *w",
    ),
    "side alias": (
        b'canary: {tag: 6.14.1, track: "6.14.x", replicas: 1}',
        b'canary: &c {tag: 6.14.1, track: "6.14.x", replicas: 1}',
    ),
}


def _aliased(tmp_path: Path, anchor: bytes, alias_line: bytes) -> Path:
    data = DEV.replace(anchor, alias_line)
    return write(tmp_path, data)


@pytest.mark.parametrize(
    "old, new, mutate, where",
    [
        (
            b"weights: {ga: 90, canary: 10}",
            b"weights: &w {ga: 90, canary: 10}",
            promote_to(20),
            "podinfo.weights",
        ),
        (
            b'ga: {tag: 6.13.0, track: "6.13.x", replicas: 2}',
            b'ga: &side {tag: 6.13.0, track: "6.13.x", replicas: 2}',
            lambda c: stack.set_scalar(stack.tag_holder(c, "podinfo", "ga")[0], "tag", "6.13.1"),
            "podinfo.ga",
        ),
        (
            b"ga: {tag: 6.13.0,",
            b"ga: {tag: &t 6.13.0,",
            lambda c: stack.set_scalar(stack.tag_holder(c, "podinfo", "ga")[0], "tag", "6.13.1"),
            "podinfo.ga.tag",
        ),
    ],
)
def test_an_edit_of_an_anchored_and_referenced_node_is_refused_naming_it(tmp_path, old, new, mutate, where):
    data = DEV.replace(old, new)
    # Reference the anchor from a comment-free spot that every reader accepts: another app's copy.
    anchor = new.split(b"&", 1)[1].split(b" ", 1)[0]
    data = data.replace(b"    # Flagger progressive canary", b"    # Flagger progressive canary", 1)
    data += b"  istio-canary:notes: *" + anchor + b"\n"
    path = write(tmp_path, data)
    with pytest.raises(stack.StackFileError, match=f"{where} is a YAML anchor or alias") as info:
        stack.edit(path, mutate, dry_run=True)
    assert info.value.status == 2 and path.read_bytes() == data


def test_an_edit_next_to_an_anchor_is_allowed(tmp_path):
    data = DEV.replace(b"loadtest: {qps: 5, concurrency: 2}", b"loadtest: &lt {qps: 5, concurrency: 2}")
    path = write(tmp_path, data + b"  istio-canary:notes: *lt\n")
    with pytest.raises(stack.StackFileError, match="unknown key"):
        # The alias itself is fine to read; the settings only refuse the unknown key it sits under.
        stack.edit(path, promote_to(20), dry_run=True)


# --- property: an edit changes exactly what it reports --------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    canary=st.integers(0, 100),
    tag=st.from_regex(r"6\.1[0-9]\.[0-9]{1,2}", fullmatch=True),
    crlf=st.booleans(),
    comment=st.text(alphabet="abc #:-", max_size=20),
)
def test_an_edit_changes_exactly_the_reported_keys_byte_for_byte_elsewhere(tmp_path, canary, tag, crlf, comment):
    data = DEV.replace(b"config:\n", b"config:\n  # " + comment.encode() + b"\n", 1)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    path = write(tmp_path, data)
    before = stack.read_config(path)

    def mutate(config):
        stack.set_weights(stack.require_weighted(config, "podinfo", "promote"), "podinfo", canary)
        holder, _ = stack.tag_holder(config, "podinfo", "canary")
        stack.set_scalar(holder, "tag", tag if tag.startswith("6.14.") else "6.14.1")

    try:
        result = stack.edit(path, mutate)
    except stack.StackFileError:
        assert path.read_bytes() == data  # refused (outside the track): untouched
        return
    after = stack.read_config(path)
    new = path.read_bytes()
    old_lines, new_lines = data.splitlines(True), new.splitlines(True)
    assert len(old_lines) == len(new_lines)
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert all(b"weights:" in old_lines[i] or b"canary: {tag:" in old_lines[i] for i in changed)
    assert all(line.endswith(b"\r\n" if crlf else b"\n") for line in new_lines)
    assert (b"# " + comment.encode()) in new
    expected = {
        f"apps.podinfo.{k}"
        for k, old in (
            ("weights.ga", before["istio-canary:apps"]["podinfo"]["weights"]["ga"] != 100 - canary),
            ("weights.canary", before["istio-canary:apps"]["podinfo"]["weights"]["canary"] != canary),
            (
                "canary.tag",
                before["istio-canary:apps"]["podinfo"]["canary"]["tag"]
                != after["istio-canary:apps"]["podinfo"]["canary"]["tag"],
            ),
        )
        if old
    }
    assert set(result.changed_keys) == expected
    path.write_bytes(data)
