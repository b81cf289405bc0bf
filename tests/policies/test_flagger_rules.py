"""policies/rules/flagger.py: Flagger owns a canaried service's routing and reads the Prometheus
this program installs."""

from __future__ import annotations

import copy

import pytest

from delivery.plan import policy_runner as policy
from tests.policies.support.mutations import FLAGGER, assert_only_reported, case_ids
from tests.policies.support.plans import BY_NAME, find


@pytest.mark.parametrize("rule, _what, mutate, offender", FLAGGER, ids=case_ids(FLAGGER))
def test_each_rule_reports_the_resource_a_minimal_mutation_breaks(dev, rule, _what, mutate, offender):
    assert_only_reported(dev, rule, mutate, offender)


def test_replicas_that_a_controller_sets_on_the_live_deployment_are_not_the_programs(dev):
    # After the first `pulumi up`, a stack policy sees the live Deployment: `spec.replicas` is
    # always there (the HPA, Flagger); only the fields Pulumi's field manager owns are the program's.
    def live(manager: str) -> dict:
        plan = copy.deepcopy(dev)
        backend = find(plan, "backend", "Deployment")["inputs"]
        backend["spec"]["replicas"] = 0
        backend["status"] = {"replicas": 0}
        backend["metadata"]["managedFields"] = [
            {"manager": manager, "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]
        return plan

    rule = [BY_NAME["flagger-owns-routing"]]
    assert policy.evaluate(live("kube-controller-manager"), rule) == []
    assert [v["urn"] for v in policy.evaluate(live("pulumi-kubernetes-7f3a9c1e"), rule)] == [
        find(dev, "backend", "Deployment")["urn"]
    ]
