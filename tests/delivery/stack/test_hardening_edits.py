"""Issue 12, classes 1 and 2 for stack files: edits change only what they report, keep the user's
bytes (line endings, BOM, symlinks), never lose a concurrent change, and refuse aliased nodes."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery import stack
from delivery.errors import DeliveryError, UnavailableError, UsageError
from tests.support.stack_bytes import DEV, promote_to, write

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
    data = DEV.replace(
        b"loadtest: {qps: 5, concurrency: 2, path: /version}", b"loadtest: &lt {qps: 5, concurrency: 2, path: /version}"
    )
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
