"""The promotion gate against a real Prometheus (Debian's prometheus) serving Istio metrics we made."""

from __future__ import annotations

import re
import time

import pytest
import yaml

from delivery.__main__ import main
from delivery.errors import UnavailableError
from delivery.release import gate
from model.settings import parse_stack_config
from tests.support import servers
from tests.support.istio_metrics import Workload, expected_p99, openmetrics

pytestmark = pytest.mark.slow  # starts a real Prometheus

NS = "shop"
# Each app is one scenario: (canary, ga) traffic over the last half hour.
SCENARIOS = {
    "healthy": (
        Workload(NS, "healthy-canary", rps=2, error_ratio=0.005, latency_ms=45),
        Workload(NS, "healthy-ga", rps=18, error_ratio=0.005, latency_ms=40),
    ),
    "failing": (Workload(NS, "failing-canary", rps=2, error_ratio=0.10), Workload(NS, "failing-ga", rps=18)),
    "slow": (Workload(NS, "slow-canary", rps=2, latency_ms=400), Workload(NS, "slow-ga", rps=18, latency_ms=40)),
    "broken": (Workload(NS, "broken-canary", rps=2, error_ratio=1.0), Workload(NS, "broken-ga", rps=18)),
    "idle": (Workload(NS, "idle-canary", rps=0), Workload(NS, "idle-ga", rps=20)),
    "unseen": (Workload(NS, "unseen-canary", present=False), Workload(NS, "unseen-ga", rps=20)),
}


def stack_config(**delivery) -> dict:
    apps = {
        name: {
            "namespace": NS,
            "strategy": "weighted",
            "image": "ghcr.io/stefanprodan/podinfo",
            "hosts": [f"{name}.example.com"],
            "ga": {"tag": "6.13.0"},
            "canary": {"tag": "6.14.1"},
            "weights": {"ga": 90, "canary": 10},
        }
        for name in SCENARIOS
    }
    apps["flagged"] = {"namespace": NS, "strategy": "canary", "image": "ghcr.io/stefanprodan/podinfo", "tag": "6.13.0"}
    config = {"istio-canary:cluster": {"provider": "existing", "context": "kind-test"}, "istio-canary:apps": apps}
    if delivery:
        config["istio-canary:delivery"] = delivery
    return config


SETTINGS = parse_stack_config(stack_config())


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    workloads = [w for pair in SCENARIOS.values() for w in pair]
    with servers.prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics(workloads, int(time.time()))) as url:
        yield url


def test_gate_passes_a_canary_as_healthy_as_ga(prometheus_url):
    result = gate.evaluate(SETTINGS, "healthy", prometheus_url)

    assert result.passed, result.report
    assert result.canary.requests == pytest.approx(2) and result.ga.requests == pytest.approx(18)
    assert result.canary.error_rate == pytest.approx(0.5) and result.ga.error_rate == pytest.approx(0.5)
    assert result.canary.p99 == pytest.approx(expected_p99(45))
    assert "PASS" in result.report


def test_gate_fails_a_canary_answering_5xx(prometheus_url):
    result = gate.evaluate(SETTINGS, "failing", prometheus_url)

    assert not result.passed
    assert result.canary.error_rate == pytest.approx(10) and result.ga.error_rate == pytest.approx(0)
    assert result.reasons == (
        "canary error rate 10.00% exceeds GA's 0.00% by more than delivery.maxErrorRateDelta = 1 percentage points",
    )


def test_gate_fails_a_canary_whose_every_request_fails(prometheus_url):
    result = gate.evaluate(SETTINGS, "broken", prometheus_url)

    assert not result.passed
    assert result.canary.error_rate == 100
    assert "canary error rate 100.00%" in result.reasons[0]


def test_gate_fails_a_slow_canary(prometheus_url):
    result = gate.evaluate(SETTINGS, "slow", prometheus_url)

    assert not result.passed
    assert result.canary.p99 == pytest.approx(expected_p99(400))
    assert result.ga.p99 == pytest.approx(expected_p99(40))
    assert len(result.reasons) == 1 and "delivery.maxLatencyRatio = 1.25" in result.reasons[0]


@pytest.mark.parametrize("app", ["idle", "unseen"])
def test_gate_fails_when_the_canary_has_no_traffic_to_judge(app, prometheus_url):
    result = gate.evaluate(SETTINGS, app, prometheus_url)

    assert not result.passed
    assert result.reasons == (f"no traffic to {app}-canary in the last 5m: nothing to judge",)


@pytest.mark.parametrize("app, delivery", [("failing", {"maxErrorRateDelta": 15}), ("slow", {"maxLatencyRatio": 11})])
def test_gate_thresholds_come_from_delivery_settings(app, delivery, prometheus_url):
    lenient = parse_stack_config(stack_config(**delivery))

    assert gate.evaluate(lenient, app, prometheus_url).passed


# --- the command ---------------------------------------------------------------------------


def gate_command(tmp_path, *args: str) -> int:
    """`python -m delivery gate --stack gate ...` run in-process on a stack file of the scenarios."""
    (tmp_path / "Pulumi.gate.yaml").write_text(yaml.safe_dump({"config": stack_config()}, sort_keys=False))
    return main(["gate", "--stack", "gate", "--project-dir", str(tmp_path), *args])


def test_gate_command_prints_both_sides_and_exits_0_on_pass(prometheus_url, tmp_path, capsys):
    assert gate_command(tmp_path, "healthy", "--prometheus", prometheus_url) == 0

    out = capsys.readouterr().out
    assert re.search(r"canary\s+ga\s", out)
    assert re.search(r"requests/s\s+2\.00\s+18\.00\s", out)
    assert re.search(r"error rate \(%\)\s+0\.50\s+0\.50\s", out)
    assert re.search(r"p99 latency \(ms\)\s+49\.8\s+49\.8\s", out)
    assert "PASS" in out


def test_gate_command_exits_1_when_the_canary_fails(prometheus_url, tmp_path, capsys):
    assert gate_command(tmp_path, "slow", "--prometheus", prometheus_url, "--window", "2m") == 1

    out = capsys.readouterr().out
    assert "window 2m" in out and "FAIL: canary p99" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["flagged"], "apps.flagged has strategy 'canary'"),
        (["nope"], "no app 'nope' in the stack"),
        (["healthy", "--window", "5 minutes"], "--window '5 minutes' is not a Prometheus duration"),
    ],
)
def test_gate_command_rejects_what_it_cannot_judge_with_exit_2(args, message, tmp_path, capsys):
    assert gate_command(tmp_path, *args, "--prometheus", "http://127.0.0.1:1") == 2
    assert message in capsys.readouterr().err


def test_gate_command_exits_3_when_prometheus_is_unreachable(tmp_path, capsys):
    port = servers.free_port()

    assert gate_command(tmp_path, "healthy", "--prometheus", f"http://127.0.0.1:{port}") == 3
    assert f"Prometheus at http://127.0.0.1:{port}: cannot reach" in capsys.readouterr().err


def test_gate_raises_gate_error_when_prometheus_answers_garbage():
    def html(request):
        servers.reply(request, 200, b"<html>login</html>", {"Content-Type": "text/html"})

    with servers.http_server(html) as address:
        with pytest.raises(UnavailableError, match="not the query API's JSON"):
            gate.evaluate(SETTINGS, "healthy", f"http://{address}")
