"""policies/rules/mesh.py: weights, sidecar injection, routing consistency, the gateway selector
and waiting for istiod."""

from __future__ import annotations

import copy

import pytest

from delivery.plan import policy_runner as policy
from tests.policies.support.mutations import MESH, assert_only_reported, case_ids
from tests.policies.support.plans import BY_NAME, make_deployment, make_resource, set_weights


@pytest.mark.parametrize("rule, _what, mutate, offender", MESH, ids=case_ids(MESH))
def test_each_rule_reports_the_resource_a_minimal_mutation_breaks(dev, rule, _what, mutate, offender):
    assert_only_reported(dev, rule, mutate, offender)


def test_fractional_weights_are_rejected_even_when_they_sum_to_100(dev):
    plan = copy.deepcopy(dev)
    set_weights(90.5, 9.5)(plan)
    [violation] = policy.evaluate(plan, [BY_NAME["virtualservice-weights"]])
    assert "must be an integer 0..100, got [90.5, 9.5]" in violation["message"]


# --- the dependency path of workloads-wait-for-istiod, on a hand-built plan ---------------


def test_workloads_wait_for_istiod_through_dependencies_namespaces_and_parents():
    istiod = make_resource(
        "istiod", "kubernetes:helm.sh/v3:Release", {"name": "istiod", "chart": "istiod", "namespace": "istio-system"}
    )
    ns = make_resource(
        "apps",
        "kubernetes:core/v1:Namespace",
        {"metadata": {"name": "apps", "labels": {"istio-injection": "enabled"}}},
        dependencies=(istiod["urn"],),
    )
    waiting_component = make_resource("waits", "my:index:Component", dependencies=(istiod["urn"],))
    free_component = make_resource("free", "my:index:Component")
    direct = make_deployment("direct", "apps", dependencies=(istiod["urn"],))
    via_namespace = make_deployment("via-namespace", "apps", dependencies=(ns["urn"],))
    via_parent = make_deployment("via-parent", "apps", parent=waiting_component["urn"])
    none = make_deployment("none", "apps", parent=free_component["urn"])
    plan = {"resources": [istiod, ns, waiting_component, free_component, direct, via_namespace, via_parent, none]}
    violations = policy.evaluate(plan, [BY_NAME["workloads-wait-for-istiod"]])
    assert [v["urn"] for v in violations] == [none["urn"]]


def test_istiod_that_skips_await_does_not_count_as_a_wait():
    istiod = make_resource("istiod", "kubernetes:helm.sh/v3:Release", {"chart": "istiod", "skipAwait": True})
    gateway = make_resource("gw", "kubernetes:helm.sh/v3:Release", {"chart": "gateway"}, dependencies=(istiod["urn"],))
    violations = policy.evaluate({"resources": [istiod, gateway]}, [BY_NAME["workloads-wait-for-istiod"]])
    assert [v["urn"] for v in violations] == [istiod["urn"]]
