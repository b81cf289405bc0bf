"""policies/rules/secrets.py: a credential sits in a Secret, never inline, and no message repeats it."""

from __future__ import annotations

import copy

import pytest

from delivery.plan import policy_runner as policy
from tests.policies.support.mutations import SECRETS, assert_only_reported, case_ids
from tests.policies.support.plans import BY_NAME, set_input


@pytest.mark.parametrize("rule, _what, mutate, offender", SECRETS, ids=case_ids(SECRETS))
def test_each_rule_reports_the_resource_a_minimal_mutation_breaks(dev, rule, _what, mutate, offender):
    assert_only_reported(dev, rule, mutate, offender)


def test_violation_messages_never_repeat_a_credential(dev):
    plan = copy.deepcopy(dev)
    set_input("grafana", "Release", "values.adminPassword", "hunter2-not-a-secret")(plan)
    [violation] = policy.evaluate(plan, [BY_NAME["secrets-are-secret"]])
    assert "values.adminPassword" in violation["message"] and "hunter2" not in violation["message"]
