"""The one model of what serves traffic (model/serving.py): the pod-spec fingerprint is read from the
app model generically, so a key the model gains is covered with no change to the release rules."""

from __future__ import annotations

from typing import Any

from model import serving
from model.settings import CanaryApp, WeightedApp
from model.settings.schema import Side

BASE: dict[str, Any] = {
    "namespace": "shop",
    "strategy": "weighted",
    "image": "ghcr.io/acme/shop",
    "hosts": ["shop.example.com"],
    "ga": {"tag": "1.0.0", "track": "1.0.x", "replicas": 2},
    "canary": {"tag": "1.1.0"},
    "weights": {"ga": 90, "canary": 10},
}


class _EnvSide(Side):
    env: dict[str, str] = {}


class _RealService(WeightedApp):
    """The app model after a release adds pod keys (issue 18): one per app, one per side."""

    args: tuple[str, ...] = ()
    ga: _EnvSide
    canary: _EnvSide


def fingerprints(model: type[WeightedApp] = WeightedApp, **changes: Any) -> tuple[str, str]:
    app = serving.serving("shop", model.model_validate({**BASE, **changes}))
    assert app.canary is not None
    return app.baseline.fingerprint, app.canary.fingerprint


def test_release_positions_routing_and_scale_are_not_the_pod_spec():
    same = fingerprints()
    for changes in (
        {"weights": {"ga": 40, "canary": 60}},
        {"hosts": ["other.example.com"]},
        {"autopilot": False},
        {"loadtest": {"qps": 50}},
        {"ga": {"tag": "1.0.0", "track": "1.x", "replicas": 5}},
    ):
        assert fingerprints(**changes) == same, changes


def test_the_image_changes_both_sides_and_a_tag_only_its_own():
    ga, canary = fingerprints()
    moved = fingerprints(image="ghcr.io/acme/other")
    assert moved[0] != ga and moved[1] != canary
    assert fingerprints(canary={"tag": "1.1.1"}) == (ga, fingerprints(canary={"tag": "1.1.1"})[1])
    assert fingerprints(canary={"tag": "1.1.1"})[1] != canary


def test_a_pod_key_the_model_gains_is_in_the_fingerprint_without_naming_it():
    ga, canary = fingerprints(_RealService)
    assert fingerprints(_RealService, args=("--verbose",)) != (ga, canary)  # an app key: both sides
    changed = fingerprints(_RealService, canary={"tag": "1.1.0", "env": {"MODE": "fast"}})
    assert changed[0] == ga and changed[1] != canary  # a side key: that side only


def test_a_strategy_switch_compares_only_the_keys_both_strategies_have():
    weighted = serving.serving("shop", WeightedApp.model_validate(BASE))
    flagger = serving.serving(
        "shop",
        CanaryApp.model_validate({"namespace": "shop", "strategy": "canary", "image": BASE["image"], "tag": "1.0.0"}),
    )
    assert flagger.baseline.same_as(weighted.baseline) and not flagger.baseline.same_as(weighted.canary)


def test_identity_is_the_traffic_served_not_the_name():
    base = {"shop": serving.serving("shop", WeightedApp.model_validate(BASE))}
    renamed = serving.serving("store", WeightedApp.model_validate({**BASE, "hosts": []}))
    elsewhere = serving.serving("web", WeightedApp.model_validate({**BASE, "namespace": "web", "hosts": []}))
    host = serving.serving("web", WeightedApp.model_validate({**BASE, "namespace": "web", "image": "ghcr.io/x/y"}))
    assert [p.name for p in serving.predecessors(renamed, base)] == ["shop"]  # namespace + image
    assert serving.predecessors(elsewhere, base) == []  # another namespace, no shared host: a new service
    assert [p.name for p in serving.predecessors(host, base)] == ["shop"]  # the public host
