"""`set-tag --track`: move a side to a new minor in one validated edit of exactly those two keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery.__main__ import main
from tests.support.project import PODINFO


def _set_tag(project: Path, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["set-tag", "--stack", "dev", *args, "--project-dir", str(project)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_set_tag_with_track_moves_a_side_to_a_new_minor(fixture_project, capsys):
    before = (fixture_project / "Pulumi.dev.yaml").read_text()
    code, out, _ = _set_tag(fixture_project, capsys, "podinfo", "--side", "canary", "6.15.0", "--track", "6.15.x")
    assert code == 0
    after = before.replace(PODINFO["canary"], 'canary: {tag: 6.15.0, track: "6.15.x", replicas: 1}')
    assert after != before and (fixture_project / "Pulumi.dev.yaml").read_text() == after  # only those two keys
    assert "apps.podinfo.canary.tag: 6.14.1 -> 6.15.0" in out and "apps.podinfo.canary.track: 6.14.x -> 6.15.x" in out


@pytest.mark.parametrize(
    "tag, track, message",
    [
        ("6.15.0", "6.16.x", "apps.podinfo.canary.tag: '6.15.0' is outside its track '6.16.x'"),
        ("6.15.0", "six", "apps.podinfo.canary.track"),
    ],
)
def test_set_tag_with_track_validates_both_together(fixture_project, capsys, tag, track, message):
    before = (fixture_project / "Pulumi.dev.yaml").read_text()
    code, _, err = _set_tag(fixture_project, capsys, "podinfo", "--side", "canary", tag, "--track", track)
    assert code == 2 and message in err and "Traceback" not in err
    assert (fixture_project / "Pulumi.dev.yaml").read_text() == before


def test_set_tag_with_track_dry_run_shows_one_changed_line(fixture_project, capsys):
    before = (fixture_project / "Pulumi.dev.yaml").read_text()
    code, out, _ = _set_tag(
        fixture_project, capsys, "podinfo", "--side", "ga", "6.14.1", "--track", "6.14.x", "--dry-run"
    )
    assert code == 0 and (fixture_project / "Pulumi.dev.yaml").read_text() == before
    assert [line for line in out.splitlines() if line.startswith("+ ")] == [
        '+      ga: {tag: 6.14.1, track: "6.14.x", replicas: 2}'
    ]
