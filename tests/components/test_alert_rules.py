"""Alert rules for weighted canaries, checked and unit-tested by promtool (Debian's prometheus)."""

from __future__ import annotations

import copy
import re
import subprocess

import pytest
import yaml
from conftest import reference_file

from components import alert_rules
from model.settings import parse_stack_config
from tests.support import servers
from tests.support.istio_metrics import Workload, rule_test_series

ALERTS = ("CanaryErrorRateAboveGA", "CanaryLatencyAboveGA", "CanaryWithoutTraffic")
EVAL_MINUTES = 15


@pytest.fixture(scope="module")
def promtool() -> str:
    return servers.require("promtool", "prometheus")


@pytest.fixture(scope="module")
def dev_settings(dev_config):
    return parse_stack_config(dev_config)


def settings_with(dev_config, mutate):
    config = copy.deepcopy(dev_config)
    mutate(config)
    return parse_stack_config(config)


def rule(rules: dict, name: str) -> dict:
    return next(r for group in rules["groups"] for r in group["rules"] if r["alert"] == name)


def rendered(annotations: dict, value: str | None) -> dict:
    """The annotations Prometheus sends, with `{{ $value | printf ... }}` replaced by `value`."""
    return {k: re.sub(r"\{\{ \$value[^}]*\}\}", value or "", v) for k, v in annotations.items()}


def routed_to_canary(rps: float) -> list[dict]:
    """What the callers' sidecars (reporter="source") report sending to the canary: the mesh routes
    to it only while it holds weight."""
    labels = (
        'reporter="source",destination_workload="podinfo-canary",destination_workload_namespace="test",'
        'response_code="200"'
    )
    return [{"series": f"istio_requests_total{{{labels}}}", "values": f"1000+{rps * 60:.10g}x{EVAL_MINUTES + 5}"}]


def run_rule_test(
    promtool,
    tmp_path,
    rules: dict,
    workloads: list[Workload],
    firing: dict[str, str | None],
    routed: float | None = 2.0,
):
    """`promtool test rules`: at EVAL_MINUTES, exactly the alerts in `firing` fire (with the value
    their annotations show), every other canary alert stays silent. `routed`: requests/s the
    callers send to the canary (None: the canary holds no weight, nothing is routed to it)."""
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    labels = {"severity": "warning", "app": "podinfo", "namespace": "test"}
    cases = []
    for name in ALERTS:
        expected = []
        if name in firing:
            expected = [
                {"exp_labels": labels, "exp_annotations": rendered(rule(rules, name)["annotations"], firing[name])}
            ]
        cases.append({"eval_time": f"{EVAL_MINUTES}m", "alertname": name, "exp_alerts": expected})
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": rule_test_series(workloads, EVAL_MINUTES + 5)
                + (routed_to_canary(routed) if routed is not None else []),
                "alert_rule_test": cases,
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def canary(**traffic) -> Workload:
    return Workload("test", "podinfo-canary", **traffic)


GA = Workload("test", "podinfo-ga", rps=18, error_ratio=0.005, latency_ms=40)


def shipped_values(plan) -> dict:
    return plan.named("prometheus", "kubernetes:helm.sh/v3:Release")["inputs"]["values"]


def test_alert_rules_ship_in_the_prometheus_chart_values(dev_plan, dev_settings):
    chart_defaults = yaml.safe_load(reference_file("prometheus/values.yaml").read_text())
    server_files = shipped_values(dev_plan)["serverFiles"]

    assert server_files["alerting_rules.yml"] == alert_rules.alerting_rules(dev_settings)
    # The chart's own prometheus.yml loads that file; overriding it would silently drop the rules.
    assert "prometheus.yml" not in server_files
    assert "/etc/config/alerting_rules.yml" in chart_defaults["serverFiles"]["prometheus.yml"]["rule_files"]


def test_shipped_alert_rules_pass_promtool_check(promtool, dev_plan, tmp_path):
    path = tmp_path / "alerting_rules.yml"
    path.write_text(yaml.safe_dump(shipped_values(dev_plan)["serverFiles"]["alerting_rules.yml"], sort_keys=False))

    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rules found" in result.stdout


def test_alert_rules_cover_weighted_apps_only(dev_settings):
    # backend and frontend are Flagger's: its own analysis judges them.
    assert [g["name"] for g in alert_rules.alerting_rules(dev_settings)["groups"]] == ["istio-canary-podinfo"]


@pytest.mark.parametrize(
    "traffic, firing",
    [
        pytest.param(dict(rps=2, error_ratio=0.005, latency_ms=45), {}, id="healthy-canary-is-silent"),
        pytest.param(dict(rps=2, error_ratio=0.105), {"CanaryErrorRateAboveGA": "10.50"}, id="canary-with-5xx"),
        pytest.param(
            dict(rps=2, error_ratio=1.0), {"CanaryErrorRateAboveGA": "100.00"}, id="every-canary-request-fails"
        ),
        pytest.param(dict(rps=2, latency_ms=600), {"CanaryLatencyAboveGA": "995"}, id="slow-canary"),
        pytest.param(dict(rps=0), {"CanaryWithoutTraffic": "2.00"}, id="canary-traffic-stopped"),
        pytest.param(dict(present=False), {"CanaryWithoutTraffic": "2.00"}, id="canary-never-seen"),
    ],
)
def test_alerts_fire_on_their_condition_only(traffic, firing, promtool, dev_settings, tmp_path):
    run_rule_test(promtool, tmp_path, alert_rules.alerting_rules(dev_settings), [canary(**traffic), GA], firing)


@pytest.mark.parametrize(
    "delivery, traffic",
    [
        ({"errorRateTolerance": 25}, dict(rps=2, error_ratio=0.105)),
        ({"latencyTolerance": 25}, dict(rps=2, latency_ms=600)),
    ],
)
def test_alert_thresholds_follow_delivery_settings(delivery, traffic, promtool, dev_config, tmp_path):
    settings = settings_with(dev_config, lambda c: c.setdefault("istio-canary:delivery", {}).update(delivery))

    run_rule_test(promtool, tmp_path, alert_rules.alerting_rules(settings), [canary(**traffic), GA], {})


def test_a_canary_at_weight_zero_may_go_without_traffic(promtool, dev_config, tmp_path):
    settings = settings_with(
        dev_config, lambda c: c["istio-canary:apps"]["podinfo"].update(weights={"ga": 100, "canary": 0})
    )

    # Nothing is routed to it (no caller reports requests for it): silence is expected.
    run_rule_test(
        promtool, tmp_path, alert_rules.alerting_rules(settings), [canary(present=False), GA], {}, routed=None
    )


@pytest.mark.parametrize("weights", [(100, 0), (90, 10), (40, 60), (0, 100)])
def test_alert_rules_do_not_follow_the_weights(dev_settings, dev_config, weights):
    # The rules ship in the Prometheus release: a rule that followed the weights would make every
    # promote or rollback upgrade Prometheus too, not only the VirtualService.
    edited = settings_with(
        dev_config, lambda c: c["istio-canary:apps"]["podinfo"].update(weights={"ga": weights[0], "canary": weights[1]})
    )

    assert alert_rules.alerting_rules(edited) == alert_rules.alerting_rules(dev_settings)
