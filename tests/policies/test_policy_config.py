"""Teardown: deletion protection is its own policy, which a stack's policy config file relaxes the way
`pulumi up --policy-pack-config FILE` does (Pulumi's JSON format: pulumi.com/docs "Configuring policy
packs"; pulumi/pulumi pkg/resource/analyzer/config.go). The documented teardown is one PR that sets
`deletionProtection: false` and adds `policy-config.<stack>.json`, then one `pulumi destroy`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel

from delivery.__main__ import main
from delivery.errors import UsageError
from delivery.plan import policy_config
from delivery.plan import policy_runner as policy
from policies import rules
from tests.policies.support.plans import find
from tests.support.project import FIXTURES_DIR

NAMES = [p.name for p in rules.POLICIES]
DECLARED = {p.name: policy.level_of(p) for p in rules.POLICIES}
ADVISORY = [name for name, level in DECLARED.items() if level == EnforcementLevel.ADVISORY]


@pytest.fixture(scope="module")
def teardown_dir(tmp_path_factory) -> Path:
    """The fixture dev stack as the teardown PR leaves it: deletion protection off."""
    stack_dir = tmp_path_factory.mktemp("teardown")
    text = (FIXTURES_DIR / "Pulumi.dev.yaml").read_text()
    assert "deletionProtection: true" in text
    (stack_dir / "Pulumi.dev.yaml").write_text(text.replace("deletionProtection: true", "deletionProtection: false"))
    return stack_dir


def preview(stack_dir: Path, out: Path, *extra: str) -> tuple[int, dict]:
    code = main(["preview", "--stack", "dev", "--stack-dir", str(stack_dir), "--out", str(out), "--quiet", *extra])
    return code, json.loads((out / "plan.json").read_text())


def write(path: Path, config: object) -> Path:
    path.write_text(json.dumps(config))
    return path


def test_teardown_preview_without_the_policy_config_is_blocked(teardown_dir, tmp_path, capsys):
    code, plan = preview(teardown_dir, tmp_path / "out")
    assert code == 1
    assert [(v["policy"], v["level"]) for v in plan["violations"]] == [("gke-deletion-protection", "mandatory")]
    assert "deletion protection is off" in plan["violations"][0]["message"]


@pytest.mark.parametrize(
    "config, level",
    [
        ({"gke-deletion-protection": "advisory"}, "advisory"),
        ({"gke-deletion-protection": {"enforcementLevel": "advisory"}}, "advisory"),
        ({"gke-deletion-protection": {"enforcementLevel": "disabled"}}, None),
    ],
)
def test_teardown_preview_with_the_policy_config_passes(teardown_dir, tmp_path, capsys, config, level):
    code, plan = preview(teardown_dir, tmp_path / "out", "--policy-config", str(write(tmp_path / "c.json", config)))
    assert code == 0, capsys.readouterr().err
    assert [(v["policy"], v["level"]) for v in plan["violations"]] == (
        [("gke-deletion-protection", level)] if level else []
    )
    assert "gke-deletion-protection" in capsys.readouterr().out  # the summary names the configured level


def test_relaxing_deletion_protection_leaves_every_other_rule_mandatory(dev, tmp_path, capsys):
    plan = json.loads(json.dumps(dev))
    cluster = find(plan, "cluster", "Cluster")["inputs"]
    cluster["deletionProtection"] = False
    cluster["enableLegacyAbac"] = True
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    config = write(tmp_path / "c.json", {"gke-deletion-protection": "advisory"})
    assert main(["policy", "--plan", str(tmp_path / "plan.json"), "--policy-config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "advisory  gke-deletion-protection" in out and "mandatory  gke-hardening: " in out


def test_the_policy_config_of_the_cli_and_the_pack_name_the_same_policies():
    assert "gke-deletion-protection" in NAMES and "gke-hardening" in NAMES
    deletion = next(p for p in rules.POLICIES if p.name == "gke-deletion-protection")
    assert deletion.enforcement_level == EnforcementLevel.MANDATORY


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("  \n", {}),  # the CLI accepts an empty file
        ('{"gke-deletion-protection": "advisory"}', {"gke-deletion-protection": "advisory"}),
        ('{"gke-deletion-protection": {"enforcementLevel": "disabled"}}', {"gke-deletion-protection": "disabled"}),
        ('{"gke-deletion-protection": {}}', {}),
        # `all` first, then each policy's own entry (pulumi/pulumi analyzer/config.go applyConfig).
        (
            '{"all": "mandatory", "gke-deletion-protection": "advisory"}',
            {**dict.fromkeys(NAMES, "mandatory"), "gke-deletion-protection": "advisory"},
        ),
        ('{"gke-hardening": "remediate"}', {"gke-hardening": "remediate"}),
    ],
)
def test_policy_config_follows_pulumis_format(text, expected):
    levels = policy_config.parse(text, DECLARED, rules.RELAXABLE)
    assert {name: level.value for name, level in levels.items()} == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"gke-deletion-protecton": "advisory"}', "'gke-deletion-protecton' is not a policy of this pack"),
        ('{"gke-deletion-protection": "off"}', "'off' is not an enforcement level"),
        ('{"gke-deletion-protection": {"enforcementLevel": 1}}', "not an enforcement level"),
        ('{"gke-deletion-protection": {"enforcementlevel": "advisory"}}', "unknown key 'enforcementlevel'"),
        ('{"gke-deletion-protection": ["advisory"]}', "must be an enforcement level or an object"),
        ('["advisory"]', "must be a JSON object"),
        ("{", "not JSON"),
    ],
)
def test_a_bad_policy_config_is_a_usage_error_naming_the_key(text, message):
    with pytest.raises(UsageError, match="--policy-config") as raised:
        policy_config.parse(text, DECLARED, rules.RELAXABLE)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "config, key",
    [
        ({"all": "disabled"}, "all"),
        ({"all": "advisory"}, "all"),
        ({"all": {"enforcementLevel": "disabled"}, "gke-deletion-protection": "disabled"}, "all"),
        ({"gke-deletion-protection": "advisory", "gke-hardening": "advisory"}, "gke-hardening"),
        ({"secrets-are-secret": {"enforcementLevel": "disabled"}}, "secrets-are-secret"),
        ({ADVISORY[0]: "disabled"}, ADVISORY[0]),  # an advisory policy switched off is relaxed too
    ],
)
def test_a_policy_config_may_relax_only_deletion_protection(config, key):
    with pytest.raises(UsageError) as raised:
        policy_config.parse(json.dumps(config), DECLARED, rules.RELAXABLE)
    assert f"--policy-config: {key}: " in str(raised.value)
    assert "may relax only gke-deletion-protection" in str(raised.value)


def test_a_policy_config_that_disables_the_pack_stops_preview_with_exit_2(teardown_dir, tmp_path, capsys):
    config = write(tmp_path / "c.json", {"all": "disabled"})
    out = tmp_path / "out"
    args = ["--stack", "dev", "--stack-dir", str(teardown_dir), "--policy-config", str(config)]
    assert main(["preview", *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--policy-config {config}: all: 'disabled' would lower" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["policy", "--plan", str(tmp_path / "plan.json"), "--policy-config", str(config)]) == 2


def test_a_bad_policy_config_file_stops_preview_with_exit_2_before_the_program_runs(tmp_path, capsys):
    config = write(tmp_path / "c.json", {"gke-deletion-protection": "sometimes"})
    out = tmp_path / "out"
    code = main(
        [
            "preview",
            "--stack",
            "dev",
            "--stack-dir",
            str(FIXTURES_DIR),
            "--out",
            str(out),
            "--policy-config",
            str(config),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "'sometimes' is not an enforcement level" in err and "Traceback" not in err
    assert not out.exists()
    missing = main(["policy", "--plan", str(tmp_path / "plan.json"), "--policy-config", str(tmp_path / "none.json")])
    assert missing == 2 and "no such file" in capsys.readouterr().err


def test_evaluate_applies_levels_to_the_policies_they_name(dev):
    plan = json.loads(json.dumps(dev))
    find(plan, "cluster", "Cluster")["inputs"]["deletionProtection"] = False
    levels = {"gke-deletion-protection": EnforcementLevel.ADVISORY}
    assert [v["level"] for v in policy.evaluate(plan)] == ["mandatory"]
    assert [v["level"] for v in policy.evaluate(plan, levels=levels)] == ["advisory"]
    assert policy.evaluate(plan, levels={"gke-deletion-protection": EnforcementLevel.DISABLED}) == []
