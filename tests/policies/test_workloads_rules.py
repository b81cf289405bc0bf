"""policies/rules/workloads.py: workload-resources, pod-security-restricted, workload-security and
readiness-probe, each reported on the
resource a minimal mutation breaks."""

from __future__ import annotations

import pytest

from tests.policies.support.mutations import WORKLOADS, assert_only_reported, case_ids


@pytest.mark.parametrize("rule, _what, mutate, offender", WORKLOADS, ids=case_ids(WORKLOADS))
def test_each_rule_reports_the_resource_a_minimal_mutation_breaks(dev, rule, _what, mutate, offender):
    assert_only_reported(dev, rule, mutate, offender)
