"""The policy pack on what a team writes in apps.<app>: each risky key is caught by the rule, at the
level, a platform engineer expects (Pod Security `restricted` mandatory, the rest advisory)."""

from __future__ import annotations

import copy

import pytest

from delivery.plan import engine
from delivery.plan import policy_runner as policy


@pytest.fixture(scope="module")
def render_team(team_config):
    def render(**keys):
        config = copy.deepcopy(team_config)
        config["istio-canary:apps"]["api"].update(keys)
        violations = policy.evaluate(engine.render("team", config).to_json())
        return {(v["policy"], v["level"]) for v in violations if v["urn"].endswith("Deployment::api")}

    return render


def test_the_team_stack_passes_every_policy(team_plan):
    assert policy.evaluate(team_plan.to_json()) == []


@pytest.mark.parametrize(
    "keys, violation",
    [
        pytest.param({"securityContext": {"runAsUser": 0}}, ("pod-security-restricted", "mandatory"), id="root"),
        pytest.param(
            {"securityContext": {"readOnlyRootFilesystem": False}},
            ("workload-security", "advisory"),
            id="writable-root",
        ),
        pytest.param({"probes": {"liveness": {"path": "/live"}}}, ("readiness-probe", "advisory"), id="no-readiness"),
        pytest.param({"env": {"DB_PASSWORD": "hunter2"}}, ("secrets-are-secret", "mandatory"), id="plain-password"),
        pytest.param({"env": {"STRIPE_KEY": "sk"}}, ("secrets-are-secret", "mandatory"), id="plain-key"),
        pytest.param({"env": {"API_TOKEN": "t"}}, ("secrets-are-secret", "mandatory"), id="plain-token"),
    ],
)
def test_a_risky_app_key_is_reported_on_its_deployment(render_team, keys, violation):
    assert render_team(**keys) == {violation}


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param({"env": {"KEYCLOAK_URL": "https://sso.example.com", "ACCESS_KEY_ID": "AKIA"}}, id="not-keys"),
        pytest.param({"secretEnv": {"DB_PASSWORD": {"secret": "db", "key": "password"}}}, id="secret-ref"),
        pytest.param({"securityContext": {"runAsUser": 65532, "runAsGroup": 65532}}, id="another-uid"),
    ],
)
def test_what_is_safe_is_not_reported(render_team, keys):
    assert render_team(**keys) == set()
