"""Every pod this program runs: one builder (`pod_template`) for app sides, Flagger targets and
load generators, so what all pods share (security, the service account token, annotations) is
set in one place. An app's pod is its `Workload` keys, and nothing else: no app is known here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from model.settings import App
from model.settings.workload import DEFAULT_UID, Probe, volume_name

# The Flagger load tester image ships `hey` and `ghz` with grpc's health.proto at
# /tmp/ghz/health.proto (fluxcd/flagger Dockerfile.loadtester), so the weighted apps' load needs
# no image of its own.
LOADTEST_IMAGE = "ghcr.io/fluxcd/flagger-loadtester:0.38.0"
# One run per minute, forever: a single `hey -z <years>` would keep every result in memory and
# print nothing until it exits; a loop prints a summary a minute and restarts cleanly when the
# sidecar or the app is briefly unavailable.
LOADTEST_RUN = "1m"
GRPC_HEALTH_CALL = "--insecure --proto=/tmp/ghz/health.proto --call=grpc.health.v1.Health/Check"

ISTIO_API = "networking.istio.io/v1"
ISTIO_VERSION_ANNOTATION = "istio-canary/istio-version"
FLAGGER_API = "flagger.app/v1beta1"


def image_ref(repository: str, tag: str) -> str:
    """`repo:tag`, or `repo@sha256:...` for a digest (a digest is not a tag)."""
    return f"{repository}@{tag}" if tag.startswith("sha256:") else f"{repository}:{tag}"


def service_host(app: str, namespace: str) -> str:
    return f"{app}.{namespace}.svc.cluster.local"


def port_name(app: App) -> str:
    """The Service and container port name: Istio selects the protocol by its prefix
    (istio.io "Protocol Selection": `http`, `http2`, `grpc`)."""
    return app.protocol


def load_command(app: App, host: str, qps: float, concurrency: int, path: str = "/") -> str:
    """One load run against `host` on the app's port: `hey` for HTTP, `ghz` on grpc's health service."""
    if app.protocol == "grpc":
        rate = f"--duration={LOADTEST_RUN} --rps={qps:g} --concurrency={concurrency}"
        return f"ghz {GRPC_HEALTH_CALL} {rate} {host}:{app.port}"
    # hey's -q is per worker: split the total rate across the workers.
    per_worker = f"{qps / concurrency:.3f}".rstrip("0").rstrip(".")
    h2 = " -h2" if app.protocol == "http2" else ""
    return f"hey -z {LOADTEST_RUN}{h2} -q {per_worker} -c {concurrency} http://{host}:{app.port}{path}"


def restricted(
    run_as_user: int = DEFAULT_UID, run_as_group: int = DEFAULT_UID, read_only_root: bool = True
) -> k8s.core.v1.SecurityContextArgs:
    """The Pod Security `restricted` profile, per container (istio-init keeps its own)."""
    return k8s.core.v1.SecurityContextArgs(
        # uid 0 is root whatever runAsNonRoot says: the policy pack flags it (pod-security-restricted).
        run_as_non_root=run_as_user != 0,
        run_as_user=run_as_user,
        run_as_group=run_as_group,
        read_only_root_filesystem=read_only_root,
        allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def pod_template(
    labels: Mapping[str, str],
    containers: Sequence[k8s.core.v1.ContainerArgs],
    *,
    annotations: Mapping[str, str] | None = None,
    volumes: Sequence[k8s.core.v1.VolumeArgs] = (),
    service_account: pulumi.Input[str] | None = None,
    image_pull_secrets: Sequence[str] = (),
) -> k8s.core.v1.PodTemplateSpecArgs:
    """The one builder of every pod template the program creates."""
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(
            labels=dict(labels), annotations=dict(annotations) if annotations else None
        ),
        spec=k8s.core.v1.PodSpecArgs(
            containers=list(containers),
            volumes=list(volumes) or None,
            service_account_name=service_account,
            image_pull_secrets=[k8s.core.v1.LocalObjectReferenceArgs(name=n) for n in image_pull_secrets] or None,
            # The sidecar gets its identity from its own projected token, and GKE's metadata server
            # mints Workload Identity tokens itself: the app needs no API token mounted.
            automount_service_account_token=False,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
        ),
    )


def _probe(probe: Probe | None, app: App) -> k8s.core.v1.ProbeArgs | None:
    if probe is None:
        return None
    # httpGet, tcpSocket and grpc probes keep working under STRICT mTLS: Istio's injector
    # rewrites them to go through the sidecar's agent. A grpc probe takes a port number only.
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=probe.path, port=port_name(app)) if probe.path else None,
        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=port_name(app)) if probe.tcp else None,
        grpc=k8s.core.v1.GRPCActionArgs(port=app.port) if probe.grpc else None,
        initial_delay_seconds=probe.initial_delay_seconds,
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        failure_threshold=probe.failure_threshold,
    )


def _amounts(amounts: Any) -> dict[str, str] | None:
    found = {res: str(value) for res, value in amounts.model_dump().items() if value is not None}
    return found or None


def app_container(name: str, app: App, tag: str) -> k8s.core.v1.ContainerArgs:
    env = [k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in app.env.items()]
    env += [
        k8s.core.v1.EnvVarArgs(
            name=key,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=ref.secret, key=ref.key)
            ),
        )
        for key, ref in app.secret_env.items()
    ]
    env_from = [
        k8s.core.v1.EnvFromSourceArgs(
            secret_ref=k8s.core.v1.SecretEnvSourceArgs(name=source.secret_ref) if source.secret_ref else None,
            config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(name=source.config_map_ref)
            if source.config_map_ref
            else None,
        )
        for source in app.env_from
    ]
    security = app.security_context
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=image_ref(app.image, tag),
        image_pull_policy="IfNotPresent",
        command=list(app.command) if app.command is not None else None,
        args=list(app.args) if app.args is not None else None,
        env=env or None,
        env_from=env_from or None,
        ports=[k8s.core.v1.ContainerPortArgs(name=port_name(app), container_port=app.port, protocol="TCP")],
        readiness_probe=_probe(app.probes.readiness, app),
        liveness_probe=_probe(app.probes.liveness, app),
        startup_probe=_probe(app.probes.startup, app),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests=_amounts(app.resources.requests), limits=_amounts(app.resources.limits)
        ),
        security_context=restricted(security.run_as_user, security.run_as_group, security.read_only_root_filesystem),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name=volume_name(path), mount_path=path) for path in app.writable_paths
        ]
        or None,
    )


def injected_pod_annotations(istio_version: str) -> dict[str, str]:
    """What every injected pod template carries: the Istio version whose proxy it runs. Istio injects
    the sidecar when a pod is created, so an istiod upgrade leaves running pods on the old proxy until
    they restart (istio.io "Upgrade with Helm": restart the workloads); a version in the template
    makes every Istio upgrade roll the injected workloads after istiod, and shows it in the PR's diff."""
    return {ISTIO_VERSION_ANNOTATION: istio_version}


def app_pod_template(
    name: str,
    app: App,
    tag: str,
    labels: Mapping[str, str],
    service_account: pulumi.Input[str] | None = None,
    *,
    istio_version: str,
) -> k8s.core.v1.PodTemplateSpecArgs:
    """An app's pods at `tag`: its container, its writable directories, its identity (the app's
    ServiceAccount, passed as an output so the pods wait for it)."""
    return pod_template(
        labels,
        [app_container(name, app, tag)],
        annotations={**app.pod_annotations, **injected_pod_annotations(istio_version)},
        # Writable directories under the read-only root filesystem.
        volumes=[
            k8s.core.v1.VolumeArgs(name=volume_name(path), empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
            for path in app.writable_paths
        ],
        service_account=service_account,
        image_pull_secrets=app.image_pull_secrets,
    )


def metadata_field(resource: k8s.apiextensions.CustomResource, key: str) -> pulumi.Output[str]:
    """A custom resource's metadata field (its outputs are untyped: a dict, not ObjectMeta)."""
    metadata: pulumi.Output[Any] = resource.metadata  # type: ignore[attr-defined]  # set by the SDK from outputs
    return metadata.apply(lambda meta: meta[key] if isinstance(meta, dict) else getattr(meta, key))


def gateway_url(app: App, gateway_address: Any) -> Any:
    """How a user outside the cluster reaches the app: its first concrete host, else the gateway."""
    concrete = [h for h in app.hosts if "*" not in h]
    if concrete:
        return f"{'https' if app.tls else 'http'}://{concrete[0]}/"
    if app.hosts:
        return pulumi.Output.from_input(gateway_address).apply(lambda address: f"http://{address}/")
    return None
