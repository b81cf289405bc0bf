"""`images` proposes only what `check` accepts: its edit of a stack file, committed on top of the base
like the scheduled workflow's pull request, passes the PR check, for every state a release can be in."""

from __future__ import annotations

import pytest

from delivery import stack
from delivery.__main__ import main
from delivery.release import check
from model.settings import parse_stack_config
from tests.support import servers
from tests.support.stack_repo import StackRepo, stack_text

pytestmark = pytest.mark.slow  # starts a real OCI registry and git

TAGS = ["6.13.0", "6.13.4", "6.14.0", "6.14.2"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with servers.registry(tmp_path_factory.mktemp("registry")) as address:
        for tag in TAGS:
            servers.push_image(address, "acme/podinfo", tag)
        yield address


def podinfo(registry: str, canary: int) -> dict:
    return {
        "namespace": "shop",
        "strategy": "weighted",
        "image": f"{registry}/acme/podinfo",
        "hosts": ["podinfo.example.com"],
        "ga": {"tag": "6.13.0", "track": "6.13.x"},
        "canary": {"tag": "6.14.0", "track": "6.14.x"},
        "weights": {"ga": 100 - canary, "canary": canary},
    }


def images_then_check(repo: StackRepo, registry: str, canary: int) -> tuple[list[check.Finding], dict]:
    repo.commit(1_700_000_000, "base", stack_text({"podinfo": podinfo(registry, canary)}))
    assert main(["images", "--stack", "auto", "--insecure-registry", registry, "--project-dir", str(repo.path)]) == 0
    app = parse_stack_config(stack.read_config(repo.file)).apps["podinfo"]
    found = {"ga": app.ga.tag, "canary": app.canary.tag, "weights": (app.weights.ga, app.weights.canary)}
    return check.check("auto", "HEAD", repo.path), found


@pytest.mark.parametrize(
    "canary, expected",
    [
        (0, {"ga": "6.13.4", "canary": "6.14.2", "weights": (100, 0)}),  # idle: both sides follow their tracks
        (10, {"ga": "6.13.0", "canary": "6.14.2", "weights": (90, 10)}),  # GA waits; the canary stays at step 1
        (60, {"ga": "6.13.0", "canary": "6.14.2", "weights": (90, 10)}),  # the new build restarts at step 1
        (100, {"ga": "6.13.0", "canary": "6.14.2", "weights": (90, 10)}),
    ],
)
def test_the_images_pull_request_passes_check_whatever_the_release_state(registry, tmp_path, canary, expected):
    findings, found = images_then_check(StackRepo(tmp_path), registry, canary)

    assert found == expected
    assert not [f for f in findings if f.level == check.FAIL], findings


def test_what_images_used_to_propose_during_a_release_is_refused_by_check(registry, tmp_path):
    """Both tags bumped, weights untouched, with the canary at 60: GA changes under a canary that
    holds traffic, and a never-judged build keeps 60%."""
    repo = StackRepo(tmp_path)
    repo.commit(1_700_000_000, "base", stack_text({"podinfo": podinfo(registry, 60)}))
    old = podinfo(registry, 60)
    old["ga"]["tag"], old["canary"]["tag"] = "6.13.4", "6.14.2"
    repo.file.write_text(stack_text({"podinfo": old}))

    failed = [f.text for f in check.check("auto", "HEAD", repo.path) if f.level == check.FAIL]

    assert any("apps.podinfo.ga.tag 6.13.0 -> 6.13.4 while the canary holds traffic" in f for f in failed)
    assert any("apps.podinfo.canary runs a new build while the canary holds 60" in f for f in failed)


def test_images_says_why_ga_waits(registry, tmp_path, capsys):
    images_then_check(StackRepo(tmp_path), registry, 60)

    out = capsys.readouterr().out
    assert "podinfo.ga: 6.13.0 -> 6.13.4 waits: the canary holds 60% of the traffic" in out
    assert "podinfo.canary: a new canary build restarts at the first step: canary 60 -> 10" in out
