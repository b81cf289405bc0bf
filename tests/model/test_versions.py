"""Tracks decide which tags a side may run and which tag the image automation picks."""

import pytest

from model.versions import Track, TrackError, Version


@pytest.mark.parametrize(
    "track, inside, outside",
    [
        ("6.13.x", ["6.13.0", "6.13.12"], ["6.14.0", "6.12.9", "6.13.1-rc.1"]),
        ("6.x", ["6.0.0", "6.99.1"], ["7.0.0", "5.9.9"]),
        (">=6.0.0 <7.0.0", ["6.0.0", "6.9.9"], ["7.0.0", "5.0.0"]),
        ("~6.13", ["6.13.4"], ["6.14.0"]),
        ("^0.2.1", ["0.2.5"], ["0.3.0", "0.2.0"]),
        ("0.1.* || 0.2.*", ["0.1.3", "0.2.7"], ["0.3.0"]),
        ("6.13.0", ["6.13.0", "v6.13.0"], ["6.13.1"]),
    ],
)
def test_a_track_admits_exactly_its_versions(track, inside, outside):
    parsed = Track.parse(track)
    assert all(parsed.admits_tag(t) for t in inside)
    assert not any(parsed.admits_tag(t) for t in outside)


def test_highest_picks_by_semver_not_by_text():
    tags = ["6.13.9", "6.13.10", "6.13.2", "latest", "6.14.0", "6.13.11-rc.1", "main"]
    assert Track.parse("6.13.x").highest(tags) == "6.13.10"
    assert Track.parse("7.x").highest(tags) is None


def test_prereleases_sort_before_their_release():
    assert Version.parse("1.0.0-rc.2") < Version.parse("1.0.0-rc.10") < Version.parse("1.0.0")


@pytest.mark.parametrize("bad", ["", "six", ">=6.x", "6.x.1", "<"])
def test_a_track_that_is_not_a_range_is_an_error(bad):
    with pytest.raises(TrackError):
        Track.parse(bad)
