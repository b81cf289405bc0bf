"""Flagger apps (`canary` / `ab`): gitops-istio's backend and frontend.

We own the Deployment, its HPA and the `Canary`; Flagger owns the Services, the VirtualService
and the DestinationRule it generates (defining them too makes the two fight: fluxcd/flagger#1715).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.flagger import Flagger
from components.identity import app_service_account
from components.mesh import PUBLIC_GATEWAY, Mesh
from components.pods import (
    FLAGGER_API,
    app_pod_template,
    gateway_url,
    load_command,
    metadata_field,
    port_name,
)
from model.labels import version_label
from model.settings import ABApp, CanaryApp, Gcp

# The default check while traffic shifts: load on the canary for the metrics to judge.
DEFAULT_LOAD_QPS, DEFAULT_LOAD_CONCURRENCY, DEFAULT_LOAD_TIMEOUT = 20, 2, "5s"


class ProgressiveCanary(pulumi.ComponentResource):
    """A Flagger canary: Deployment (scaled by its HPA), HPA and a `Canary` shifting weight stepwise."""

    TYPE = "istio-canary:apps:ProgressiveCanary"

    def __init__(
        self,
        name: str,
        app: CanaryApp | ABApp,
        ns: pulumi.Output[str],
        mesh: Mesh,
        flagger: Flagger,
        gke: Gcp | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app": name}
        account = app_service_account(name, app, ns, gke, self)

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
                template=app_pod_template(
                    name,
                    app,
                    app.tag,
                    {**labels, "version": version_label(app.tag)},
                    account.metadata.name if account is not None else None,
                    istio_version=mesh.istio_version,
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
                min_replicas=app.autoscaling.min_replicas,
                max_replicas=app.autoscaling.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=app.autoscaling.cpu
                            ),
                        ),
                    )
                ],
            ),
            opts=child,
        )

        templates = {**flagger.metric_templates, **self._custom_templates(name, app, ns, flagger)}
        service: dict[str, Any] = {"port": app.port, "targetPort": app.port, "portName": port_name(app)}
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
                    "name": metric.name,
                    "templateRef": {
                        "name": metadata_field(templates[metric.name], "name"),
                        "namespace": metadata_field(templates[metric.name], "namespace"),
                    },
                    "thresholdRange": metric.threshold_range.model_dump(exclude_none=True),
                    "interval": metric.interval,
                }
                for metric in app.analysis.metrics
            ],
            "webhooks": self._webhooks(name, app, flagger.loadtester_url(app.namespace)),
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
            "url": gateway_url(app, mesh.ingress_address),
            "tags": {"target": app.tag},
        }
        self.register_outputs({"exports": self.exports})

    def _custom_templates(
        self, name: str, app: CanaryApp | ABApp, ns: pulumi.Output[str], flagger: Flagger
    ) -> dict[str, k8s.apiextensions.CustomResource]:
        """A MetricTemplate of the app's own for each metric with a `query`, in its namespace."""
        return {
            metric.name: k8s.apiextensions.CustomResource(
                f"{name}-{metric.name}",
                api_version=FLAGGER_API,
                kind="MetricTemplate",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-{metric.name}", namespace=ns),
                spec={"provider": {"type": "prometheus", "address": flagger.prometheus_url}, "query": metric.query},
                # The MetricTemplate kind is a CRD of the Flagger release (`crd.create`).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[flagger.release]),
            )
            for metric in app.analysis.metrics
            if metric.query is not None
        }

    @staticmethod
    def _webhooks(name: str, app: CanaryApp | ABApp, loadtester: str) -> list[dict[str, Any]]:
        """The stack's webhooks in Flagger's shape (a `cmd` runs on the namespace's load tester),
        or by default one load test of the canary: traffic for the metrics to judge (the load
        tester skips a command that is still running)."""
        if app.analysis.webhooks is None:
            run = load_command(app, f"{name}-canary.{app.namespace}", DEFAULT_LOAD_QPS, DEFAULT_LOAD_CONCURRENCY)
            default = {"name": "load-test", "type": "rollout", "url": loadtester, "timeout": DEFAULT_LOAD_TIMEOUT}
            return [{**default, "metadata": {"cmd": run}}]
        hooks = []
        for hook in app.analysis.webhooks:
            metadata = {**hook.metadata, **({"cmd": hook.cmd} if hook.cmd is not None else {})}
            entry = {"name": hook.name, "type": hook.type, "url": hook.url or loadtester, "timeout": hook.timeout}
            hooks.append({**entry, "metadata": metadata} if metadata else entry)
        return hooks

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
