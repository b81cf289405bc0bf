"""Each single deliberate break of the wiring, applied to the recorded dev plan, is caught by
`verify` with a message that names both ends of the broken link."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from conftest import reference_file

from delivery.plan.verify import verify_plan


@pytest.fixture(scope="module")
def charts_dir():
    return [reference_file("charts/base-1.30.3.tgz").parent]


@pytest.fixture(scope="module")
def clean(dev_plan, charts_dir, tmp_path_factory):
    result = verify_plan(dev_plan.resources, dirs=charts_dir, cache=tmp_path_factory.mktemp("cache"))
    assert not result.report.defects, [d.message for d in result.report.defects]
    return dev_plan.resources


def _named(resources: list[dict], name: str, type_suffix: str) -> dict:
    [found] = [r for r in resources if r["name"] == name and r["type"].endswith(type_suffix)]
    return found


def _without_dependency(name: str, type_suffix: str, dependency: str) -> Callable[[list[dict]], None]:
    def mutate(resources):
        resource = _named(resources, name, type_suffix)
        resource["dependencies"] = [d for d in resource["dependencies"] if not d.endswith(f"::{dependency}")]

    return mutate


def _set(name: str, type_suffix: str, path: str, value) -> Callable[[list[dict]], None]:
    def mutate(resources):
        node = _named(resources, name, type_suffix)["inputs"]
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[int(last) if isinstance(node, list) else last] = value

    return mutate


def _set_key(name: str, type_suffix: str, key: str, value) -> Callable[[list[dict]], None]:
    def mutate(resources):
        _named(resources, name, type_suffix)[key] = value

    return mutate


def _duplicate_grafana_configmap(resources):
    namespace = _named(resources, "monitoring", "Namespace")
    resources.append(
        {
            "urn": namespace["urn"].replace("Namespace::monitoring", "ConfigMap::grafana-copy"),
            "type": "kubernetes:core/v1:ConfigMap",
            "name": "grafana-copy",
            "parent": None,
            "provider": None,
            "dependencies": [namespace["urn"]],
            "inputs": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "grafana", "namespace": "monitoring"},
                "data": {},
            },
        }
    )


MUTATIONS = {
    "gateway pod label": (
        _set("istio-gateway", "Release", "values.labels.istio", "ingressgateway"),
        ["Gateway istio-system/public-gateway", "Deployment istio-system/istio-gateway"],
    ),
    "gateway selector": (
        _set("public-gateway", ":Gateway", "spec.selector", {"istio": "ingress"}),
        ["Gateway istio-system/public-gateway", "Deployment istio-system/istio-gateway"],
    ),
    "prometheus service port": (
        _set("prometheus", "Release", "values.server.service.servicePort", 9090),
        ["MetricTemplate istio-system/error-rate", "Service monitoring/prometheus-server", "has no port 80"],
    ),
    "flagger metrics server": (
        _set("flagger", "Release", "values.metricsServer", "http://prometheus.monitoring:9090"),
        ["Deployment istio-system/flagger", "no Service prometheus.monitoring"],
    ),
    "grafana datasource url": (
        None,  # set below
        ["ConfigMap monitoring/grafana", "Service monitoring/prometheus-server", "has no port 9090"],
    ),
    "grafana secret key": (
        _set("grafana", "Release", "values.admin.passwordKey", "password"),
        ["Deployment monitoring/grafana", "key 'password' of Secret monitoring/grafana-admin"],
    ),
    "subset label": (
        _set("podinfo", "DestinationRule", "spec.subsets.1.labels", {"track": "canery"}),
        ["DestinationRule test/podinfo", "subset 'canary'", "Service test/podinfo", "Deployment test/podinfo-canary"],
    ),
    "route port": (
        _set("podinfo", "VirtualService", "spec.http.0.route.0.destination.port.number", 9899),
        ["VirtualService test/podinfo", "port 9899 of Service test/podinfo"],
    ),
    "unknown CRD field": (
        _set("podinfo", "VirtualService", "spec.http.0.route.0.destination.name", "podinfo"),
        ["VirtualService test/podinfo", "'name' was unexpected", "virtualservices.networking.istio.io"],
    ),
    "unknown built-in field": (
        _set("backend", "Deployment", "spec.template.spec.containers.0.imagePullPolice", "Always"),
        ["Deployment prod/backend", "'imagePullPolice' was unexpected", "Kubernetes 1."],
    ),
    "missing depends_on on istio-base": (
        _without_dependency("public-gateway", ":Gateway", "istio-base"),
        ["Gateway istio-system/public-gateway", "gateways.networking.istio.io", "Release 'istio-base'"],
    ),
    "release does not wait for its Secret": (
        _without_dependency("grafana", "Release", "grafana-admin"),
        ["release monitoring/grafana", "Secret monitoring/grafana-admin"],
    ),
    "canary metric template": (
        _set("metric-template-latency", "MetricTemplate", "metadata.name", "p99-latency"),
        ["Canary prod/backend", "MetricTemplate istio-system/latency"],
    ),
    "canary webhook port": (
        _set("flagger-loadtester-prod", "Release", "values.service.port", 8080),
        ["Canary prod/backend", "Service prod/flagger-loadtester", "has no port 80"],
    ),
    "hpa target": (
        _set("backend", "HorizontalPodAutoscaler", "spec.scaleTargetRef.name", "backend-primary"),
        ["HorizontalPodAutoscaler prod/backend", "Deployment prod/backend-primary"],
    ),
    "object created twice": (
        _duplicate_grafana_configmap,
        ["ConfigMap monitoring/grafana is created twice", "release monitoring/grafana", "grafana-copy"],
    ),
    # Flagger's CRDs come from its templates (`crd.create`, with `skipCrds` for `crds/`): off, no
    # release installs the Canary kind.
    "flagger CRDs not installed": (
        _set("flagger", "Release", "values.crd.create", False),
        ["Canary prod/backend", "no CustomResourceDefinition", "flagger.app/v1beta1 Canary"],
    ),
    # The gateway Service is read by an ID computed from the release's status: that alone orders it.
    "read of the gateway Service not from its release": (
        _set_key("istio-gateway-service", ":Service", "idDependencies", []),
        ["read of Service istio-system/istio-gateway", "Release 'istio-gateway'", "does not wait"],
    ),
    "loadtester pod label": (
        _set("flagger-loadtester-prod", "Release", "values.podLabels", {"app.kubernetes.io/instance": "loadtester"}),
        ["PeerAuthentication prod/flagger-loadtester", "Deployment prod/flagger-loadtester"],
    ),
}


def _grafana_datasource(resources):
    source = _named(resources, "grafana", "Release")["inputs"]["values"]["datasources"]["datasources.yaml"]
    source["datasources"][0]["url"] = "http://prometheus-server.monitoring:9090"


MUTATIONS["grafana datasource url"] = (_grafana_datasource, MUTATIONS["grafana datasource url"][1])


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_single_break_is_caught_naming_both_ends(clean, charts_dir, tmp_path, name):
    mutate, expected = MUTATIONS[name]
    resources = copy.deepcopy(clean)
    mutate(resources)
    defects = [d.message for d in verify_plan(resources, dirs=charts_dir, cache=tmp_path).report.defects]
    assert any(all(part in message for part in expected) for message in defects), (
        f"{name}: no defect mentions all of {expected}:\n" + "\n".join(defects)
    )
