"""An edit of a stack file changes the edited values and nothing else (comments, key order, flow
mappings, quotes, indentation), refuses a file it would reformat, and never leaves it half-written."""

from __future__ import annotations

import errno
import os

import pytest

from delivery import stack as stackfile
from delivery.errors import UnavailableError
from tests.support.project import FIXTURES_DIR
from tests.support.stack_edits import dev


@pytest.mark.parametrize("stack_file", sorted(p.name for p in FIXTURES_DIR.glob("Pulumi.*.yaml")))
def test_stack_files_survive_an_edit_that_changes_nothing(stack_file, tmp_path):
    path = tmp_path / stack_file
    path.write_text((FIXTURES_DIR / stack_file).read_text())
    result = stackfile.edit(path, lambda config: None)
    assert not result.changed and not result.written
    assert path.read_text() == (FIXTURES_DIR / stack_file).read_text()


EXISTING = "  istio-canary:cluster: {provider: existing}\n"


@pytest.mark.parametrize(
    "text",
    [
        "---\nconfig:\n" + EXISTING + "  istio-canary:delivery: {maxWeightStep: 20}\n",
        # 4-space indent, no final newline
        "config:\n    istio-canary:cluster: {provider: existing}\n"
        "    istio-canary:delivery:\n        maxWeightStep: 20",
        "config:\n" + EXISTING + "  istio-canary:apps:\n    web:\n      namespace: web\n      strategy: canary\n"
        "      image: ghcr.io/stefanprodan/podinfo\n      tag: 6.13.0\n      hosts:\n      - web.example.com\n"
        "  istio-canary:delivery:\n    maxWeightStep: 20\n",  # the Pulumi CLI's unindented lists
    ],
)
def test_other_layouts_keep_their_style_through_an_edit(tmp_path, text):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(text)

    def mutate(config):
        stackfile.set_scalar(config["istio-canary:delivery"], "maxWeightStep", 30)

    result = stackfile.edit(path, mutate, dry_run=True)
    assert result.new_text == text.replace("maxWeightStep: 20", "maxWeightStep: 30")


def test_a_file_the_round_trip_would_reformat_is_refused(tmp_path):
    path = tmp_path / "Pulumi.odd.yaml"
    path.write_text("config:\n  istio-canary:delivery:\n    maxWeightStep: [1,2]\n")
    with pytest.raises(stackfile.StackFileError, match=r"Pulumi.odd.yaml:3: an edit would also reformat"):
        stackfile.edit(path, lambda config: None)


def test_a_crash_before_the_rename_leaves_the_file_whole(project, monkeypatch):
    before = dev(project)

    def crash(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(UnavailableError, match="No space left on device"):
        stackfile.set_tag(project / "Pulumi.dev.yaml", "backend", None, "6.13.1")
    assert dev(project) == before
    assert sorted(p.name for p in project.iterdir()) == ["Pulumi.dev.yaml", "Pulumi.local.yaml"]


def test_a_write_replaces_the_file_and_keeps_its_mode(project):
    path = project / "Pulumi.dev.yaml"
    path.chmod(0o640)
    inode = path.stat().st_ino
    stackfile.set_tag(path, "backend", None, "6.13.1")
    assert path.stat().st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert path.stat().st_mode & 0o777 == 0o640
