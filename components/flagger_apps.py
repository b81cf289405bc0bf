"""Flagger apps (`canary` / `ab`): gitops-istio's backend and frontend.

We own the Deployment, its HPA and the `Canary`; Flagger owns the Services, the VirtualService
and the DestinationRule it generates (defining them too makes the two fight: fluxcd/flagger#1715).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.flagger import Flagger
from components.mesh import PUBLIC_GATEWAY, Mesh
from components.pods import (
    FLAGGER_API,
    HPA_CPU_PERCENT,
    HPA_MAX,
    HPA_MIN,
    METRIC_INTERVAL,
    METRIC_LIMITS,
    PORT,
    PORT_NAME,
    _app_pod,
    _container,
    _gateway_url,
    _meta,
    version_label,
)
from model.settings import ABApp, CanaryApp


class ProgressiveCanary(pulumi.ComponentResource):
    """A Flagger canary: Deployment (scaled by its HPA), HPA and a `Canary` shifting weight stepwise."""

    TYPE = "istio-canary:apps:ProgressiveCanary"

    def __init__(
        self,
        name: str,
        app: CanaryApp | ABApp,
        namespace: k8s.core.v1.Namespace,
        mesh: Mesh,
        flagger: Flagger,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = namespace.metadata.name
        labels = {"app": name}

        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=ns,
                labels={**labels, "version": version_label(app.tag)},
                # Flagger copies this Deployment to `<app>-primary` and scales it to zero between
                # analyses: Pulumi's rollout await on it would time out (pulumi-kubernetes#605).
                # Flagger reports the rollout's progress on the Canary instead.
                annotations={"pulumi.com/skipAwait": "true"},
            ),
            # No `replicas`: the HPA and Flagger scale this Deployment; a replica count here
            # would be reapplied by every `pulumi up` and fight them.
            spec=k8s.apps.v1.DeploymentSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=_app_pod(
                    {**labels, "version": version_label(app.tag)},
                    _container("podinfod", app.image, app.tag),
                    mesh.istio_version,
                ),
            ),
            opts=child,
        )
        self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1",
                    kind="Deployment",
                    name=self.deployment.metadata.name,
                ),
                min_replicas=HPA_MIN,
                max_replicas=HPA_MAX,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=HPA_CPU_PERCENT
                            ),
                        ),
                    )
                ],
            ),
            opts=child,
        )

        templates = flagger.metric_templates
        loadtester = flagger.loadtester_url(app.namespace)
        canary_url = f"http://{name}-canary.{app.namespace}:{PORT}"
        service: dict[str, Any] = {"port": PORT, "targetPort": PORT, "portName": PORT_NAME}
        if app.hosts:
            # Listing a gateway replaces Istio's implicit `mesh`: name it too, so in-cluster
            # callers get the same routing; except with host '*', which Istio rejects on `mesh`.
            gateways = [PUBLIC_GATEWAY] + ([] if "*" in app.hosts else ["mesh"])
            service.update(hosts=list(app.hosts), gateways=gateways)
        analysis: dict[str, Any] = {
            "interval": app.analysis.interval,
            "threshold": app.analysis.threshold,
            **self._strategy_analysis(app),
            "metrics": [
                {
                    "name": metric,
                    "templateRef": {
                        "name": _meta(templates[metric], "name"),
                        "namespace": _meta(templates[metric], "namespace"),
                    },
                    "thresholdRange": {"max": limit},
                    "interval": METRIC_INTERVAL,
                }
                for metric, limit in METRIC_LIMITS.items()
            ],
            "webhooks": [
                {
                    # Gate before any traffic moves: the new version must answer podinfo's API.
                    "name": "conformance-test",
                    "type": "pre-rollout",
                    "url": loadtester,
                    "timeout": "30s",
                    "metadata": {"type": "bash", "cmd": f"curl -sfd 'test' {canary_url}/token | grep token"},
                },
                {
                    # Traffic for the metrics to judge; the loadtester skips a command already running.
                    "name": "load-test",
                    "type": "rollout",
                    "url": loadtester,
                    "timeout": "5s",
                    "metadata": {"cmd": f"hey -z 1m -q 10 -c 2 {canary_url}/"},
                },
            ],
        }
        self.canary = k8s.apiextensions.CustomResource(
            name,
            api_version=FLAGGER_API,
            kind="Canary",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec={
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.deployment.metadata.name},
                "autoscalerRef": {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "name": self.autoscaler.metadata.name,
                },
                "service": service,
                "analysis": analysis,
            },
            # The Canary kind is a Flagger CRD, and its analysis reads these templates: the
            # templates are created only once the Flagger release (and its CRDs) is installed.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(templates.values())),
        )

        self.exports = {
            "strategy": app.strategy,
            "namespace": app.namespace,
            "url": _gateway_url(app.hosts, mesh.ingress_address),
            "tags": {"target": app.tag},
        }
        self.register_outputs({"exports": self.exports})

    @staticmethod
    def _strategy_analysis(app: CanaryApp | ABApp) -> dict[str, Any]:
        assert isinstance(app, CanaryApp)  # build_app gives a ProgressiveCanary canary apps only
        return {"maxWeight": app.analysis.max_weight, "stepWeight": app.analysis.step_weight}


class ABTest(ProgressiveCanary):
    """A Flagger A/B test: matching requests (header regexes) go to the canary for N iterations."""

    TYPE = "istio-canary:apps:ABTest"

    @staticmethod
    def _strategy_analysis(app: CanaryApp | ABApp) -> dict[str, Any]:
        assert isinstance(app, ABApp)  # build_app gives an ABTest A/B apps only
        # One entry per condition: Istio ORs the entries (a cookie is matched as its header).
        return {
            "iterations": app.analysis.iterations,
            "match": [{"headers": {m.header: {"regex": m.regex}}} for m in app.match],
        }
