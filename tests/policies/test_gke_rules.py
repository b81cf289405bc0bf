"""policies/rules/gke.py: gke-hardening, reported on the cluster or node pool a minimal mutation breaks."""

from __future__ import annotations

import pytest

from tests.policies.support.mutations import GKE, assert_only_reported, case_ids


@pytest.mark.parametrize("rule, _what, mutate, offender", GKE, ids=case_ids(GKE))
def test_each_rule_reports_the_resource_a_minimal_mutation_breaks(dev, rule, _what, mutate, offender):
    assert_only_reported(dev, rule, mutate, offender)
