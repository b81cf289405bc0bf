"""A release PR touches only what it must: the blast radius of the two everyday edits."""

from __future__ import annotations

from delivery.plan.diff import compare


def _podinfo(config: dict) -> dict:
    return config["istio-canary:apps"]["podinfo"]


def test_a_weight_change_updates_only_the_virtual_service(dev_plan, render_config):
    plan = render_config(lambda c: _podinfo(c).update(weights={"ga": 60, "canary": 40}))
    diff = compare(dev_plan, plan)
    assert (diff.added, diff.removed, diff.replaced) == ([], [], [])
    (changed,) = diff.changed
    assert (changed.type, changed.name) == ("kubernetes:networking.istio.io/v1:VirtualService", "podinfo")
    assert {(c.path, c.old, c.new) for c in changed.changes} == {
        ("spec.http[0].route[0].weight", 90, 60),
        ("spec.http[0].route[1].weight", 10, 40),
    }


def test_a_canary_tag_change_updates_only_the_canary_deployment(dev_plan, render_config):
    plan = render_config(lambda c: _podinfo(c)["canary"].update(tag="6.14.2"))
    diff = compare(dev_plan, plan)
    assert (diff.added, diff.removed, diff.replaced) == ([], [], [])
    (changed,) = diff.changed
    assert (changed.type, changed.name) == ("kubernetes:apps/v1:Deployment", "podinfo-canary")
    assert {c.path for c in changed.changes} == {
        "metadata.labels.version",
        "spec.template.metadata.labels.version",
        "spec.template.spec.containers[0].image",
    }
    assert all(c.new in ("6.14.2", "ghcr.io/stefanprodan/podinfo:6.14.2") for c in changed.changes)
