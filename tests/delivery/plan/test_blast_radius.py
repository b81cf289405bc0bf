"""A release PR touches only what it must: the blast radius of the two everyday edits."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize(
    "before, after",
    [
        pytest.param((90, 10), (40, 60), id="10->60"),
        pytest.param((100, 0), (90, 10), id="first-promote-0->10"),
        pytest.param((40, 60), (100, 0), id="rollback-60->0"),
        pytest.param((0, 100), (100, 0), id="rollback-100->0"),
    ],
)
def test_every_weights_edit_updates_only_the_virtual_service(render_config, before, after):
    def weights(ga, canary):
        return lambda c: _podinfo(c).update(weights={"ga": ga, "canary": canary})

    diff = compare(render_config(weights(*before)), render_config(weights(*after)))

    assert (diff.added, diff.removed, diff.replaced) == ([], [], [])
    (changed,) = diff.changed  # not the Prometheus release: no alert rule follows the weights
    assert (changed.type, changed.name) == ("kubernetes:networking.istio.io/v1:VirtualService", "podinfo")
    assert {(c.path, c.old, c.new) for c in changed.changes} == {
        ("spec.http[0].route[0].weight", before[0], after[0]),
        ("spec.http[0].route[1].weight", before[1], after[1]),
    }


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param({"env": {"LOG_LEVEL": "debug"}}, id="env"),
        pytest.param({"args": ["--verbose"]}, id="args"),
        pytest.param({"resources": {"requests": {"cpu": "200m"}}}, id="resources"),
        pytest.param({"probes": {"readiness": {"path": "/readyz", "periodSeconds": 3}}}, id="probes"),
        pytest.param({"secretEnv": {"DB_PASSWORD": {"secret": "db", "key": "password"}}}, id="secretEnv"),
        pytest.param({"podAnnotations": {"sidecar.istio.io/proxyCPU": "100m"}}, id="podAnnotations"),
    ],
)
def test_a_container_spec_edit_of_a_weighted_app_updates_only_its_two_deployments(dev_plan, render_config, edit):
    diff = compare(dev_plan, render_config(lambda c: _podinfo(c).update(edit)))
    assert (diff.added, diff.removed, diff.replaced) == ([], [], [])
    assert {(c.type, c.name) for c in diff.changed} == {
        ("kubernetes:apps/v1:Deployment", "podinfo-ga"),
        ("kubernetes:apps/v1:Deployment", "podinfo-canary"),
    }
    assert all(c.path.startswith("spec.template.") for changed in diff.changed for c in changed.changes)
