"""Flagger (Istio provider), its `error-rate` and `latency` MetricTemplates, and a load tester in
every namespace that hosts a Flagger-managed app.

Flagger waits for istio-base only: it writes VirtualServices and DestinationRules (base CRDs)
and reads metrics from Prometheus by URL, which needs no ordering. Its MetricTemplates wait for
it, since its chart brings their CRD. A load tester gets a sidecar, so it waits for istiod.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components import helm
from components.mesh import GATEWAY_NAMESPACE, Mesh
from components.pods import injected_pod_annotations
from model import promql
from model.settings import Platform, Settings
from model.settings.schema import LOADTESTER_NAME

NAMESPACE = GATEWAY_NAMESPACE
SLACK_SECRET = "flagger-slack"

LOADTESTER = LOADTESTER_NAME  # the settings refuse an app whose names collide with it
LOADTESTER_PORT = 80
# The chart's container listens here; the Service maps LOADTESTER_PORT to it.
LOADTESTER_CONTAINER_PORT = 8080
# Set on the load tester's pods (chart value `podLabels`) and selected by its PeerAuthentication.
LOADTESTER_POD_LABELS = {"app.kubernetes.io/instance": LOADTESTER}

# Flagger fills these in per Canary metric: its namespace, its target Deployment and the metric interval.
_NAMESPACE, _TARGET, _INTERVAL = "{{ namespace }}", "{{ target }}", "{{ interval }}"
METRIC_QUERIES = {
    "error-rate": promql.error_rate(_NAMESPACE, _TARGET, _INTERVAL),
    "latency": promql.p99_latency(_NAMESPACE, _TARGET, _INTERVAL),
}


def loadtester_url(namespace: str) -> str:
    """Where a Canary's webhooks reach the load tester of its namespace."""
    return f"http://{LOADTESTER}.{namespace}/"


class Flagger(pulumi.ComponentResource):
    """Flagger, its MetricTemplates and the load testers its Canaries call."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        cluster_name: str,
        prometheus_url: str,
        mesh: Mesh,
        loadtester_namespaces: Mapping[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`loadtester_namespaces`: the namespaces whose Flagger apps run load tester commands, by name."""
        super().__init__("istio-canary:flagger:Flagger", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = mesh.namespace.metadata.name
        platform, notifications = settings.platform, settings.notifications

        values: dict = {
            "meshProvider": "istio",
            "metricsServer": prometheus_url,
            "clusterName": cluster_name,
            # Helm installs a chart's crds/ once and never upgrades them, while Flagger is bumped
            # by the upgrades workflow: its CRDs come as templates instead (the chart renders
            # crds/*.yaml under `crd.create`), so every chart upgrade upgrades them too.
            "crd": {"create": True},
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        }
        if settings.has_slack_webhook:
            # The webhook URL reaches Flagger as SLACK_URL from a Secret, not as a chart value
            # (`slack.url` would put it on the container's command line).
            slack = k8s.core.v1.Secret(
                SLACK_SECRET,
                metadata={"name": SLACK_SECRET, "namespace": namespace},
                string_data={"url": settings.slack_webhook_url},
                opts=child,
            )
            values["slack"] = {"user": notifications.slack_user, "channel": notifications.slack_channel}
            values["env"] = [
                {"name": "SLACK_URL", "valueFrom": {"secretKeyRef": {"name": slack.metadata.name, "key": "url"}}}
            ]

        self.release = helm.release(
            "flagger",
            chart="flagger",
            platform=platform,
            namespace=namespace,
            values=values,
            # The same CRDs from crds/ would be created before the templates, which then fail
            # on objects Helm does not own.
            skip_crds=True,
            # Flagger writes VirtualServices and DestinationRules: istio-base's CRDs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[mesh.base]),
        )

        self.prometheus_url = prometheus_url
        self.metric_template_namespace = NAMESPACE
        self.metric_templates = {
            metric: k8s.apiextensions.CustomResource(
                f"metric-template-{metric}",
                api_version="flagger.app/v1beta1",
                kind="MetricTemplate",
                metadata={"name": metric, "namespace": namespace},
                spec={"provider": {"type": "prometheus", "address": prometheus_url}, "query": query},
                # The MetricTemplate CRD is installed by the Flagger release (`crd.create`).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
            )
            for metric, query in METRIC_QUERIES.items()
        }

        self.loadtesters = {
            ns: self._loadtester(ns, namespace, platform, mesh) for ns, namespace in loadtester_namespaces.items()
        }

        self.register_outputs(
            {
                "metricTemplateNamespace": self.metric_template_namespace,
                "loadtesters": {ns: loadtester_url(ns) for ns in self.loadtesters},
            }
        )

    @staticmethod
    def loadtester_url(namespace: str) -> str:
        return loadtester_url(namespace)

    def _loadtester(
        self, ns: str, namespace: pulumi.Output[str], platform: Platform, mesh: Mesh
    ) -> k8s.helm.v3.Release:
        release = helm.release(
            f"{LOADTESTER}-{ns}",
            name=LOADTESTER,
            chart="loadtester",
            platform=platform,
            namespace=namespace,
            values={
                "fullnameOverride": LOADTESTER,  # the Service name in loadtester_url()
                "service": {"port": LOADTESTER_PORT},
                "podLabels": dict(LOADTESTER_POD_LABELS),
                # Merged into the chart's own pod annotations: its pods run the Istio proxy too.
                "podAnnotations": injected_pod_annotations(platform.istio_version),
                "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
            },
            # Its pods need a sidecar to call mTLS-only apps: istiod's injector must be up.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[mesh.istiod]),
        )
        # Flagger runs without a sidecar and calls the load tester's webhooks in plain text,
        # which STRICT mesh mTLS would refuse (fluxcd/flagger#239): accept plain text on the
        # load tester's port only.
        k8s.apiextensions.CustomResource(
            f"{LOADTESTER}-{ns}-plaintext",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata={"name": LOADTESTER, "namespace": namespace},
            spec={
                "selector": {"matchLabels": dict(LOADTESTER_POD_LABELS)},
                "portLevelMtls": {str(LOADTESTER_CONTAINER_PORT): {"mode": "PERMISSIVE"}},
            },
            # PeerAuthentication is an istio-base CRD.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[mesh.base]),
        )
        return release
