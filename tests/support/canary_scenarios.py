"""A real Prometheus fed with synthetic Istio metrics of named canary scenarios, as pytest fixtures.

tests/conftest.py registers this module as a plugin (`pytest_plugins`), so any test can ask for
`prometheus_url` or `down_url`: a second conftest.py would shadow tests/conftest.py (both import as
`conftest`), and importing fixtures by name into a test module reads as a redefinition to ruff.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from model.labels import version_label
from tests.support import servers
from tests.support.istio_metrics import Workload, openmetrics
from tests.support.stack_repo import GA_TAG, NAMESPACE, NEW_TAG

# Each app name is a scenario: (canary, GA) traffic from half an hour ago to a quarter hour ahead.
# Rates are high enough for the judge to decide within minutes (a few thousand errors and slow
# requests), except `sparse`, which stays undecided.
SCENARIOS = {
    "healthy": (
        Workload(NAMESPACE, "healthy-canary", rps=200, error_ratio=0.005, latency_ms=45, slow_ratio=0.02),
        Workload(NAMESPACE, "healthy-ga", rps=1800, error_ratio=0.005, latency_ms=40, slow_ratio=0.02),
    ),
    "failing": (
        Workload(NAMESPACE, "failing-canary", rps=2, error_ratio=0.10),
        Workload(NAMESPACE, "failing-ga", rps=18),
    ),
    "broken": (
        Workload(NAMESPACE, "broken-canary", rps=2, error_ratio=1.0),
        Workload(NAMESPACE, "broken-ga", rps=18),
    ),
    # 4x GA's error rate but under a point apart: the point-estimate gate promoted it.
    "worse": (
        Workload(NAMESPACE, "worse-canary", rps=20, error_ratio=0.006, slow_ratio=0.02),
        Workload(NAMESPACE, "worse-ga", rps=180, error_ratio=0.0015, slow_ratio=0.02),
    ),
    "slow": (
        Workload(NAMESPACE, "slow-canary", rps=20, latency_ms=40, slow_ratio=0.2),
        Workload(NAMESPACE, "slow-ga", rps=180, latency_ms=40, slow_ratio=0.02),
    ),
    "sparse": (
        Workload(NAMESPACE, "sparse-canary", rps=0.05, error_ratio=0.02, slow_ratio=0.02),
        Workload(NAMESPACE, "sparse-ga", rps=0.45, error_ratio=0.02, slow_ratio=0.02),
    ),
    "idle": (Workload(NAMESPACE, "idle-canary", rps=0), Workload(NAMESPACE, "idle-ga", rps=20)),
    # Healthy until its pods went away five minutes ago; in `unreachable` callers get 503s since.
    "stopped": (
        Workload(NAMESPACE, "stopped-canary", rps=200, error_ratio=0.005, slow_ratio=0.02, until=-300),
        Workload(NAMESPACE, "stopped-ga", rps=1800, error_ratio=0.005, slow_ratio=0.02),
    ),
    "unreachable": (
        Workload(NAMESPACE, "unreachable-canary", rps=200, slow_ratio=0.02, until=-300, caller_5xx_rps=5),
        Workload(NAMESPACE, "unreachable-ga", rps=1800, slow_ratio=0.02),
    ),
    # A canary at 100: GA served until ten minutes ago (the previous step), the canary since.
    "whole": (
        Workload(NAMESPACE, "whole-canary", rps=200, error_ratio=0.005, latency_ms=45, slow_ratio=0.02),
        Workload(NAMESPACE, "whole-ga", rps=1800, error_ratio=0.005, latency_ms=40, slow_ratio=0.02, until=-600),
    ),
}


# Add the other scenarios after the dict literal, which stays the scenarios' (canary, GA) table.
SCENARIOS.update(
    {
        # The previous canary build (6.14.0) failed every request until deploy replaced it five
        # minutes ago; the stack's build (NEW_TAG) is healthy. The window opened at the commit.
        "retagged": (
            Workload(NAMESPACE, "retagged-canary", rps=200, error_ratio=0.005, latency_ms=45, slow_ratio=0.02),
            Workload(NAMESPACE, "retagged-ga", rps=1800, error_ratio=0.005, latency_ms=40, slow_ratio=0.02),
        ),
        # No 5xx until one five minutes ago: its series is born at 1 (prometheus/prometheus#1673).
        "late5xx": (
            Workload(NAMESPACE, "late5xx-canary", rps=200, slow_ratio=0.02, first_5xx_at=-300),
            Workload(NAMESPACE, "late5xx-ga", rps=1800, slow_ratio=0.02),
        ),
    }
)
# Istio reports the pods' `version` label (the tag, components/apps.py) as destination_version: the
# canaries run the test stacks' canary tag (tests/support/stack_repo.py), GA its GA tag.
SCENARIOS = {
    name: (
        dataclasses.replace(c, version=version_label(NEW_TAG)),
        dataclasses.replace(g, version=version_label(GA_TAG)),
    )
    for name, (c, g) in SCENARIOS.items()
}
# Pods of another build under the same workload name: counted only if the gate ignores the build.
OTHER_BUILDS = [
    Workload(NAMESPACE, "retagged-canary", rps=20, error_ratio=1.0, until=-300, version=version_label("6.14.0")),
]


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    workloads = [w for pair in SCENARIOS.values() for w in pair] + OTHER_BUILDS
    with servers.prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics(workloads, int(time.time()))) as url:
        yield url


@pytest.fixture
def down_url():
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{servers.free_port()}"
