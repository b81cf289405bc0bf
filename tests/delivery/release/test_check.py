"""`check` (the PR rules) and `changed-stacks` (the CI matrix) against a temporary git repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from delivery.__main__ import main
from tests.support.project import FIXTURES_DIR, PODINFO, git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose base commit holds the dev stack (podinfo at GA 90 / canary 10), the local stack
    and a program file."""
    if shutil.which("git") is None:
        pytest.skip("git not found: apt-get install git")
    for name in ("Pulumi.dev.yaml", "Pulumi.local.yaml"):
        shutil.copy(FIXTURES_DIR / name, tmp_path / name)
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "mesh.py").write_text("ISTIO = 1\n")
    (tmp_path / "README.md").write_text("# readme\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def edit(repo: Path, *replacements: tuple[str, str], stack: str = "dev") -> None:
    path = repo / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text)


@pytest.fixture
def check(repo, capsys):
    def run(base: str = "main", stack: str = "dev") -> tuple[int, str, str]:
        code = main(["check", "--stack", stack, "--base", base, "--project-dir", str(repo)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def weights(ga: int, canary: int) -> tuple[str, str]:
    return PODINFO["weights"], f"weights: {{ga: {ga}, canary: {canary}}}"


def test_a_step_up_to_the_next_of_delivery_steps_passes(repo, check):
    edit(repo, weights(40, 60))
    code, out, _ = check()
    assert code == 0
    assert "ok    apps.podinfo.weights.canary 10 -> 60 (next step 60)" in out and "check passed" in out


def test_a_canary_weight_going_past_the_next_step_fails(repo, check):
    edit(repo, weights(30, 70))
    code, out, err = check()
    assert code == 1
    assert "FAIL  apps.podinfo.weights.canary 10 -> 70 goes past the next step 60 (delivery.steps [10, 60, 100]" in out
    assert "1 problem" in err


def test_check_json_is_one_document_with_the_verdict_and_every_finding(repo, capsys):
    edit(repo, weights(30, 70))
    code = main(["check", "--stack", "dev", "--base", "main", "--json", "--project-dir", str(repo)])
    doc = json.loads(capsys.readouterr().out)  # stdout holds the JSON document and nothing else
    assert code == 1
    assert (doc["schema"], doc["version"], doc["stack"], doc["base"]) == ("istio-canary/check", 1, "dev", "main")
    assert (doc["passed"], doc["problems"]) == (False, 1)
    failed = [f["text"] for f in doc["findings"] if f["level"] == "FAIL"]
    assert len(failed) == 1
    assert failed[0].startswith("apps.podinfo.weights.canary 10 -> 70 goes past the next step 60")
    assert all(set(f) == {"level", "text"} and f["level"] in ("ok", "note", "FAIL") for f in doc["findings"])


def test_a_pr_cannot_raise_max_weight_step_and_use_it_at_once(repo, check):
    edit(repo, weights(0, 100), ("maxWeightStep: 50", "maxWeightStep: 100"))
    code, out, _ = check()
    assert code == 1 and "goes past the next step 60" in out and "at most +50 per PR" in out
    assert "note  delivery.maxWeightStep 50 -> 100: this PR is held to 50" in out


def test_rolling_back_any_amount_passes(repo, check):
    edit(repo, weights(100, 0))
    assert check()[0] == 0


def test_a_tag_outside_its_track_fails(repo, check):
    edit(repo, (PODINFO["canary"], 'canary: {tag: 6.15.0, track: "6.14.x", replicas: 1}'))
    code, out, _ = check()
    assert code == 1 and "FAIL  apps.podinfo.canary.tag 6.15.0 is outside its track '6.14.x'" in out


def test_ga_tag_change_while_the_canary_holds_traffic_fails(repo, check):
    edit(repo, (PODINFO["ga"], 'ga: {tag: 6.13.1, track: "6.13.x", replicas: 2}'))
    code, out, _ = check()
    assert code == 1
    assert "FAIL  apps.podinfo.ga.tag 6.13.0 -> 6.13.1 while the canary holds traffic (canary 10 at the base, 10" in out


def test_ga_tag_change_with_the_canary_at_zero_passes(repo, check):
    edit(repo, weights(100, 0))
    git(repo, "commit", "-q", "-am", "rollback")
    edit(repo, (PODINFO["ga"], 'ga: {tag: 6.13.1, track: "6.13.x", replicas: 2}'))
    code, out, _ = check(base="HEAD")
    assert code == 0 and "apps.podinfo.ga.tag 6.13.0 -> 6.13.1 (the canary holds no traffic)" in out


def test_finalizing_a_canary_at_100_passes(repo, check):
    edit(repo, weights(0, 100))
    git(repo, "commit", "-q", "-am", "canary at 100")
    assert main(["finalize", "--stack", "dev", "podinfo", "--project-dir", str(repo)]) == 0
    code, out, _ = check(base="HEAD")
    assert code == 0, out
    assert "GA takes the tag the canary served to 100% (finalize)" in out


def test_an_unchanged_stack_passes_and_says_so(repo, check):
    code, out, _ = check()
    assert code == 0 and "no weight or tag changes" in out


def test_a_new_stack_is_checked_without_a_base(repo, check):
    shutil.copy(repo / "Pulumi.dev.yaml", repo / "Pulumi.prod.yaml")
    code, out, _ = check(stack="prod")
    assert code == 0 and "does not exist at main: a new stack" in out


@pytest.mark.parametrize(
    "base, stack, change, message",
    [
        ("main", "prod", None, "no stack file Pulumi.prod.yaml"),
        ("main", "dev", weights(80, 30), "apps.podinfo.weights: GA 80 / canary 30 sum to 110"),
    ],
)
def test_bad_ref_missing_file_or_invalid_config_exit_2(repo, check, base, stack, change, message):
    if change:
        edit(repo, change)
    code, _, err = check(base=base, stack=stack)
    assert code == 2 and message in err and "Traceback" not in err


# --- changed-stacks ------------------------------------------------------------------------


@pytest.fixture
def changed_stacks(repo, capsys):
    shutil.copy(repo / "Pulumi.dev.yaml", repo / "Pulumi.prod.yaml")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "prod stack")

    def run(*args: str) -> list[str]:
        assert main(["changed-stacks", *args, "--project-dir", str(repo)]) == 0
        return json.loads(capsys.readouterr().out)

    return run


def test_a_stack_file_change_touches_that_stack_only(repo, changed_stacks):
    edit(repo, weights(50, 50), stack="prod")
    assert changed_stacks("--base", "HEAD") == ["prod"]


def test_a_program_change_touches_every_deployable_stack(repo, changed_stacks):
    (repo / "components" / "mesh.py").write_text("ISTIO = 2\n")
    assert changed_stacks("--base", "HEAD") == ["dev", "prod"]  # local is an existing cluster CI cannot reach
    assert changed_stacks("--base", "HEAD", "--any-cluster") == ["dev", "local", "prod"]


def test_a_docs_change_touches_no_stack(repo, changed_stacks):
    (repo / "README.md").write_text("# more\n")
    assert changed_stacks("--base", "HEAD") == []


def test_a_new_branch_without_before_touches_every_stack(repo, changed_stacks):
    assert changed_stacks("--base", "0" * 40) == ["dev", "prod"]
    assert changed_stacks("--all") == ["dev", "prod"]


def test_changed_stacks_says_nothing_about_stacks_left_alone(repo, changed_stacks, capsys):
    edit(repo, weights(50, 50), stack="prod")
    assert main(["changed-stacks", "--base", "HEAD", "--project-dir", str(repo)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == ["prod"]
    assert "local" not in out.err and "dev" not in out.err  # untouched: not skipped, not listed


def test_changed_stacks_says_why_a_touched_stack_is_skipped(repo, changed_stacks, capsys):
    (repo / "components" / "mesh.py").write_text("ISTIO = 2\n")
    assert main(["changed-stacks", "--base", "HEAD", "--project-dir", str(repo)]) == 0
    assert "local: skipped, an existing cluster CI cannot reach" in capsys.readouterr().err
