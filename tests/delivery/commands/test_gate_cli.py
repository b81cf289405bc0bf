"""`python -m delivery gate`: the report, `--json`, the window since the step began (git), exit codes."""

from __future__ import annotations

import json
import re
import time

import pytest

from delivery.__main__ import main
from tests.support import servers
from tests.support.stack_repo import GA_TAG, STACK, StackRepo, app, stack_text

pytestmark = pytest.mark.slow  # starts a real Prometheus and git

APPS = ("healthy", "failing", "sparse")


@pytest.fixture
def repo(tmp_path) -> StackRepo:
    repo = StackRepo(tmp_path)
    now = int(time.time())
    repo.commit(now - 7200, "initial", stack_text({name: app(canary_tag=GA_TAG) for name in APPS}))
    repo.commit(now - 700, "canary at 10", stack_text({name: app(canary=10) for name in APPS}))
    return repo


@pytest.fixture
def gate(repo, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["gate", "--stack", STACK, "--project-dir", str(repo.path), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_json_gives_the_verdict_with_its_evidence(gate, prometheus_url):
    code, out, _ = gate("healthy", "--prometheus", prometheus_url, "--window", "600s", "--json")

    doc = json.loads(out)
    assert code == 0
    assert (doc["schema"], doc["version"], doc["app"], doc["verdict"], doc["window"]) == (
        "istio-canary/gate",
        1,
        "healthy",
        "pass",
        "600s",
    )
    assert doc["alpha"] == pytest.approx(0.01 / 3)
    assert doc["canary"]["requests"] == pytest.approx(120000, rel=0.01)
    assert doc["canary"]["buckets"][-1] == {"le": "+Inf", "count": doc["canary"]["requests"]}
    assert doc["reference"]["name"] == "healthy-ga over the same window" and doc["reference"]["slo"] is None
    assert doc["recent"]["window"] == "2m" and doc["recent"]["requests"] > 0
    errors, latency, upper = doc["tests"]  # latency at both edges of GA's p99 bucket, (250, 500]
    assert (upper["metric"], upper["boundary_ms"], upper["verdict"]) == ("latency", 500.0, "pass")
    assert set(errors) == {
        "metric",
        "verdict",
        "hypothesis",
        "canary",
        "reference",
        "boundary_ms",
        "log_e_fail",
        "log_e_pass",
        "fail_bound",
        "pass_bound",
    }
    assert (errors["metric"], errors["verdict"], latency["metric"], latency["boundary_ms"]) == (
        "errors",
        "pass",
        "latency",
        250.0,
    )
    assert errors["log_e_pass"] >= errors["pass_bound"] == pytest.approx(5.7038, abs=1e-3)  # log(1 / alpha)


def test_the_report_shows_the_counts_the_statistic_the_bound_and_the_verdict(gate, prometheus_url):
    code, out, _ = gate("failing", "--prometheus", prometheus_url, "--window", "10m")

    assert code == 1
    assert "counts over 10m" in out
    assert re.search(r"canary: +1200 requests, 120 5xx \(10\.00%\)", out)
    assert "FAIL:" in out and "(fail at 600)" in out and "errors: canary 120/1200 (10.00%) vs 0/10800 (0.00%)" in out


def test_an_inconclusive_verdict_exits_1(gate, prometheus_url):
    code, out, _ = gate("sparse", "--prometheus", prometheus_url, "--window", "600s", "--json")

    assert code == 1 and json.loads(out)["verdict"] == "inconclusive"


def test_without_window_it_counts_since_the_step_began_on_the_base_branch(gate, prometheus_url):
    code, out, _ = gate("healthy", "--prometheus", prometheus_url, "--json")

    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "pass"
    seconds = int(doc["window"].removesuffix("s"))
    assert 700 <= seconds < 800
    assert doc["canary"]["requests"] == pytest.approx(200 * seconds, rel=0.02)


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "no app 'nope' in the stack"),
        (["healthy", "--window", "5 minutes"], "--window '5 minutes' is not a Prometheus duration"),
    ],
)
def test_bad_input_exits_2(args, message, gate):
    code, _, err = gate(*args, "--prometheus", "http://127.0.0.1:1")

    assert code == 2 and message in err


def test_a_stack_with_the_retired_keys_exits_2_naming_the_new_ones(repo, gate):
    repo.file.write_text(stack_text({"healthy": app(canary=10)}, {"maxErrorRateDelta": 1.0}))

    code, _, err = gate("healthy", "--prometheus", "http://127.0.0.1:1", "--window", "5m")

    assert code == 2
    assert "delivery.maxErrorRateDelta: was removed: use delivery.errorRateTolerance" in err
    assert "Traceback" not in err


def test_an_unreachable_prometheus_exits_3(gate):
    port = servers.free_port()

    code, _, err = gate("healthy", "--prometheus", f"http://127.0.0.1:{port}", "--window", "5m")

    assert code == 3 and f"Prometheus at http://127.0.0.1:{port}: cannot reach" in err
