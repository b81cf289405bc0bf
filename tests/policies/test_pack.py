"""The policy pack as a whole: the dev plan passes every rule, every rule has a breaking case
(tests/policies/support/mutations.py; each domain's test_<domain>_rules.py checks its own), and
violations are reported alike by the offline runner, by `python -m delivery policy`, and by the
pack itself running under the CrossGuard SDK."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from delivery.plan import policy_runner as policy
from policies import rules
from tests.policies.support.mutations import ALL
from tests.policies.support.plans import BY_NAME, find, make_deployment, make_resource, set_input, set_weights
from tests.support.project import PROJECT_DIR

POLICIES_DIR = PROJECT_DIR / "policies"


def test_dev_plan_passes_every_policy(dev):
    violations = policy.evaluate(dev)
    assert violations == [], "\n".join(f"{v['policy']}: {v['message']}" for v in violations)


def test_every_rule_has_a_mutation_case():
    assert {m[0] for m in ALL} == set(BY_NAME)


def test_values_unknown_in_a_preview_do_not_stop_the_other_checks():
    # A first real preview cannot know outputs of resources not yet created: a new service
    # account's email, a namespace name taken from an output. What is known is still judged.
    pool = make_resource(
        "pool",
        "gcp:container/nodePool:NodePool",
        {"management": {"autoRepair": False}, "nodeConfig": {"serviceAccount": "[unknown]"}},
    )
    deployment = make_deployment("app", "[unknown]")
    deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] = "app:latest"
    gateway = make_resource(
        "gw",
        "kubernetes:networking.istio.io/v1:Gateway",
        {"metadata": {"name": "gw", "namespace": "[unknown]"}, "spec": {"selector": {"istio": "ingressgateway"}}},
    )
    rules_run = [BY_NAME[name] for name in ("gke-hardening", "pinned-images", "sidecar-injection", "gateway-selector")]
    violations = policy.evaluate({"resources": [pool, deployment, gateway]}, rules_run)
    assert [(v["policy"], v["urn"]) for v in violations] == [
        ("gke-hardening", pool["urn"]),
        ("pinned-images", deployment["urn"]),
        ("gateway-selector", gateway["urn"]),
    ]


# --- the pack ------------------------------------------------------------------------------


def test_pack_holds_every_policy_of_rules_and_names_are_unique():
    tree = ast.parse((POLICIES_DIR / "__main__.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "rules"
        for alias in node.names
    }
    [pack] = [
        node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "PolicyPack"
    ]
    passed = {kw.arg: kw.value for kw in pack.keywords}
    assert isinstance(passed["policies"], ast.Name) and passed["policies"].id == "POLICIES" and "POLICIES" in imported

    defined = [
        v for v in vars(rules).values() if isinstance(v, (rules.ResourceValidationPolicy, rules.StackValidationPolicy))
    ]
    assert {id(p) for p in defined} == {id(p) for p in rules.POLICIES}
    names = [p.name for p in rules.POLICIES]
    assert len(names) == len(set(names)) == 16


def test_only_read_only_root_and_readiness_are_advisory_and_every_rule_says_how_to_fix():
    # Pod Security `restricted` forbids root, privileges and added capabilities (mandatory here); it says
    # nothing of a read-only root filesystem or probes, which some images and services cannot meet.
    advisory = {"workload-security", "readiness-probe"}
    levels = {p.name: p.enforcement_level for p in rules.POLICIES}
    assert {n for n, level in levels.items() if level == rules.ADVISORY} == advisory
    assert all(level == rules.MANDATORY for n, level in levels.items() if n not in advisory)
    assert all(len(p.description) > 60 for p in rules.POLICIES)


def test_pack_project_pins_what_the_program_pins():
    project = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["version"]

    def pins(path: Path) -> dict[str, str]:
        lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
        return dict(line.split("==") for line in lines if "==" in line)

    pack, program = pins(POLICIES_DIR / "requirements.txt"), pins(PROJECT_DIR / "requirements.txt")
    assert {"pulumi", "pulumi-policy"} <= set(pack)
    assert all(program[name] == version for name, version in pack.items())


# --- python -m delivery policy --plan --------------------------------------------------------


def run_policy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "delivery", "policy", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_plan(tmp_path: Path, plan: dict) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


@pytest.mark.slow
def test_policy_command_exits_1_and_prints_rule_urn_and_fix_on_a_mandatory_violation(dev, tmp_path):
    plan = copy.deepcopy(dev)
    set_weights(95, 10)(plan)
    result = run_policy("--plan", str(write_plan(tmp_path, plan)))
    assert result.returncode == 1, result.stderr
    assert (
        "mandatory  virtualservice-weights: VirtualService test/podinfo http[0]: weights [95, 10] sum to 105"
        in result.stdout
    )
    assert f"urn: {find(plan, 'podinfo', 'VirtualService')['urn']}" in result.stdout
    assert f"fix: {BY_NAME['virtualservice-weights'].description}" in result.stdout


@pytest.mark.slow
def test_policy_command_exits_0_with_only_advisory_violations(dev, tmp_path):
    plan = copy.deepcopy(dev)
    read_only_root = "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem"
    set_input("podinfo-ga", "Deployment", read_only_root, False)(plan)
    result = run_policy("--plan", str(write_plan(tmp_path, plan)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "advisory  workload-security" in result.stdout and "passed, 0 mandatory violations, 1 advisory" in result.stdout
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("{not json", "is not JSON"),
        ('{"resources": [{"urn": "u"}]}', "resources[0].type is missing"),
    ],
)
def test_policy_command_rejects_a_bad_plan_with_exit_2(tmp_path, content, message):
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    result = run_policy("--plan", str(path))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


# --- the pack under the real CrossGuard SDK ---------------------------------------------------

SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def _as_engine_sends(value):
    """Plan inputs as the engine marshals them for an analyzer: secrets wrapped, unknowns as sentinels."""
    if isinstance(value, dict):
        return {k: _as_engine_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_engine_sends(v) for v in value]
    if value == "[secret]":
        return {**SECRET_SIG, "value": "the plain value CrossGuard hands over"}
    return policy.ENGINE_UNKNOWN if value == "[unknown]" else value


@pytest.fixture(scope="module")
def analyzer():
    """The pack started as `pulumi preview --policy-pack policies` starts it, and a gRPC client."""
    grpc = pytest.importorskip("grpc")
    from pulumi.runtime.proto import analyzer_pb2_grpc

    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", "import runpy; runpy.run_path('policies', run_name='__main__')"],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def crossguard_violations(stub, plan: dict) -> set[tuple[str, str, str, str]]:
    from google.protobuf import json_format, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    levels = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory"}
    by_urn = {r["urn"]: r for r in plan["resources"]}

    def struct(inputs: dict) -> struct_pb2.Struct:
        return json_format.ParseDict(_as_engine_sends(inputs), struct_pb2.Struct())

    def provider(r: dict):
        p = by_urn.get(r.get("provider") or "")
        return (
            analyzer_pb2.AnalyzerProviderResource(
                type=p["type"], properties=struct(p["inputs"]), urn=p["urn"], name=p["name"]
            )
            if p
            else None
        )

    def options(r: dict):
        return analyzer_pb2.AnalyzerResourceOptions(
            parent=r.get("parent") or "", additionalSecretOutputs=r.get("additionalSecretOutputs") or []
        )

    found = set()

    def collect(response, default_urn: str) -> None:
        for d in response.diagnostics:
            message = d.message.removeprefix(d.description + "\n")
            found.add((d.policyName, levels[d.enforcementLevel], d.urn or default_urn, message))

    for r in plan["resources"]:
        if not r.get("read"):
            collect(
                stub.Analyze(
                    analyzer_pb2.AnalyzeRequest(
                        type=r["type"],
                        properties=struct(r["inputs"]),
                        urn=r["urn"],
                        name=r["name"],
                        options=options(r),
                        provider=provider(r),
                    )
                ),
                r["urn"],
            )
    collect(
        stub.AnalyzeStack(
            analyzer_pb2.AnalyzeStackRequest(
                resources=[
                    analyzer_pb2.AnalyzerResource(
                        type=r["type"],
                        properties=struct(r["inputs"]),
                        urn=r["urn"],
                        name=r["name"],
                        options=options(r),
                        provider=provider(r),
                        parent=r.get("parent") or "",
                        dependencies=r.get("dependencies") or [],
                    )
                    for r in plan["resources"]
                ]
            )
        ),
        "",
    )
    return found


@pytest.mark.slow
def test_pack_serves_every_rule_with_its_enforcement_level(analyzer):
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == rules.PACK_NAME
    served = {p.name: p.enforcementLevel for p in info.policies}
    assert served == {
        p.name: (analyzer_pb2.ADVISORY if p.enforcement_level == rules.ADVISORY else analyzer_pb2.MANDATORY)
        for p in rules.POLICIES
    }


@pytest.mark.slow
def test_crossguard_and_the_offline_runner_report_the_same_violations(analyzer, dev):
    plan = copy.deepcopy(dev)
    assert crossguard_violations(analyzer, plan) == set()
    for _, _, mutate, _ in ALL:
        mutate(plan)
    offline = {(v["policy"], v["level"], v["urn"] or "", v["message"]) for v in policy.evaluate(plan)}
    assert {v[0] for v in offline} == set(BY_NAME)
    assert crossguard_violations(analyzer, plan) == offline
