"""Day 2 of the control plane: istiod and the gateway highly available on GKE (replicas, disruption
budgets, zone spread, rendered by the real charts), bounded Helm history, and the Istio version on
every injected pod template so that an Istio upgrade rolls the workloads onto the new proxy."""

from __future__ import annotations

import copy

import pytest

from components.helm import RELEASE_MAX_HISTORY
from components.pods import ISTIO_VERSION_ANNOTATION
from delivery.plan import verify
from model.settings import ConfigError, parse_stack_config
from tests.components.support.platform import RELEASE, release, waits_for

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def rendered(plan, release_name: str) -> list[dict]:
    """The objects the real chart renders for one release of the plan (shared/reference/charts)."""
    only = [r for r in plan.resources if r["type"] != RELEASE or r["name"] in ("istio-base", release_name)]
    report = verify.Report()
    items = verify.render_all(only, report)
    assert not report.defects, report.defects
    return next(item.objects for item in items if item.release.name == release_name)


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


@pytest.mark.parametrize("name, pod_labels", [("istiod", {"app": "istiod"}), ("istio-gateway", {"istio": "gateway"})])
def test_gke_runs_two_replicas_of_istiod_and_the_gateway_with_a_disruption_budget(dev_plan, name, pod_labels):
    objects = rendered(dev_plan, name)
    [hpa] = of_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] == 2
    [pdb] = of_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    [deployment] = of_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]
    assert pod_labels.items() <= pod["metadata"]["labels"].items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    spread = {c["topologyKey"]: c for c in pod["spec"]["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in spread.values():
        assert constraint["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"  # a zonal cluster still schedules both
        # Only this ReplicaSet's pods count: not the old ones mid-rollout, nor another revision's.
        assert constraint["matchLabelKeys"] == ["pod-template-hash"]


def test_istiods_spread_does_not_count_the_istiod_pods_of_another_revision(dev_plan):
    [deployment] = of_kind(rendered(dev_plan, "istiod"), "Deployment")
    pod = deployment["spec"]["template"]
    # A canary upgrade's istiod (`revision: 1-31`): the chart labels its pods like ours but for the revision.
    other = {**pod["metadata"]["labels"], "istio.io/rev": "1-31"}
    for constraint in pod["spec"]["topologySpreadConstraints"]:
        selector = constraint["labelSelector"]["matchLabels"]
        assert selector.items() <= pod["metadata"]["labels"].items()
        assert not selector.items() <= other.items()


@pytest.mark.parametrize("name", ["istiod", "istio-gateway"])
def test_the_kind_stack_stays_at_one_replica_without_a_budget(local_plan, name):
    objects = rendered(local_plan, name)
    assert [hpa["spec"]["minReplicas"] for hpa in of_kind(objects, "HorizontalPodAutoscaler")] == [1]
    assert of_kind(objects, "PodDisruptionBudget") == []


def test_control_plane_size_comes_from_the_platform_keys(render_config):
    def mutate(config):
        config["istio-canary:platform"].update(
            istiodReplicas=3, istiodMaxReplicas=7, gatewayReplicas=4, gatewayMaxReplicas=9
        )

    plan = render_config(mutate)
    istiod = release(plan, "istiod")["inputs"]["values"]
    gateway = release(plan, "istio-gateway")["inputs"]["values"]
    assert (istiod["autoscaleMin"], istiod["autoscaleMax"]) == (3, 7)
    assert gateway["autoscaling"] == {"minReplicas": 4, "maxReplicas": 9}


def _config(dev_config, **platform) -> dict:
    config = copy.deepcopy(dev_config)
    config["istio-canary:platform"].update(platform)
    return config


@pytest.mark.parametrize(
    "platform, key",
    [
        ({"istiodReplicas": 1}, "platform.istiodReplicas"),
        ({"gatewayReplicas": 1}, "platform.gatewayReplicas"),
        ({"gatewayReplicas": 6}, "platform.gatewayMaxReplicas"),  # more than the default maximum 5
        ({"istiodReplicas": 3, "istiodMaxReplicas": 2}, "platform.istiodMaxReplicas"),
        ({"istiodReplicas": "2"}, "platform.istiodReplicas"),
        ({"gatewayMaxReplicas": 0}, "platform.gatewayMaxReplicas"),
        ({"istiodReplicas": 21}, "platform.istiodReplicas"),
    ],
)
def test_control_plane_sizes_are_validated_naming_the_key(dev_config, platform, key):
    with pytest.raises(ConfigError) as raised:
        parse_stack_config(_config(dev_config, **platform))
    assert key in [path for path, _ in raised.value.problems], raised.value.problems


def test_every_helm_release_keeps_a_bounded_history(dev_plan, local_plan):
    releases = [r for plan in (dev_plan, local_plan) for r in plan.of_type(RELEASE)]
    assert len(releases) >= 7
    assert all(r["inputs"]["maxHistory"] == RELEASE_MAX_HISTORY == 10 for r in releases), [
        (r["name"], r["inputs"].get("maxHistory")) for r in releases
    ]


# --- the Istio version on injected pod templates -----------------------------------------------------


def _injected_namespaces(plan) -> set[str]:
    return {
        r["inputs"]["metadata"]["name"]
        for r in plan.of_type("kubernetes:core/v1:Namespace")
        if (r["inputs"]["metadata"].get("labels") or {}).get("istio-injection") == "enabled"
    }


def _pod_annotations(plan) -> dict[str, dict]:
    """Each workload of the program's own, and each Helm release's pod annotations value."""
    found = {}
    for r in plan.resources:
        kind = r["type"].rsplit(":", 1)[-1]
        if r["type"].startswith("kubernetes:apps/") and kind in WORKLOADS:
            meta = r["inputs"]["spec"]["template"].get("metadata") or {}
            found[f"{kind}/{r['name']}"] = (r["inputs"]["metadata"]["namespace"], meta.get("annotations") or {})
    return found


def test_every_injected_pod_template_carries_the_istio_version(dev_plan):
    injected = _injected_namespaces(dev_plan)
    workloads = _pod_annotations(dev_plan)
    assert injected and len([w for w, (ns, _) in workloads.items() if ns in injected]) >= 4
    for where, (namespace, pod_annotations) in workloads.items():
        assert namespace in injected, where  # the program's own workloads all run in the mesh
        assert pod_annotations[ISTIO_VERSION_ANNOTATION] == "1.30.3", where
    # Helm releases in an injected namespace (Flagger's load testers) too; the rest do not.
    for r in dev_plan.of_type(RELEASE):
        pod_annotations = (r["inputs"].get("values") or {}).get("podAnnotations") or {}
        if r["inputs"]["namespace"] in injected:
            assert pod_annotations.get(ISTIO_VERSION_ANNOTATION) == "1.30.3", r["name"]
        else:
            assert ISTIO_VERSION_ANNOTATION not in pod_annotations, r["name"]


def test_an_istio_upgrade_changes_every_injected_pod_template_and_nothing_else(dev_plan, render_config):
    upgraded = render_config(lambda c: c["istio-canary:platform"].update(istioVersion="1.30.4"))
    before, after = _pod_annotations(dev_plan), _pod_annotations(upgraded)
    assert before.keys() == after.keys()
    for where in before:
        assert after[where][1][ISTIO_VERSION_ANNOTATION] == "1.30.4", where
        assert {**before[where][1], ISTIO_VERSION_ANNOTATION: "1.30.4"} == after[where][1], where
    # Each of them waits for istiod, so `pulumi up` restarts it only once the new istiod serves.
    istiod = release(upgraded, "istiod")["urn"]
    for r in upgraded.resources:
        if f"{r['type'].rsplit(':', 1)[-1]}/{r['name']}" in after:
            assert istiod in waits_for(upgraded, r["urn"]), r["urn"]
    monitoring = [r["name"] for r in upgraded.of_type(RELEASE) if r["inputs"]["namespace"] == "monitoring"]
    assert monitoring
    for name in monitoring:  # Prometheus and Grafana run outside the mesh: no restart for them
        assert release(upgraded, name)["inputs"]["values"] == release(dev_plan, name)["inputs"]["values"], name


def test_uninstalling_istio_base_or_flagger_keeps_their_crds(dev_plan):
    # What the README's "stuck release" procedure tells a user about `helm uninstall`.
    report = verify.Report()
    items = verify.render_all(list(dev_plan.resources), report)
    crds = {
        item.release.name: of_kind(item.objects, "CustomResourceDefinition")
        for item in items
        if item.release.name in ("istio-base", "flagger")
    }
    assert len(crds["istio-base"]) >= 10 and len(crds["flagger"]) >= 3
    for release_name, found in crds.items():
        for crd in found:
            annotations = crd["metadata"].get("annotations") or {}
            assert annotations.get("helm.sh/resource-policy") == "keep", (release_name, crd["metadata"]["name"])
