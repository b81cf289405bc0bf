"""Applications as the program renders them for the dev stack (and a variant of it)."""

from __future__ import annotations

import shlex

import pytest

from delivery.plan import engine
from model.settings import ConfigError, parse_stack_config

APPS = "istio-canary:apps"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
DESTINATION_RULE = "kubernetes:networking.istio.io/v1:DestinationRule"
CANARY = "kubernetes:flagger.app/v1beta1:Canary"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
WORKLOAD_TYPES = {
    DEPLOYMENT,
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:helm.sh/v3:Release",
}
DIGEST = "sha256:" + "ab" * 32


def children(plan, component: dict, type_: str | None = None) -> list[dict]:
    return [r for r in plan.resources if r["parent"] == component["urn"] and (type_ is None or r["type"] == type_)]


def spec(plan, name: str, type_: str) -> dict:
    return plan.named(name, type_)["inputs"]["spec"]


def container(deployment: dict) -> dict:
    (only,) = deployment["inputs"]["spec"]["template"]["spec"]["containers"]
    return only


def depends_on(plan, resource: dict) -> set[str]:
    """Every URN a resource waits for, directly or through what it waits for."""
    by_urn, seen, todo = plan.by_urn(), set(), list(resource["dependencies"])
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo += by_urn[urn]["dependencies"] if urn in by_urn else []
    return seen


def app_config(config: dict) -> dict:
    return config["istio-canary:apps"]


@pytest.fixture(scope="module")
def variant_plan(render_config):
    """Dev with a canary pinned by digest and the progressive canary published on a host."""

    def mutate(config):
        apps = app_config(config)
        apps["podinfo"]["canary"] = {"tag": DIGEST, "replicas": 1}
        apps["backend"]["hosts"] = ["backend.example.com"]

    return render_config(mutate)


# --- weighted -----------------------------------------------------------------------------


def test_weighted_app_runs_ga_and_canary_deployments_of_their_tags(dev_plan, dev_config):
    podinfo = app_config(dev_config)["podinfo"]
    component = dev_plan.named("podinfo", f"{APPS}:WeightedRelease")
    assert {r["name"] for r in children(dev_plan, component, DEPLOYMENT)} == {
        "podinfo-ga",
        "podinfo-canary",
        "podinfo-loadtest",
    }
    for track in ("ga", "canary"):
        deployment = dev_plan.named(f"podinfo-{track}", DEPLOYMENT)
        side = podinfo[track]
        spec_ = deployment["inputs"]["spec"]
        assert deployment["inputs"]["metadata"]["namespace"] == "test"
        assert spec_["replicas"] == side["replicas"]
        assert spec_["template"]["metadata"]["labels"] == {"app": "podinfo", "track": track, "version": side["tag"]}
        assert spec_["selector"]["matchLabels"] == {"app": "podinfo", "track": track}
        assert container(deployment)["image"] == f"{podinfo['image']}:{side['tag']}"


def test_app_containers_serve_http_on_9898_with_probes_limits_and_no_privileges(dev_plan):
    for name in ("podinfo-ga", "podinfo-canary", "backend", "frontend"):
        c = container(dev_plan.named(name, DEPLOYMENT))
        assert c["ports"] == [{"name": "http", "containerPort": 9898, "protocol": "TCP"}]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert set(c["resources"]) == {"requests", "limits"}
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"


def test_weighted_service_selects_both_sides_by_app_only(dev_plan):
    service = spec(dev_plan, "podinfo", "kubernetes:core/v1:Service")
    assert service["selector"] == {"app": "podinfo"}
    assert service["ports"] == [{"name": "http", "port": 9898, "targetPort": "http"}]


def test_each_weighted_side_has_a_disruption_budget_that_allows_drains(dev_plan):
    for track in ("ga", "canary"):
        pdb = spec(dev_plan, f"podinfo-{track}", "kubernetes:policy/v1:PodDisruptionBudget")
        assert pdb == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "podinfo", "track": track}}}


def test_virtual_service_weights_equal_the_stack_file(dev_plan, dev_config):
    weights = app_config(dev_config)["podinfo"]["weights"]
    (route,) = spec(dev_plan, "podinfo", VIRTUAL_SERVICE)["http"]
    assert {d["destination"]["subset"]: d["weight"] for d in route["route"]} == weights
    for d in route["route"]:
        assert d["destination"]["host"] == "podinfo.test.svc.cluster.local"
        assert d["destination"]["port"] == {"number": 9898}


def test_virtual_service_keeps_a_zero_weight_destination(render_config):
    plan = render_config(lambda c: app_config(c)["podinfo"].update(weights={"ga": 100, "canary": 0}))
    (route,) = spec(plan, "podinfo", VIRTUAL_SERVICE)["http"]
    assert [(d["destination"]["subset"], d["weight"]) for d in route["route"]] == [("ga", 100), ("canary", 0)]


def test_virtual_service_serves_the_mesh_and_every_host_through_the_public_gateway(dev_plan, dev_config):
    from components.mesh import PUBLIC_GATEWAY

    vs = spec(dev_plan, "podinfo", VIRTUAL_SERVICE)
    assert vs["hosts"] == ["podinfo", *app_config(dev_config)["podinfo"]["hosts"]]
    assert vs["gateways"] == ["mesh", PUBLIC_GATEWAY]
    gateway = dev_plan.named(PUBLIC_GATEWAY.split("/")[1], "kubernetes:networking.istio.io/v1:Gateway")
    assert gateway["inputs"]["metadata"]["namespace"] == PUBLIC_GATEWAY.split("/")[0]


def test_virtual_service_subsets_exist_and_select_their_deployments_pods(dev_plan):
    (route,) = spec(dev_plan, "podinfo", VIRTUAL_SERVICE)["http"]
    dr = spec(dev_plan, "podinfo", DESTINATION_RULE)
    subsets = {s["name"]: s["labels"] for s in dr["subsets"]}
    assert dr["host"] == route["route"][0]["destination"]["host"]
    for destination in route["route"]:
        subset = destination["destination"]["subset"]
        pod_labels = spec(dev_plan, f"podinfo-{subset}", DEPLOYMENT)["template"]["metadata"]["labels"]
        assert subset in subsets
        assert subsets[subset].items() <= pod_labels.items()
        other = "canary" if subset == "ga" else "ga"
        other_labels = spec(dev_plan, f"podinfo-{other}", DEPLOYMENT)["template"]["metadata"]["labels"]
        assert not subsets[subset].items() <= other_labels.items()


def test_load_generator_runs_hey_against_the_service_at_the_configured_rate(dev_plan, dev_config):
    loadtest = app_config(dev_config)["podinfo"]["loadtest"]
    c = container(dev_plan.named("podinfo-loadtest", DEPLOYMENT))
    assert ":" in c["image"] and not c["image"].endswith(":latest")
    script = c["command"][-1]
    hey = shlex.split(script.split("hey", 1)[1].split(";")[0])
    args = dict(zip(hey[0:-1:2], hey[1:-1:2], strict=False))
    assert hey[-1] == "http://podinfo.test:9898/version"
    assert int(args["-c"]) == loadtest["concurrency"]
    assert float(args["-q"]) * int(args["-c"]) == pytest.approx(loadtest["qps"])
    assert script.startswith("while true;")  # a new run whenever one ends: load for as long as it runs
    assert c["securityContext"]["runAsNonRoot"] is True


def test_a_digest_tag_pins_the_image_by_digest(variant_plan):
    deployment = variant_plan.named("podinfo-canary", DEPLOYMENT)
    assert container(deployment)["image"] == f"ghcr.io/stefanprodan/podinfo@{DIGEST}"
    assert deployment["inputs"]["spec"]["template"]["metadata"]["labels"]["version"] == "sha256-" + "ab" * 6


def test_weighted_app_rejects_a_wildcard_host(dev_config):
    config = {**dev_config, "istio-canary:apps": {"podinfo": {**app_config(dev_config)["podinfo"], "hosts": ["*"]}}}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert [path for path, _ in err.value.problems] == ["apps.podinfo.hosts"]


# --- Flagger apps -------------------------------------------------------------------------


def test_flagger_apps_set_no_replicas_and_define_no_routing_of_their_own(dev_plan):
    for name, kind in (("backend", "ProgressiveCanary"), ("frontend", "ABTest")):
        component = dev_plan.named(name, f"{APPS}:{kind}")
        types = {r["type"] for r in children(dev_plan, component)}
        assert types == {DEPLOYMENT, HPA, CANARY}
        assert "replicas" not in spec(dev_plan, name, DEPLOYMENT)
    # Flagger generates these for the apps it canaries (fluxcd/flagger#1715): none may be ours.
    ours = [
        r["inputs"]["metadata"]
        for t in (VIRTUAL_SERVICE, DESTINATION_RULE, "kubernetes:core/v1:Service")
        for r in dev_plan.of_type(t)
        if not r.get("read")
    ]
    assert not [m["name"] for m in ours if m["namespace"] == "prod" and m["name"].startswith(("backend", "frontend"))]


def test_flagger_deployments_scale_with_a_cpu_autoscaler(dev_plan):
    for name in ("backend", "frontend"):
        hpa = spec(dev_plan, name, HPA)
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"
        canary = spec(dev_plan, name, CANARY)
        assert canary["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert canary["autoscalerRef"] == {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": name,
        }
        assert canary["service"]["port"] == 9898


def test_progressive_canary_analysis_follows_the_stack_file(dev_plan, dev_config):
    wanted = {k: v for k, v in app_config(dev_config)["backend"]["analysis"].items() if k != "webhooks"}
    analysis = spec(dev_plan, "backend", CANARY)["analysis"]
    assert {k: analysis[k] for k in wanted} == wanted
    assert "iterations" not in analysis and "match" not in analysis


def test_flagger_metrics_use_the_platform_metric_templates(dev_plan):
    templates = {
        (r["inputs"]["metadata"]["name"], r["inputs"]["metadata"]["namespace"]): r["urn"]
        for r in dev_plan.of_type("kubernetes:flagger.app/v1beta1:MetricTemplate")
    }
    for name in ("backend", "frontend"):
        canary = dev_plan.named(name, CANARY)
        metrics = {m["name"]: m for m in canary["inputs"]["spec"]["analysis"]["metrics"]}
        assert {n: m["thresholdRange"] for n, m in metrics.items()} == {
            "error-rate": {"max": 1},
            "latency": {"max": 500},
        }
        for metric in metrics.values():
            ref = (metric["templateRef"]["name"], metric["templateRef"]["namespace"])
            assert ref in templates
            assert templates[ref] in canary["dependencies"]  # the Canary kind exists once Flagger is in


def test_flagger_webhooks_go_through_the_namespace_load_tester(dev_plan):
    loadtesters = {
        r["inputs"]["namespace"]: r
        for r in dev_plan.of_type("kubernetes:helm.sh/v3:Release")
        if r["inputs"]["chart"] == "loadtester"
    }
    for name in ("backend", "frontend"):
        hooks = {h["type"]: h for h in spec(dev_plan, name, CANARY)["analysis"]["webhooks"]}
        assert set(hooks) == {"pre-rollout", "rollout"}
        assert hooks["pre-rollout"]["url"] == hooks["rollout"]["url"]
        host = hooks["rollout"]["url"].split("//")[1].split("/")[0].split(":")[0]
        assert host.split(".")[1] == "prod" and "prod" in loadtesters
        assert f"http://{name}-canary.prod:9898" in hooks["rollout"]["metadata"]["cmd"]
        assert hooks["pre-rollout"]["metadata"]["cmd"].startswith("curl")


def test_ab_test_routes_matching_requests_for_a_number_of_iterations(dev_plan, dev_config):
    from components.mesh import PUBLIC_GATEWAY

    frontend = app_config(dev_config)["frontend"]
    canary = spec(dev_plan, "frontend", CANARY)
    assert canary["analysis"]["iterations"] == frontend["analysis"]["iterations"]
    assert canary["analysis"]["match"] == [{"headers": {m["header"]: {"regex": m["regex"]}}} for m in frontend["match"]]
    assert "maxWeight" not in canary["analysis"]
    assert canary["service"]["hosts"] == frontend["hosts"]
    # '*' cannot be bound to the mesh gateway: the A/B test is served at the edge only.
    assert canary["service"]["gateways"] == [PUBLIC_GATEWAY]


def test_a_published_progressive_canary_is_routed_at_the_edge_and_in_the_mesh(variant_plan):
    from components.mesh import PUBLIC_GATEWAY

    service = spec(variant_plan, "backend", CANARY)["service"]
    assert service["hosts"] == ["backend.example.com"]
    assert service["gateways"] == [PUBLIC_GATEWAY, "mesh"]


# --- namespaces, ordering, exports --------------------------------------------------------


def test_each_app_namespace_is_created_once_with_sidecar_injection(dev_plan, dev_config):
    wanted = {app["namespace"] for app in app_config(dev_config).values()}
    (component,) = dev_plan.of_type(f"{APPS}:AppNamespaces")
    namespaces = children(dev_plan, component, "kubernetes:core/v1:Namespace")
    assert sorted(ns["inputs"]["metadata"]["name"] for ns in namespaces) == sorted(wanted)
    for ns in namespaces:
        assert ns["inputs"]["metadata"]["labels"] == {"istio-injection": "enabled"}


def test_workloads_wait_for_istiod(dev_plan, dev_config):
    istiod = dev_plan.named("istiod", "kubernetes:helm.sh/v3:Release")["urn"]
    app_namespaces = {app["namespace"] for app in app_config(dev_config).values()}
    workloads = [
        r
        for r in dev_plan.resources
        if r["type"] in WORKLOAD_TYPES
        and ((r["inputs"].get("metadata") or {}).get("namespace") or r["inputs"].get("namespace")) in app_namespaces
    ]
    assert {r["name"] for r in workloads} >= {"podinfo-ga", "podinfo-canary", "podinfo-loadtest", "backend", "frontend"}
    for workload in workloads:
        assert istiod in depends_on(dev_plan, workload), workload["name"]


def test_istio_routing_waits_for_istio_crds(dev_plan):
    base = dev_plan.named("istio-base", "kubernetes:helm.sh/v3:Release")["urn"]
    for type_ in (VIRTUAL_SERVICE, DESTINATION_RULE):
        assert base in dev_plan.named("podinfo", type_)["dependencies"]


def test_exports_give_each_app_its_url_weights_and_tags(dev_plan, dev_config):
    apps = dev_plan.outputs["apps"]
    podinfo = app_config(dev_config)["podinfo"]
    assert apps["podinfo"]["url"] == f"http://{podinfo['hosts'][0]}/"
    assert apps["podinfo"]["weights"] == podinfo["weights"]
    assert apps["podinfo"]["tags"] == {"ga": podinfo["ga"]["tag"], "canary": podinfo["canary"]["tag"]}
    # '*' has no name to browse to: the gateway's address is the way in.
    assert apps["frontend"]["url"] == f"http://{engine.MOCK_INGRESS_IP}/"
    assert apps["frontend"]["tags"] == {"target": app_config(dev_config)["frontend"]["tag"]}
    assert apps["backend"]["url"] is None  # not published: reachable in the mesh only


def test_weights_move_only_after_both_sides_have_rolled_out(dev_plan):
    # A finalize PR (GA to the new tag, 100/0) must not flip traffic to the old GA mid-rollout:
    # the VirtualService waits for both Deployments, whose rollouts Pulumi awaits.
    virtual_service = dev_plan.named("podinfo", "kubernetes:networking.istio.io/v1:VirtualService")
    for side in ("podinfo-ga", "podinfo-canary"):
        deployment = dev_plan.named(side, "kubernetes:apps/v1:Deployment")
        assert deployment["urn"] in virtual_service["dependencies"]
        assert "pulumi.com/skipAwait" not in (deployment["inputs"]["metadata"].get("annotations") or {})
