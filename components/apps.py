"""Applications: the namespaces they live in and one component per app, chosen by `strategy`.

- `weighted`: the seeds' GitOps canary. Two Deployments (`<app>-ga`, `<app>-canary`), a
  DestinationRule with one subset per side and a VirtualService whose weights are the stack
  file's. A PR that edits `weights` changes the VirtualService and nothing else; one that edits
  a side's `tag` changes that side's Deployment and nothing else.
- `canary` / `ab`: Flagger progressive delivery (gitops-istio's backend and frontend). We own
  the Deployment, its HPA and the `Canary`; Flagger owns the Services, the VirtualService and
  the DestinationRule it generates (defining them too makes the two fight: fluxcd/flagger#1715).

Every app runs the podinfo contract: HTTP on 9898, `/readyz`, `/healthz`, `/version`.
"""

from __future__ import annotations

from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.mesh import PUBLIC_GATEWAY
from components.settings import ABApp, App, CanaryApp, Side, WeightedApp

PORT = 9898
PORT_NAME = "http"  # Istio picks the protocol from the port name: HTTP routing and metrics
# Pods run as this uid: podinfo's and the load tester's images name a user (`app`) instead of
# a number, and the kubelet cannot prove a named user is non-root under runAsNonRoot.
NON_ROOT_UID = 10001

# The Flagger load tester image ships `hey` (its Dockerfile installs it from Alpine and
# smoke-tests it), so the weighted apps' load needs no image of its own.
LOADTEST_IMAGE = "ghcr.io/fluxcd/flagger-loadtester:0.38.0"
# One `hey` run per minute, forever: a single `hey -z <years>` would keep every result in
# memory and print nothing until it exits; a loop prints a summary a minute and restarts
# cleanly when the sidecar or the app is briefly unavailable.
LOADTEST_RUN = "1m"

ISTIO_API = "networking.istio.io/v1"
FLAGGER_API = "flagger.app/v1beta1"
HPA_MIN, HPA_MAX, HPA_CPU_PERCENT = 2, 4, 80
# Flagger's checks, by the platform's MetricTemplates. The query window is 1m whatever the
# analysis interval (15s in dev): rate() needs two scrapes in its window, and a 15s window
# would often hold one (observability.SCRAPE_INTERVAL).
METRIC_LIMITS = {"error-rate": 1, "latency": 500}
METRIC_INTERVAL = "1m"


def image_ref(repository: str, tag: str) -> str:
    """`repo:tag`, or `repo@sha256:...` for a digest (a digest is not a tag)."""
    return f"{repository}@{tag}" if tag.startswith("sha256:") else f"{repository}:{tag}"


def version_label(tag: str) -> str:
    """The tag as a label value (at most 63 chars, no ':'): a digest becomes `sha256-<12 hex>`."""
    if tag.startswith("sha256:"):
        return "sha256-" + tag.split(":", 1)[1][:12]
    # An OCI tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: only its length and its ends can be invalid.
    return tag[:63].strip("-_.")


def service_host(app: str, namespace: str) -> str:
    return f"{app}.{namespace}.svc.cluster.local"


def _container(name: str, repository: str, tag: str) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=image_ref(repository, tag),
        image_pull_policy="IfNotPresent",
        ports=[k8s.core.v1.ContainerPortArgs(name=PORT_NAME, container_port=PORT, protocol="TCP")],
        # httpGet probes keep working under STRICT mTLS: Istio's injector rewrites them to
        # go through the sidecar's agent.
        readiness_probe=k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/readyz", port=PORT_NAME),
            initial_delay_seconds=2, period_seconds=5, timeout_seconds=2,
        ),
        liveness_probe=k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/healthz", port=PORT_NAME),
            initial_delay_seconds=5, period_seconds=10, timeout_seconds=2,
        ),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "100m", "memory": "64Mi"}, limits={"cpu": "1", "memory": "256Mi"},
        ),
        security_context=_restricted(),
        # podinfo writes uploads (POST /store) under /data; the root filesystem is read-only.
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data")],
    )


def _restricted() -> k8s.core.v1.SecurityContextArgs:
    """The Pod Security `restricted` profile, per container (istio-init keeps its own)."""
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True, run_as_user=NON_ROOT_UID, run_as_group=NON_ROOT_UID,
        read_only_root_filesystem=True, allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def _pod_spec(containers: list, volumes: list | None = None) -> k8s.core.v1.PodSpecArgs:
    return k8s.core.v1.PodSpecArgs(
        containers=containers,
        volumes=volumes,
        # The sidecar gets its identity from its own projected token; the app needs no API access.
        automount_service_account_token=False,
        security_context=k8s.core.v1.PodSecurityContextArgs(
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
    )


def _app_pod(labels: Mapping[str, str], container: k8s.core.v1.ContainerArgs) -> k8s.core.v1.PodTemplateSpecArgs:
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels)),
        spec=_pod_spec([container], [k8s.core.v1.VolumeArgs(name="data", empty_dir={})]),
    )


def _meta(resource: k8s.apiextensions.CustomResource, key: str) -> pulumi.Output[str]:
    """A custom resource's metadata field (its outputs are untyped: a dict, not ObjectMeta)."""
    return resource.metadata.apply(lambda meta: meta[key] if isinstance(meta, dict) else getattr(meta, key))


def _gateway_url(hosts: tuple[str, ...], gateway_address: Any) -> Any:
    """How a user outside the cluster reaches the app: its first concrete host, else the gateway."""
    concrete = [h for h in hosts if "*" not in h]
    if concrete:
        return f"http://{concrete[0]}/"
    if hosts:
        return pulumi.Output.from_input(gateway_address).apply(lambda address: f"http://{address}/")
    return None


class AppNamespaces(pulumi.ComponentResource):
    """Each app namespace once, with sidecar injection on, created only after istiod is ready."""

    def __init__(self, name: str, apps: Mapping[str, App], istiod: pulumi.Resource,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("istio-canary:apps:AppNamespaces", name, None, opts)
        self._apps = dict(apps)
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for namespace in dict.fromkeys(app.namespace for app in apps.values()):
            self.namespaces[namespace] = k8s.core.v1.Namespace(
                namespace,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels={"istio-injection": "enabled"}),
                # Pods admitted before istiod's injection webhook answers start without a sidecar
                # and stay outside the mesh; every workload is created in one of these namespaces,
                # so waiting here makes each of them wait for istiod.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[istiod]),
            )
        self.register_outputs({"namespaces": {n: ns.metadata.name for n, ns in self.namespaces.items()}})

    @property
    def flagger_namespaces(self) -> dict[str, k8s.core.v1.Namespace]:
        """Namespaces with a Flagger-managed app: each gets a load tester for its webhooks."""
        return {app.namespace: self.namespaces[app.namespace]
                for app in self._apps.values() if app.strategy in ("canary", "ab")}


class WeightedRelease(pulumi.ComponentResource):
    """GA and canary Deployments, a Service, subsets and a VirtualService weighted from Git."""

    def __init__(self, name: str, app: WeightedApp, namespace: k8s.core.v1.Namespace, mesh: Any,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("istio-canary:apps:WeightedRelease", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Istio kinds exist once istio-base has installed their CRDs.
        istio_crds = pulumi.ResourceOptions(parent=self, depends_on=[mesh.base])
        ns = namespace.metadata.name
        host = service_host(name, app.namespace)

        self.deployments: dict[str, k8s.apps.v1.Deployment] = {}
        for track, side in app.sides().items():
            self.deployments[track] = self._side(name, app, track, side, ns, child)
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
                ports=[k8s.core.v1.ServicePortArgs(name=PORT_NAME, port=PORT, target_port=PORT_NAME)],
            ),
            opts=child,
        )
        self.destination_rule = k8s.apiextensions.CustomResource(
            name,
            api_version=ISTIO_API, kind="DestinationRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec={"host": host, "subsets": [{"name": track, "labels": {"track": track}} for track in app.sides()]},
            opts=istio_crds,
        )
        # Both destinations are always listed, even at weight 0, so a weight edit in Git is a
        # change of two numbers in this one object and never adds or removes a route.
        self.virtual_service = k8s.apiextensions.CustomResource(
            name,
            api_version=ISTIO_API, kind="VirtualService",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec={
                "hosts": [name, *app.hosts],
                "gateways": ["mesh", PUBLIC_GATEWAY],
                "http": [{
                    "name": "weighted",
                    "route": [
                        {"destination": {"host": host, "subset": "ga", "port": {"number": PORT}}, "weight": app.weights.ga},
                        {"destination": {"host": host, "subset": "canary", "port": {"number": PORT}},
                         "weight": app.weights.canary},
                    ],
                }],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Istio kinds are istio-base CRDs. And the weights move only once both sides have
                # rolled out: Pulumi awaits a Deployment's rollout, so a PR that changes a tag and
                # the weights at once (finalize: GA to the new tag, 100/0) shifts traffic to new,
                # ready pods, not to the old GA while it is still rolling.
                depends_on=[mesh.base, *self.deployments.values()],
            ),
        )
        self.load_generator = self._load_generator(name, app, ns, child)

        self.exports = {
            "strategy": app.strategy,
            "namespace": app.namespace,
            "url": _gateway_url(app.hosts, mesh.ingress_address),
            "weights": {"ga": app.weights.ga, "canary": app.weights.canary},
            "tags": {track: side.tag for track, side in app.sides().items()},
        }
        self.register_outputs({"exports": self.exports})

    @staticmethod
    def _side(name: str, app: WeightedApp, track: str, side: Side, ns: Any,
              child: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
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
                template=_app_pod(labels, _container("podinfod", app.image, side.tag)),
            ),
            opts=child,
        )

    @staticmethod
    def _load_generator(name: str, app: WeightedApp, ns: Any, child: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        # hey's -q is per worker: split the configured total rate across the workers.
        per_worker = f"{app.loadtest.qps / app.loadtest.concurrency:.3f}".rstrip("0").rstrip(".")
        url = f"http://{name}.{app.namespace}:{PORT}/version"
        script = (f"while true; do hey -z {LOADTEST_RUN} -q {per_worker} -c {app.loadtest.concurrency} {url}; "
                  "sleep 1; done")
        labels = {"app": f"{name}-loadtest"}
        return k8s.apps.v1.Deployment(
            f"{name}-loadtest",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-loadtest", namespace=ns, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=_pod_spec([k8s.core.v1.ContainerArgs(
                        name="hey",
                        image=LOADTEST_IMAGE,
                        image_pull_policy="IfNotPresent",
                        command=["/bin/sh", "-c", script],
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "10m", "memory": "32Mi"}, limits={"cpu": "200m", "memory": "64Mi"},
                        ),
                        security_context=_restricted(),
                    )]),
                ),
            ),
            opts=child,
        )


class ProgressiveCanary(pulumi.ComponentResource):
    """A Flagger canary: Deployment (scaled by its HPA), HPA and a `Canary` shifting weight stepwise."""

    TYPE = "istio-canary:apps:ProgressiveCanary"

    def __init__(self, name: str, app: CanaryApp | ABApp, namespace: k8s.core.v1.Namespace, mesh: Any,
                 flagger: Any, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = namespace.metadata.name
        labels = {"app": name}

        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name, namespace=ns, labels={**labels, "version": version_label(app.tag)},
                # Flagger copies this Deployment to `<app>-primary` and scales it to zero between
                # analyses: Pulumi's rollout await on it would time out (pulumi-kubernetes#605).
                # Flagger reports the rollout's progress on the Canary instead.
                annotations={"pulumi.com/skipAwait": "true"},
            ),
            # No `replicas`: the HPA and Flagger scale this Deployment; a replica count here
            # would be reapplied by every `pulumi up` and fight them.
            spec=k8s.apps.v1.DeploymentSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=_app_pod({**labels, "version": version_label(app.tag)},
                                  _container("podinfod", app.image, app.tag)),
            ),
            opts=child,
        )
        self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self.deployment.metadata.name,
                ),
                min_replicas=HPA_MIN,
                max_replicas=HPA_MAX,
                metrics=[k8s.autoscaling.v2.MetricSpecArgs(
                    type="Resource",
                    resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                        name="cpu",
                        target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization", average_utilization=HPA_CPU_PERCENT),
                    ),
                )],
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
                    "templateRef": {"name": _meta(templates[metric], "name"),
                                    "namespace": _meta(templates[metric], "namespace")},
                    "thresholdRange": {"max": limit},
                    "interval": METRIC_INTERVAL,
                }
                for metric, limit in METRIC_LIMITS.items()
            ],
            "webhooks": [
                {
                    # Gate before any traffic moves: the new version must answer podinfo's API.
                    "name": "conformance-test", "type": "pre-rollout", "url": loadtester, "timeout": "30s",
                    "metadata": {"type": "bash", "cmd": f"curl -sfd 'test' {canary_url}/token | grep token"},
                },
                {
                    # Traffic for the metrics to judge; the loadtester skips a command already running.
                    "name": "load-test", "type": "rollout", "url": loadtester, "timeout": "5s",
                    "metadata": {"cmd": f"hey -z 1m -q 10 -c 2 {canary_url}/"},
                },
            ],
        }
        self.canary = k8s.apiextensions.CustomResource(
            name,
            api_version=FLAGGER_API, kind="Canary",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
            spec={
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.deployment.metadata.name},
                "autoscalerRef": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                                  "name": self.autoscaler.metadata.name},
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
    def _strategy_analysis(app: CanaryApp) -> dict[str, Any]:
        return {"maxWeight": app.analysis.max_weight, "stepWeight": app.analysis.step_weight}


class ABTest(ProgressiveCanary):
    """A Flagger A/B test: matching requests (header regexes) go to the canary for N iterations."""

    TYPE = "istio-canary:apps:ABTest"

    @staticmethod
    def _strategy_analysis(app: ABApp) -> dict[str, Any]:
        # One entry per condition: Istio ORs the entries (a cookie is matched as its header).
        return {
            "iterations": app.analysis.iterations,
            "match": [{"headers": {m.header: {"regex": m.regex}}} for m in app.match],
        }


def build_app(name: str, app: App, namespaces: AppNamespaces, mesh: Any, flagger: Any,
              opts: pulumi.ResourceOptions | None = None) -> pulumi.ComponentResource:
    """The component for one app, by its strategy."""
    namespace = namespaces.namespaces[app.namespace]
    if isinstance(app, WeightedApp):
        return WeightedRelease(name, app, namespace, mesh, opts)
    component = ABTest if isinstance(app, ABApp) else ProgressiveCanary
    return component(name, app, namespace, mesh, flagger, opts)
