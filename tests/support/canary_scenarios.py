"""A real Prometheus fed with synthetic Istio metrics of named canary scenarios, as pytest fixtures.

tests/conftest.py registers this module as a plugin (`pytest_plugins`), so any test can ask for
`prometheus_url` or `down_url`: a second conftest.py would shadow tests/conftest.py (both import as
`conftest`), and importing fixtures by name into a test module reads as a redefinition to ruff.
"""

from __future__ import annotations

import time

import pytest

from tests.support import servers
from tests.support.istio_metrics import Workload, openmetrics
from tests.support.stack_repo import NAMESPACE

# Each app name is a scenario: (canary, GA) traffic from half an hour ago to a quarter hour ahead.
SCENARIOS = {
    "healthy": (
        Workload(NAMESPACE, "healthy-canary", rps=2, error_ratio=0.005, latency_ms=45),
        Workload(NAMESPACE, "healthy-ga", rps=18, error_ratio=0.005, latency_ms=40),
    ),
    "failing": (
        Workload(NAMESPACE, "failing-canary", rps=2, error_ratio=0.10),
        Workload(NAMESPACE, "failing-ga", rps=18),
    ),
    "idle": (Workload(NAMESPACE, "idle-canary", rps=0), Workload(NAMESPACE, "idle-ga", rps=20)),
}


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    workloads = [w for pair in SCENARIOS.values() for w in pair]
    with servers.prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics(workloads, int(time.time()))) as url:
        yield url


@pytest.fixture
def down_url():
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{servers.free_port()}"
