"""Applications: one component per app, chosen by `strategy` (their namespaces: components/namespaces.py).

- `weighted`: the seeds' GitOps canary. Two Deployments (`<app>-ga`, `<app>-canary`), a
  DestinationRule with one subset per side and a VirtualService whose weights are the stack
  file's. A PR that edits `weights` changes the VirtualService and nothing else; one that edits
  a side's `tag` changes that side's Deployment and nothing else.
- `canary` / `ab`: Flagger progressive delivery (gitops-istio's backend and frontend). We own
  the Deployment, its HPA and the `Canary`; Flagger owns the Services, the VirtualService and
  the DestinationRule it generates (defining them too makes the two fight: fluxcd/flagger#1715).

Every app's pods are its `Workload` keys (port, probes, env...), built by components/pods.py.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.flagger import Flagger
from components.flagger_apps import ABTest, ProgressiveCanary
from components.identity import app_service_account
from components.mesh import PUBLIC_GATEWAY, Mesh
from components.namespaces import AppNamespaces
from components.pods import (
    ISTIO_API,
    LOADTEST_IMAGE,
    app_pod_template,
    gateway_url,
    injected_pod_annotations,
    load_command,
    pod_template,
    port_name,
    restricted,
    service_host,
)
from model.labels import version_label
from model.settings import ABApp, App, Gcp, Side, WeightedApp


class WeightedRelease(pulumi.ComponentResource):
    """GA and canary Deployments, a Service, subsets and a VirtualService weighted from Git."""

    def __init__(
        self,
        name: str,
        app: WeightedApp,
        ns: pulumi.Output[str],
        mesh: Mesh,
        gke: Gcp | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("istio-canary:apps:WeightedRelease", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Istio kinds exist once istio-base has installed their CRDs.
        istio_crds = pulumi.ResourceOptions(parent=self, depends_on=[mesh.base])
        host = service_host(name, app.namespace)
        account = app_service_account(name, app, ns, gke, self)
        account_name = account.metadata.name if account is not None else None

        self.deployments: dict[str, k8s.apps.v1.Deployment] = {}
        for track, side in app.sides().items():
            self.deployments[track] = self._side(name, app, track, side, ns, account_name, child, mesh.istio_version)
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{track}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-{track}", namespace=ns),
                # maxUnavailable, not minAvailable: a one-replica side must not block node drains.
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": name, "track": track}),
                ),
                opts=child,
            )

        # Selects both sides: the subsets below split the traffic, not the Service.
        self.service = k8s.core.v1.Service(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels={"app": name}),
            spec=k8s.core.v1.ServiceSpecArgs(
                selector={"app": name},
                ports=[k8s.core.v1.ServicePortArgs(name=port_name(app), port=app.port, target_port=port_name(app))],
            ),
            opts=child,
        )
        self.destination_rule = k8s.apiextensions.CustomResource(
            name,
            api_version=ISTIO_API,
            kind="DestinationRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec={"host": host, "subsets": [{"name": track, "labels": {"track": track}} for track in app.sides()]},
            opts=istio_crds,
        )
        # Both destinations are always listed, even at weight 0, so a weight edit in Git is a
        # change of two numbers in this one object and never adds or removes a route.
        self.virtual_service = k8s.apiextensions.CustomResource(
            name,
            api_version=ISTIO_API,
            kind="VirtualService",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec={
                "hosts": [name, *app.hosts],
                "gateways": ["mesh", PUBLIC_GATEWAY],
                "http": [
                    {
                        "name": "weighted",
                        "route": [
                            {
                                "destination": {"host": host, "subset": "ga", "port": {"number": app.port}},
                                "weight": app.weights.ga,
                            },
                            {
                                "destination": {"host": host, "subset": "canary", "port": {"number": app.port}},
                                "weight": app.weights.canary,
                            },
                        ],
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Istio kinds are istio-base CRDs. And the weights move only once both sides have
                # rolled out: Pulumi awaits a Deployment's rollout, so a PR that changes a tag and
                # the weights at once (finalize: GA to the new tag, GA 100 / canary 0) shifts traffic
                # to new, ready pods, not to the old GA while it is still rolling.
                depends_on=[mesh.base, *self.deployments.values()],
            ),
        )
        self.load_generator = (
            self._load_generator(name, app, ns, child, mesh.istio_version) if app.loadtest is not None else None
        )

        self.exports = {
            "strategy": app.strategy,
            "namespace": app.namespace,
            "url": gateway_url(app, mesh.ingress_address),
            "weights": {"ga": app.weights.ga, "canary": app.weights.canary},
            "tags": {track: side.tag for track, side in app.sides().items()},
        }
        self.register_outputs({"exports": self.exports})

    @staticmethod
    def _side(
        name: str,
        app: WeightedApp,
        track: str,
        side: Side,
        ns: pulumi.Input[str],
        account: pulumi.Output[str] | None,
        child: pulumi.ResourceOptions,
        istio_version: str,
    ) -> k8s.apps.v1.Deployment:
        # The selector leaves `version` out: a selector is immutable, and a tag bump must update
        # the Deployment in place, not replace it.
        selector = {"app": name, "track": track}
        labels = {**selector, "version": version_label(side.tag)}
        return k8s.apps.v1.Deployment(
            f"{name}-{track}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-{track}", namespace=ns, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=side.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                # A new tag rolls out without dropping below the configured capacity.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=app_pod_template(name, app, side.tag, labels, account, istio_version=istio_version),
            ),
            opts=child,
        )

    @staticmethod
    def _load_generator(
        name: str, app: WeightedApp, ns: pulumi.Input[str], child: pulumi.ResourceOptions, istio_version: str
    ) -> k8s.apps.v1.Deployment:
        assert app.loadtest is not None  # only built when the stack asks for load
        run = load_command(
            app, f"{name}.{app.namespace}", app.loadtest.qps, app.loadtest.concurrency, app.loadtest.path
        )
        script = f"while true; do {run}; sleep 1; done"
        labels = {"app": f"{name}-loadtest"}
        return k8s.apps.v1.Deployment(
            f"{name}-loadtest",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-loadtest", namespace=ns, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=pod_template(
                    labels,
                    annotations=injected_pod_annotations(istio_version),
                    containers=[
                        k8s.core.v1.ContainerArgs(
                            name="ghz" if app.protocol == "grpc" else "hey",
                            image=LOADTEST_IMAGE,
                            image_pull_policy="IfNotPresent",
                            command=["/bin/sh", "-c", script],
                            resources=k8s.core.v1.ResourceRequirementsArgs(
                                requests={"cpu": "10m", "memory": "32Mi"},
                                limits={"cpu": "200m", "memory": "64Mi"},
                            ),
                            security_context=restricted(),
                        )
                    ],
                ),
            ),
            opts=child,
        )


def build_app(
    name: str,
    app: App,
    namespaces: AppNamespaces,
    mesh: Mesh,
    flagger: Flagger,
    gke: Gcp | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> pulumi.ComponentResource:
    """The component for one app, by its strategy. `gke`: the GKE project, for Workload Identity."""
    ns = namespaces.name_of(app.namespace)
    if isinstance(app, WeightedApp):
        return WeightedRelease(name, app, ns, mesh, gke, opts)
    component = ABTest if isinstance(app, ABApp) else ProgressiveCanary
    return component(name, app, ns, mesh, flagger, gke, opts)
