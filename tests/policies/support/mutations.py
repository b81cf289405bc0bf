"""One minimal mutation of the dev plan per way to break a rule, by the rules' domain (policies/rules/).

Each domain's tests check that its cases are reported by exactly their rule, on exactly the
offending resource; the pack's tests check that every rule has a case and that CrossGuard reports
all of them as the offline runner does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from delivery.plan import policy_runner as policy
from tests.policies.support.plans import added_copy, also, drop_dependencies, find, set_input, set_weights

# (rule, what the mutation is, mutate(plan), (name, kind) of the resource it must be reported on)
Case = tuple[str, str, Callable[[dict], None], tuple[str, str]]


def case_ids(cases: list[Case]) -> list[str]:
    return [f"{m[0]}: {m[1]}" for m in cases]


def assert_only_reported(dev: dict, rule: str, mutate: Callable[[dict], None], offender: tuple[str, str]) -> None:
    """The mutated dev plan breaks `rule` on `offender` and nothing else."""
    plan = copy.deepcopy(dev)
    mutate(plan)
    urn = find(plan, *offender)["urn"]
    violations = policy.evaluate(plan)
    assert {(v["policy"], v["urn"]) for v in violations} == {(rule, urn)}, violations


def add_backend_routing(kind: str):
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


IMAGES: list[Case] = [
    (
        "pinned-images",
        "image :latest",
        set_input(
            "podinfo-ga", "Deployment", "spec.template.spec.containers[0].image", "ghcr.io/stefanprodan/podinfo:latest"
        ),
        ("podinfo-ga", "Deployment"),
    ),
    (
        "pinned-images",
        "image without a tag",
        set_input(
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
        set_input("flagger-loadtester-prod", "Release", "values.image", {"tag": "latest"}),
        ("flagger-loadtester-prod", "Release"),
    ),
    ("pinned-charts", "version range", set_input("istiod", "Release", "version", "~1.30.3"), ("istiod", "Release")),
    (
        "pinned-charts",
        "http repository",
        set_input("prometheus", "Release", "repositoryOpts.repo", "http://prometheus-community.github.io/helm-charts"),
        ("prometheus", "Release"),
    ),
]

WORKLOADS: list[Case] = [
    (
        "workload-resources",
        "no memory request",
        set_input(
            "podinfo-canary", "Deployment", "spec.template.spec.containers[0].resources.requests", {"cpu": "100m"}
        ),
        ("podinfo-canary", "Deployment"),
    ),
    (
        "workload-resources",
        "no memory limit",
        set_input("backend", "Deployment", "spec.template.spec.containers[0].resources.limits", {}),
        ("backend", "Deployment"),
    ),
    (
        "pod-security-restricted",
        "runs as root",
        set_input(
            "frontend",
            "Deployment",
            "spec.template.spec.containers[0].securityContext",
            {"runAsNonRoot": False, "runAsUser": 0, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
        ),
        ("frontend", "Deployment"),
    ),
    (
        "pod-security-restricted",
        "privilege escalation allowed",
        set_input(
            "podinfo-ga",
            "Deployment",
            "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
            True,
        ),
        ("podinfo-ga", "Deployment"),
    ),
    (
        "pod-security-restricted",
        "runAsUser 0 with runAsNonRoot left true",
        set_input("backend", "Deployment", "spec.template.spec.containers[0].securityContext.runAsUser", 0),
        ("backend", "Deployment"),
    ),
    (
        "pod-security-restricted",
        "a capability added",
        set_input(
            "podinfo-canary",
            "Deployment",
            "spec.template.spec.containers[0].securityContext.capabilities.add",
            ["NET_ADMIN"],
        ),
        ("podinfo-canary", "Deployment"),
    ),
    (
        "workload-security",
        "writable root filesystem",
        set_input(
            "podinfo-ga", "Deployment", "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem", False
        ),
        ("podinfo-ga", "Deployment"),
    ),
    (
        "readiness-probe",
        "a serving container without a readiness probe",
        set_input("backend", "Deployment", "spec.template.spec.containers[0].readinessProbe", None),
        ("backend", "Deployment"),
    ),
]

GKE: list[Case] = [
    (
        "gke-hardening",
        "client certificate issued",
        set_input("cluster", "Cluster", "masterAuth.clientCertificateConfig.issueClientCertificate", True),
        ("cluster", "Cluster"),
    ),
    (
        "gke-hardening",
        "no Workload Identity",
        set_input("cluster", "Cluster", "workloadIdentityConfig", {}),
        ("cluster", "Cluster"),
    ),
    (
        "gke-hardening",
        "default compute service account",
        set_input("cluster-pool", "NodePool", "nodeConfig.serviceAccount", "default"),
        ("cluster-pool", "NodePool"),
    ),
    (
        "gke-deletion-protection",
        "deletion protection off",
        set_input("cluster", "Cluster", "deletionProtection", False),
        ("cluster", "Cluster"),
    ),
    (
        "gke-hardening",
        "auto-repair off",
        set_input("cluster-pool", "NodePool", "management.autoRepair", False),
        ("cluster-pool", "NodePool"),
    ),
]

MESH: list[Case] = [
    ("virtualservice-weights", "weights 95/10", set_weights(95, 10), ("podinfo", "VirtualService")),
    ("virtualservice-weights", "weights 110/-10", set_weights(110, -10), ("podinfo", "VirtualService")),
    ("virtualservice-weights", "weight as a string", set_weights("90", 10), ("podinfo", "VirtualService")),
    (
        "sidecar-injection",
        "injection disabled",
        set_input("prod", "Namespace", "metadata.labels", {"istio-injection": "disabled"}),
        ("prod", "Namespace"),
    ),
    (
        "sidecar-injection",
        "workload in an undeclared namespace",
        set_input("podinfo-loadtest", "Deployment", "metadata.namespace", "loadtest"),
        ("podinfo-loadtest", "Deployment"),
    ),
    (
        "routing-consistency",
        "route to an undeclared subset",
        set_input("podinfo", "VirtualService", "spec.http[0].route[1].destination.subset", "canary2"),
        ("podinfo", "VirtualService"),
    ),
    (
        "routing-consistency",
        "subset labels no pod carries",
        set_input("podinfo", "DestinationRule", "spec.subsets[1].labels", {"track": "beta"}),
        ("podinfo", "DestinationRule"),
    ),
    (
        "gateway-selector",
        "selector istio: ingressgateway",
        set_input("public-gateway", "Gateway", "spec.selector", {"istio": "ingressgateway"}),
        ("public-gateway", "Gateway"),
    ),
    # Without `labels.istio`, the chart labels the pods of release `istio-ingress` istio: ingress.
    (
        "gateway-selector",
        "gateway release renamed, label from its name",
        also(
            set_input("istio-gateway", "Release", "values.labels", {}),
            set_input("istio-gateway", "Release", "name", "istio-ingress"),
        ),
        ("public-gateway", "Gateway"),
    ),
    # The Deployment names its namespace as a plain string, so it no longer waits for the
    # Namespace, which is what waits for istiod.
    (
        "workloads-wait-for-istiod",
        "Deployment without a path to istiod",
        drop_dependencies("podinfo-ga", "Deployment", ("test", "Namespace")),
        ("podinfo-ga", "Deployment"),
    ),
    (
        "workloads-wait-for-istiod",
        "load tester without depends_on istiod",
        drop_dependencies("flagger-loadtester-prod", "Release", ("istiod", "Release"), ("prod", "Namespace")),
        ("flagger-loadtester-prod", "Release"),
    ),
    (
        "workloads-wait-for-istiod",
        "gateway before istiod",
        drop_dependencies("istio-gateway", "Release", ("istiod", "Release")),
        ("istio-gateway", "Release"),
    ),
]

FLAGGER: list[Case] = [
    (
        "flagger-owns-routing",
        "our VirtualService for a canaried service",
        add_backend_routing("VirtualService"),
        ("backend-routing", "VirtualService"),
    ),
    (
        "flagger-owns-routing",
        "our DestinationRule for a canaried service",
        add_backend_routing("DestinationRule"),
        ("backend-routing", "DestinationRule"),
    ),
    (
        "flagger-owns-routing",
        "replicas on the target Deployment",
        set_input("backend", "Deployment", "spec.replicas", 2),
        ("backend", "Deployment"),
    ),
    (
        "flagger-metrics-server",
        "Flagger's chart default",
        set_input("flagger", "Release", "values.metricsServer", "http://prometheus:9090"),
        ("flagger", "Release"),
    ),
    (
        "flagger-metrics-server",
        "MetricTemplate at another Prometheus",
        set_input(
            "metric-template-error-rate",
            "MetricTemplate",
            "spec.provider.address",
            "http://prometheus.istio-system:9090",
        ),
        ("metric-template-error-rate", "MetricTemplate"),
    ),
]

SECRETS: list[Case] = [
    (
        "secrets-are-secret",
        "Grafana password in Helm values",
        set_input("grafana", "Release", "values.adminPassword", "admin"),
        ("grafana", "Release"),
    ),
    # Even a Pulumi secret is reported inline: CrossGuard hands it to policies in plain text.
    (
        "secrets-are-secret",
        "Slack webhook as an env value",
        set_input("flagger", "Release", "values.env", [{"name": "SLACK_URL", "value": "[secret]"}]),
        ("flagger", "Release"),
    ),
    (
        "secrets-are-secret",
        "an app's signing key as a plain env value (apps.<app>.env, not secretEnv)",
        set_input(
            "backend", "Deployment", "spec.template.spec.containers[0].env", [{"name": "SIGNING_KEY", "value": "k"}]
        ),
        ("backend", "Deployment"),
    ),
]

ALL: list[Case] = [*IMAGES, *WORKLOADS, *GKE, *MESH, *FLAGGER, *SECRETS]
