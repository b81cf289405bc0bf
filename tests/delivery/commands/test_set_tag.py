"""set-tag: a side's (or a Flagger app's) image tag, validated as the program would, on a scratch
copy of the fixture stacks. `--track`: test_set_tag_track.py."""

from __future__ import annotations

import pytest

from delivery import stack as stackfile
from tests.support.project import PODINFO
from tests.support.stack_edits import changed, dev


def test_set_tag_on_a_weighted_side(project, delivery):
    before = dev(project)
    assert delivery("set-tag", "--stack", "dev", "podinfo", "--side", "canary", "6.14.2")[0] == 0
    assert dev(project) == changed(before, (PODINFO["canary"], 'canary: {tag: 6.14.2, track: "6.14.x", replicas: 1}'))


def test_set_tag_on_a_flagger_app_has_no_side(project, delivery):
    before = dev(project)
    assert delivery("set-tag", "--stack", "dev", "backend", "6.14.0")[0] == 0
    backend = before[before.index("    backend:") :]
    assert dev(project) == before.replace(backend, backend.replace("tag: 6.13.0", "tag: 6.14.0", 1))
    code, _, err = delivery("set-tag", "--stack", "dev", "backend", "--side", "ga", "6.14.1")
    assert code == 2 and "drop --side" in err


def test_set_tag_on_a_weighted_app_needs_a_side(project, delivery):
    before = dev(project)
    code, _, err = delivery("set-tag", "--stack", "dev", "podinfo", "6.13.1")
    assert code == 2 and "--side ga or --side canary" in err
    assert dev(project) == before


@pytest.mark.parametrize(
    "tag, message",
    [
        ("6.15.0", "apps.podinfo.canary.tag: '6.15.0' is outside its track '6.14.x'"),
        ("latest", "'latest' is not allowed"),
    ],
)
def test_set_tag_refuses_what_the_program_would_reject(project, delivery, tag, message):
    before = dev(project)
    code, _, err = delivery("set-tag", "--stack", "dev", "podinfo", "--side", "canary", tag)
    assert code == 2 and message in err
    assert dev(project) == before


def test_set_tags_changes_several_sides_in_one_validated_edit(project):
    path = project / "Pulumi.dev.yaml"
    before = dev(project)
    result = stackfile.set_tags(
        path, {("podinfo", "ga"): "6.13.4", ("podinfo", "canary"): "6.14.3", ("frontend", None): "6.14.0"}, dry_run=True
    )
    assert result.changed and not result.written and dev(project) == before
    assert result.diff.count("\n+  ") == 3
    with pytest.raises(stackfile.StackFileError, match="outside its track"):
        stackfile.set_tags(path, {("podinfo", "ga"): "6.13.4", ("podinfo", "canary"): "7.0.0"})
    assert dev(project) == before  # all or nothing


def test_a_new_canary_tag_restarts_at_the_first_step(project, delivery):
    assert delivery("promote", "--stack", "dev", "podinfo", "--canary", "60")[0] == 0
    before = dev(project)
    code, out, _ = delivery("set-tag", "--stack", "dev", "podinfo", "--side", "canary", "6.14.2")
    assert code == 0 and "(a new canary build restarts at the first step)" in out
    assert dev(project) == changed(
        before,
        (PODINFO["canary"], 'canary: {tag: 6.14.2, track: "6.14.x", replicas: 1}'),
        ("weights: {ga: 40, canary: 60}", "weights: {ga: 90, canary: 10}"),
    )


def test_setting_ga_under_a_canary_with_traffic_warns_that_check_refuses_it(project, delivery):
    code, _, err = delivery("set-tag", "--stack", "dev", "podinfo", "--side", "ga", "6.13.1")
    assert code == 0 and "the pull-request check refuses a GA change" in err
