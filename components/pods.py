"""What every app's pods share: the podinfo container, a restricted security context, labels, URLs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

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
ISTIO_VERSION_ANNOTATION = "istio-canary/istio-version"
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
            initial_delay_seconds=2,
            period_seconds=5,
            timeout_seconds=2,
        ),
        liveness_probe=k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/healthz", port=PORT_NAME),
            initial_delay_seconds=5,
            period_seconds=10,
            timeout_seconds=2,
        ),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "100m", "memory": "64Mi"},
            limits={"cpu": "1", "memory": "256Mi"},
        ),
        security_context=_restricted(),
        # podinfo writes uploads (POST /store) under /data; the root filesystem is read-only.
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data")],
    )


def _restricted() -> k8s.core.v1.SecurityContextArgs:
    """The Pod Security `restricted` profile, per container (istio-init keeps its own)."""
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=NON_ROOT_UID,
        run_as_group=NON_ROOT_UID,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
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


def injected_pod_annotations(istio_version: str) -> dict[str, str]:
    """What every injected pod template carries: the Istio version whose proxy it runs. Istio injects
    the sidecar when a pod is created, so an istiod upgrade leaves running pods on the old proxy until
    they restart (istio.io "Upgrade with Helm": restart the workloads); a version in the template
    makes every Istio upgrade roll the injected workloads after istiod, and shows it in the PR's diff."""
    return {ISTIO_VERSION_ANNOTATION: istio_version}


def _app_pod(
    labels: Mapping[str, str], container: k8s.core.v1.ContainerArgs, istio_version: str
) -> k8s.core.v1.PodTemplateSpecArgs:
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels), annotations=injected_pod_annotations(istio_version)),
        spec=_pod_spec(
            [container], [k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())]
        ),
    )


def _meta(resource: k8s.apiextensions.CustomResource, key: str) -> pulumi.Output[str]:
    """A custom resource's metadata field (its outputs are untyped: a dict, not ObjectMeta)."""
    metadata: pulumi.Output[Any] = resource.metadata  # type: ignore[attr-defined]  # set by the SDK from outputs
    return metadata.apply(lambda meta: meta[key] if isinstance(meta, dict) else getattr(meta, key))


def _gateway_url(hosts: tuple[str, ...], gateway_address: Any) -> Any:
    """How a user outside the cluster reaches the app: its first concrete host, else the gateway."""
    concrete = [h for h in hosts if "*" not in h]
    if concrete:
        return f"http://{concrete[0]}/"
    if hosts:
        return pulumi.Output.from_input(gateway_address).apply(lambda address: f"http://{address}/")
    return None
