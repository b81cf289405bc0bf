"""The policy pack: the dev plan passes every rule, and a minimal mutation of it is reported
with the rule's name and the offending resource's URN, by the offline runner, by
`python -m delivery policy`, and by the pack itself running under the CrossGuard SDK."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from delivery.plan import policy_runner as policy
from policies import rules
from tests.support.project import PROJECT_DIR

POLICIES_DIR = PROJECT_DIR / "policies"
BY_NAME = {p.name: p for p in rules.POLICIES}


@pytest.fixture(scope="module")
def dev(dev_plan) -> dict:
    return copy.deepcopy(dev_plan.to_json())


def find(plan: dict, name: str, kind: str) -> dict:
    """The resource called `name` whose type ends with `:<kind>`."""
    found = [r for r in plan["resources"] if r["name"] == name and r["type"].endswith(f":{kind}")]
    assert len(found) == 1, f"{len(found)} {kind} named {name} in the plan"
    return found[0]


def added_copy(plan: dict, name: str, kind: str, new_name: str) -> dict:
    """A copy of a resource under a new name (and URN), appended to the plan."""
    clone = copy.deepcopy(find(plan, name, kind))
    clone["urn"] = clone["urn"].rsplit("::", 1)[0] + f"::{new_name}"
    clone["name"] = new_name
    plan["resources"].append(clone)
    return clone


def containers_of(plan: dict, deployment: str) -> list:
    return find(plan, deployment, "Deployment")["inputs"]["spec"]["template"]["spec"]["containers"]


def _weights(ga, canary):
    def mutate(plan):
        route = find(plan, "podinfo", "VirtualService")["inputs"]["spec"]["http"][0]["route"]
        route[0]["weight"], route[1]["weight"] = ga, canary

    return mutate


def _drop_dependencies(name: str, kind: str, *targets: tuple[str, str]):
    def mutate(plan):
        gone = {find(plan, n, k)["urn"] for n, k in targets}
        resource = find(plan, name, kind)
        resource["dependencies"] = [d for d in resource["dependencies"] if d not in gone]

    return mutate


def _add_backend_routing(kind: str):
    """Our own VirtualService/DestinationRule for `backend`, which a Canary manages."""

    def mutate(plan):
        clone = added_copy(plan, "podinfo", kind, "backend-routing")
        clone["inputs"]["metadata"] = {"name": "backend", "namespace": "prod"}
        if kind == "VirtualService":
            clone["inputs"]["spec"]["hosts"] = ["backend"]
            clone["inputs"]["spec"]["http"] = [{"route": [{"destination": {"host": "backend.prod.svc.cluster.local"}}]}]
        else:
            clone["inputs"]["spec"] = {
                "host": "backend.prod.svc.cluster.local",
                "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
            }

    return mutate


def _set(name: str, kind: str, path: str, value):
    """Set `inputs.<path>` (dots; `[i]` for list items) of one resource."""

    def mutate(plan):
        target = find(plan, name, kind)["inputs"]
        keys = [int(k[1:-1]) if k.startswith("[") else k for k in path.replace("[", ".[").split(".")]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def _also(*mutations):
    def mutate(plan):
        for m in mutations:
            m(plan)

    return mutate


# (rule, what the mutation is, mutate(plan), (name, kind) of the resource it must be reported on)
MUTATIONS: list[tuple[str, str, Callable[[dict], None], tuple[str, str]]] = [
    ("virtualservice-weights", "weights 95/10", _weights(95, 10), ("podinfo", "VirtualService")),
    ("virtualservice-weights", "weights 110/-10", _weights(110, -10), ("podinfo", "VirtualService")),
    ("virtualservice-weights", "weight as a string", _weights("90", 10), ("podinfo", "VirtualService")),
    (
        "pinned-images",
        "image :latest",
        _set(
            "podinfo-ga", "Deployment", "spec.template.spec.containers[0].image", "ghcr.io/stefanprodan/podinfo:latest"
        ),
        ("podinfo-ga", "Deployment"),
    ),
    (
        "pinned-images",
        "image without a tag",
        _set(
            "podinfo-loadtest",
            "Deployment",
            "spec.template.spec.containers[0].image",
            "ghcr.io/fluxcd/flagger-loadtester",
        ),
        ("podinfo-loadtest", "Deployment"),
    ),
    (
        "pinned-images",
        "chart value image.tag latest",
        _set("flagger-loadtester-prod", "Release", "values.image", {"tag": "latest"}),
        ("flagger-loadtester-prod", "Release"),
    ),
    ("pinned-charts", "version range", _set("istiod", "Release", "version", "~1.30.3"), ("istiod", "Release")),
    (
        "pinned-charts",
        "http repository",
        _set("prometheus", "Release", "repositoryOpts.repo", "http://prometheus-community.github.io/helm-charts"),
        ("prometheus", "Release"),
    ),
    (
        "workload-resources",
        "no memory request",
        _set("podinfo-canary", "Deployment", "spec.template.spec.containers[0].resources.requests", {"cpu": "100m"}),
        ("podinfo-canary", "Deployment"),
    ),
    (
        "workload-resources",
        "no memory limit",
        _set("backend", "Deployment", "spec.template.spec.containers[0].resources.limits", {}),
        ("backend", "Deployment"),
    ),
    (
        "workload-security",
        "runs as root",
        _set(
            "frontend",
            "Deployment",
            "spec.template.spec.containers[0].securityContext",
            {"runAsNonRoot": False, "runAsUser": 0, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
        ),
        ("frontend", "Deployment"),
    ),
    (
        "workload-security",
        "privilege escalation allowed",
        _set(
            "podinfo-ga",
            "Deployment",
            "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
            True,
        ),
        ("podinfo-ga", "Deployment"),
    ),
    (
        "sidecar-injection",
        "injection disabled",
        _set("prod", "Namespace", "metadata.labels", {"istio-injection": "disabled"}),
        ("prod", "Namespace"),
    ),
    (
        "sidecar-injection",
        "workload in an undeclared namespace",
        _set("podinfo-loadtest", "Deployment", "metadata.namespace", "loadtest"),
        ("podinfo-loadtest", "Deployment"),
    ),
    (
        "gke-hardening",
        "client certificate issued",
        _set("cluster", "Cluster", "masterAuth.clientCertificateConfig.issueClientCertificate", True),
        ("cluster", "Cluster"),
    ),
    (
        "gke-hardening",
        "no Workload Identity",
        _set("cluster", "Cluster", "workloadIdentityConfig", {}),
        ("cluster", "Cluster"),
    ),
    (
        "gke-hardening",
        "default compute service account",
        _set("cluster-pool", "NodePool", "nodeConfig.serviceAccount", "default"),
        ("cluster-pool", "NodePool"),
    ),
    (
        "gke-hardening",
        "auto-repair off",
        _set("cluster-pool", "NodePool", "management.autoRepair", False),
        ("cluster-pool", "NodePool"),
    ),
    (
        "routing-consistency",
        "route to an undeclared subset",
        _set("podinfo", "VirtualService", "spec.http[0].route[1].destination.subset", "canary2"),
        ("podinfo", "VirtualService"),
    ),
    (
        "routing-consistency",
        "subset labels no pod carries",
        _set("podinfo", "DestinationRule", "spec.subsets[1].labels", {"track": "beta"}),
        ("podinfo", "DestinationRule"),
    ),
    (
        "gateway-selector",
        "selector istio: ingressgateway",
        _set("public-gateway", "Gateway", "spec.selector", {"istio": "ingressgateway"}),
        ("public-gateway", "Gateway"),
    ),
    # Without `labels.istio`, the chart labels the pods of release `istio-ingress` istio: ingress.
    (
        "gateway-selector",
        "gateway release renamed, label from its name",
        _also(
            _set("istio-gateway", "Release", "values.labels", {}),
            _set("istio-gateway", "Release", "name", "istio-ingress"),
        ),
        ("public-gateway", "Gateway"),
    ),
    # The Deployment names its namespace as a plain string, so it no longer waits for the
    # Namespace, which is what waits for istiod.
    (
        "workloads-wait-for-istiod",
        "Deployment without a path to istiod",
        _drop_dependencies("podinfo-ga", "Deployment", ("test", "Namespace")),
        ("podinfo-ga", "Deployment"),
    ),
    (
        "workloads-wait-for-istiod",
        "load tester without depends_on istiod",
        _drop_dependencies("flagger-loadtester-prod", "Release", ("istiod", "Release"), ("prod", "Namespace")),
        ("flagger-loadtester-prod", "Release"),
    ),
    (
        "workloads-wait-for-istiod",
        "gateway before istiod",
        _drop_dependencies("istio-gateway", "Release", ("istiod", "Release")),
        ("istio-gateway", "Release"),
    ),
    (
        "flagger-owns-routing",
        "our VirtualService for a canaried service",
        _add_backend_routing("VirtualService"),
        ("backend-routing", "VirtualService"),
    ),
    (
        "flagger-owns-routing",
        "our DestinationRule for a canaried service",
        _add_backend_routing("DestinationRule"),
        ("backend-routing", "DestinationRule"),
    ),
    (
        "flagger-owns-routing",
        "replicas on the target Deployment",
        _set("backend", "Deployment", "spec.replicas", 2),
        ("backend", "Deployment"),
    ),
    (
        "flagger-metrics-server",
        "Flagger's chart default",
        _set("flagger", "Release", "values.metricsServer", "http://prometheus:9090"),
        ("flagger", "Release"),
    ),
    (
        "flagger-metrics-server",
        "MetricTemplate at another Prometheus",
        _set(
            "metric-template-error-rate",
            "MetricTemplate",
            "spec.provider.address",
            "http://prometheus.istio-system:9090",
        ),
        ("metric-template-error-rate", "MetricTemplate"),
    ),
    (
        "secrets-are-secret",
        "Grafana password in Helm values",
        _set("grafana", "Release", "values.adminPassword", "admin"),
        ("grafana", "Release"),
    ),
    # Even a Pulumi secret is reported inline: CrossGuard hands it to policies in plain text.
    (
        "secrets-are-secret",
        "Slack webhook as an env value",
        _set("flagger", "Release", "values.env", [{"name": "SLACK_URL", "value": "[secret]"}]),
        ("flagger", "Release"),
    ),
]


def test_dev_plan_passes_every_policy(dev):
    violations = policy.evaluate(dev)
    assert violations == [], "\n".join(f"{v['policy']}: {v['message']}" for v in violations)


@pytest.mark.parametrize("rule, _what, mutate, offender", MUTATIONS, ids=[f"{m[0]}: {m[1]}" for m in MUTATIONS])
def test_each_rule_reports_the_resource_a_minimal_mutation_breaks(dev, rule, _what, mutate, offender):
    plan = copy.deepcopy(dev)
    mutate(plan)
    urn = find(plan, *offender)["urn"]
    violations = policy.evaluate(plan)
    assert {(v["policy"], v["urn"]) for v in violations} == {(rule, urn)}, violations


def test_every_rule_has_a_mutation_case():
    assert {m[0] for m in MUTATIONS} == set(BY_NAME)


def test_violation_messages_never_repeat_a_credential(dev):
    plan = copy.deepcopy(dev)
    _set("grafana", "Release", "values.adminPassword", "hunter2-not-a-secret")(plan)
    [violation] = policy.evaluate(plan, [BY_NAME["secrets-are-secret"]])
    assert "values.adminPassword" in violation["message"] and "hunter2" not in violation["message"]


def test_fractional_weights_are_rejected_even_when_they_sum_to_100(dev):
    plan = copy.deepcopy(dev)
    _weights(90.5, 9.5)(plan)
    [violation] = policy.evaluate(plan, [BY_NAME["virtualservice-weights"]])
    assert "must be an integer 0..100, got [90.5, 9.5]" in violation["message"]


# --- the dependency path of workloads-wait-for-istiod, on a hand-built plan ---------------


def _resource(
    name: str, type_: str, inputs: dict | None = None, parent: str | None = None, dependencies: tuple[str, ...] = ()
) -> dict:
    return {
        "urn": f"urn:pulumi:dev::p::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "provider": None,
        "dependencies": list(dependencies),
        "inputs": inputs or {},
    }


def _deployment(name: str, namespace: str, parent: str | None = None, dependencies: tuple[str, ...] = ()) -> dict:
    return _resource(
        name,
        "kubernetes:apps/v1:Deployment",
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "a:1"}]},
                }
            },
        },
        parent,
        dependencies,
    )


def test_workloads_wait_for_istiod_through_dependencies_namespaces_and_parents():
    istiod = _resource(
        "istiod", "kubernetes:helm.sh/v3:Release", {"name": "istiod", "chart": "istiod", "namespace": "istio-system"}
    )
    ns = _resource(
        "apps",
        "kubernetes:core/v1:Namespace",
        {"metadata": {"name": "apps", "labels": {"istio-injection": "enabled"}}},
        dependencies=(istiod["urn"],),
    )
    waiting_component = _resource("waits", "my:index:Component", dependencies=(istiod["urn"],))
    free_component = _resource("free", "my:index:Component")
    direct = _deployment("direct", "apps", dependencies=(istiod["urn"],))
    via_namespace = _deployment("via-namespace", "apps", dependencies=(ns["urn"],))
    via_parent = _deployment("via-parent", "apps", parent=waiting_component["urn"])
    none = _deployment("none", "apps", parent=free_component["urn"])
    plan = {"resources": [istiod, ns, waiting_component, free_component, direct, via_namespace, via_parent, none]}
    violations = policy.evaluate(plan, [BY_NAME["workloads-wait-for-istiod"]])
    assert [v["urn"] for v in violations] == [none["urn"]]


def test_istiod_that_skips_await_does_not_count_as_a_wait():
    istiod = _resource("istiod", "kubernetes:helm.sh/v3:Release", {"chart": "istiod", "skipAwait": True})
    gateway = _resource("gw", "kubernetes:helm.sh/v3:Release", {"chart": "gateway"}, dependencies=(istiod["urn"],))
    violations = policy.evaluate({"resources": [istiod, gateway]}, [BY_NAME["workloads-wait-for-istiod"]])
    assert [v["urn"] for v in violations] == [istiod["urn"]]


def test_values_unknown_in_a_preview_do_not_stop_the_other_checks():
    # A first real preview cannot know outputs of resources not yet created: a new service
    # account's email, a namespace name taken from an output. What is known is still judged.
    pool = _resource(
        "pool",
        "gcp:container/nodePool:NodePool",
        {"management": {"autoRepair": False}, "nodeConfig": {"serviceAccount": "[unknown]"}},
    )
    deployment = _deployment("app", "[unknown]")
    deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] = "app:latest"
    gateway = _resource(
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


def test_replicas_that_a_controller_sets_on_the_live_deployment_are_not_the_programs(dev):
    # After the first `pulumi up`, a stack policy sees the live Deployment: `spec.replicas` is
    # always there (the HPA, Flagger); only the fields Pulumi's field manager owns are the program's.
    def live(manager: str) -> dict:
        plan = copy.deepcopy(dev)
        backend = find(plan, "backend", "Deployment")["inputs"]
        backend["spec"]["replicas"] = 0
        backend["status"] = {"replicas": 0}
        backend["metadata"]["managedFields"] = [
            {"manager": manager, "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]
        return plan

    rule = [BY_NAME["flagger-owns-routing"]]
    assert policy.evaluate(live("kube-controller-manager"), rule) == []
    assert [v["urn"] for v in policy.evaluate(live("pulumi-kubernetes-7f3a9c1e"), rule)] == [
        find(dev, "backend", "Deployment")["urn"]
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
    assert len(names) == len(set(names)) == 13


def test_only_workload_security_is_advisory_and_every_rule_says_how_to_fix():
    levels = {p.name: p.enforcement_level for p in rules.POLICIES}
    assert {n for n, level in levels.items() if level == rules.ADVISORY} == {"workload-security"}
    assert all(level == rules.MANDATORY for n, level in levels.items() if n != "workload-security")
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
    _weights(95, 10)(plan)
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
    _set("podinfo-ga", "Deployment", "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem", False)(
        plan
    )
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
    for _, _, mutate, _ in MUTATIONS:
        mutate(plan)
    offline = {(v["policy"], v["level"], v["urn"] or "", v["message"]) for v in policy.evaluate(plan)}
    assert {v[0] for v in offline} == set(BY_NAME)
    assert crossguard_violations(analyzer, plan) == offline
