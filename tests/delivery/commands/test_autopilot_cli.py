"""`python -m delivery autopilot`: exit codes, the JSON document, the written edit and the PR text."""

from __future__ import annotations

import json
import time

import pytest

from delivery.__main__ import main
from tests.support.stack_repo import GA_TAG, STACK, StackRepo, app, stack_text

pytestmark = pytest.mark.slow  # starts a real Prometheus and git

STEP_AGO = 700  # more than the default bake time, 10m


@pytest.fixture
def repo(tmp_path) -> StackRepo:
    repo = StackRepo(tmp_path)
    now = int(time.time())
    repo.commit(
        now - 7200,
        "initial",
        stack_text({"healthy": app(canary=0, canary_tag=GA_TAG), "failing": app(canary=0, canary_tag=GA_TAG)}),
    )
    return repo


@pytest.fixture
def autopilot(repo, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["autopilot", "--stack", STACK, "--project-dir", str(repo.path), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def step(repo: StackRepo, apps: dict, ago: int = STEP_AGO) -> None:
    repo.commit(int(time.time()) - ago, "the step", stack_text(apps))


def test_write_json_promotes_edits_the_stack_file_and_describes_the_pull_request(repo, autopilot, prometheus_url):
    step(repo, {"healthy": app(canary=10), "failing": app(canary=0, canary_tag=GA_TAG)})
    before = repo.file.read_text()

    code, out, _ = autopilot("--prometheus", prometheus_url, "--write", "--json")

    assert code == 0
    doc = json.loads(out)
    assert (doc["schema"], doc["version"]) == ("istio-canary/autopilot", 1)
    assert set(doc) == {
        "schema",
        "version",
        "stack",
        "stack_file",
        "stack_path",
        "base",
        "base_commit",
        "decided_at",
        "prometheus",
        "exit_code",
        "decisions",
        "changed",
        "pull_request",
    }
    assert (doc["stack"], doc["base"], doc["base_commit"], doc["exit_code"]) == (STACK, "HEAD", repo.head(), 0)
    assert doc["stack_path"] == f"Pulumi.{STACK}.yaml"
    healthy, failing = doc["decisions"]
    assert (healthy["app"], healthy["action"], healthy["canary"]) == ("healthy", "promote", {"from": 10, "to": 60})
    assert healthy["bake"]["required_seconds"] == 600 and healthy["bake"]["observed_seconds"] >= STEP_AGO
    assert healthy["bake"]["step_commit"] == repo.head()
    gate = healthy["gate"]
    assert gate["verdict"] == "pass" and gate["window"] == f"{healthy['bake']['observed_seconds']}s"
    assert gate["canary"]["requests"] == pytest.approx(200 * healthy["bake"]["observed_seconds"], rel=0.02)
    # Latency at both edges of GA's p99 bucket, (250, 500] ms.
    tests = [(t["metric"], t.get("boundary_ms"), t["verdict"]) for t in gate["tests"]]
    assert tests == [("errors", None, "pass"), ("latency", 250.0, "pass"), ("latency", 500.0, "pass")]
    assert gate["tests"][0]["log_e_pass"] >= gate["tests"][0]["pass_bound"]
    assert (failing["action"], failing["gate"]) == ("none", None)

    assert doc["changed"] is True
    pr = doc["pull_request"]
    assert pr["title"] == "autopilot(auto): promote healthy GA 90 / canary 10 -> GA 40 / canary 60"
    assert pr["labels"] == ["autopilot", "autopilot:promote"] and pr["automerge"] is False
    assert "| healthy | **promote** | GA 90 / canary 10 -> GA 40 / canary 60 |" in pr["body"]
    assert "| errors: canary error rate <= max(1.25 x GA's, GA's + 0.1 points) |" in pr["body"]
    assert "the judge passed it after" in pr["body"]
    # The edit changes the weights and nothing else.
    old_weights = "weights:\n        ga: 90\n        canary: 10\n"
    assert before.count(old_weights) == 1
    assert repo.file.read_text() == before.replace(old_weights, "weights:\n        ga: 40\n        canary: 60\n")


def test_a_rollback_pull_request_is_labelled_for_auto_merge(repo, autopilot, prometheus_url):
    step(repo, {"healthy": app(canary=0, canary_tag=GA_TAG), "failing": app(canary=10)}, ago=120)

    code, out, _ = autopilot("--prometheus", prometheus_url, "--write", "--json")

    doc = json.loads(out)
    assert code == 0 and doc["decisions"][1]["action"] == "rollback"
    assert doc["pull_request"]["labels"] == ["autopilot", "autopilot:rollback", "automerge"]
    assert doc["pull_request"]["automerge"] is True
    assert "weights:\n        ga: 100\n        canary: 0\n" in repo.file.read_text().split("failing:")[1]


def test_text_output_prints_each_decision_then_the_pr_title_and_markdown_body(repo, autopilot, prometheus_url):
    step(repo, {"healthy": app(canary=10), "failing": app(canary=0, canary_tag=GA_TAG)})

    code, out, _ = autopilot("--prometheus", prometheus_url, "--write")

    assert code == 0
    assert "healthy              promote   GA 90 / canary 10 -> GA 40 / canary 60 " in out
    assert "PASS:\n" in out and "errors: canary " in out
    assert "wrote Pulumi.auto.yaml" in out
    assert "PR title: autopilot(auto): promote healthy GA 90 / canary 10 -> GA 40 / canary 60" in out
    assert (
        "### healthy: promote" in out
        and "Judge over the step so far" in out
        and ": **pass**, against healthy-ga" in out
    )


def test_without_write_nothing_is_edited(repo, autopilot, prometheus_url):
    step(repo, {"healthy": app(canary=10), "failing": app(canary=0, canary_tag=GA_TAG)})
    before = repo.file.read_text()

    code, out, _ = autopilot("--prometheus", prometheus_url, "--json")

    assert code == 0 and json.loads(out)["pull_request"] is None and repo.file.read_text() == before


def test_prometheus_down_holds_and_exits_3_without_editing(repo, autopilot, down_url):
    step(repo, {"healthy": app(canary=10), "failing": app(canary=60)})
    before = repo.file.read_text()

    code, out, err = autopilot("--prometheus", down_url, "--write", "--json")

    doc = json.loads(out)
    assert code == 3 and doc["exit_code"] == 3
    assert [d["action"] for d in doc["decisions"]] == ["hold", "hold"]
    assert all(d["metrics_unavailable"] for d in doc["decisions"])
    assert doc["pull_request"] is None and repo.file.read_text() == before
    assert "Prometheus could not be queried" in err


def test_credentials_in_the_prometheus_url_are_not_printed(repo, autopilot, down_url):
    url = down_url.replace("http://", "http://bot:s3cret@")

    code, out, _ = autopilot("--prometheus", url, "--json")

    assert code == 0 and "s3cret" not in out  # nothing in flight: Prometheus was not asked
    assert json.loads(out)["prometheus"] == down_url


@pytest.mark.parametrize(
    "args, status, message",
    [
        # A base git cannot read is "cannot answer" (exit 3) everywhere, as in `check` (issue 12).
        (["--base", "nope"], 3, "--base 'nope' is not a commit"),
        (["--stack", "missing"], 2, "no stack file Pulumi.missing.yaml"),
    ],
)
def test_bad_input_exits_naming_it(repo, autopilot, args, status, message):
    code, _, err = autopilot(*args)
    assert code == status and message in err


def test_an_invalid_stack_exits_2_naming_the_key(repo, autopilot):
    repo.file.write_text(
        repo.file.read_text().replace("config:\n", "config:\n  istio-canary:delivery: {steps: [10, 60]}\n")
    )

    code, _, err = autopilot()

    assert code == 2 and "delivery.steps: [10, 60] must end at 100" in err
