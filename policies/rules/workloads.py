"""Every container: resource requests and limits, the Pod Security `restricted` profile, a read-only root
filesystem and a readiness probe (the last two advisory)."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .base import ADVISORY, MANDATORY, _get, _is_int, _map, _seq
from .kubernetes import containers, workload_of


def _check_workload_resources(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj, template = workload_of(args)
    if obj is None or template is None:
        return
    for where, container in containers(template[1]):
        resources = _map(container.get("resources"))
        missing = [
            f"{kind}.{res}"
            for kind, res in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
            if _get(resources, kind, res) in (None, "")
        ]
        if missing:
            report(f"{obj.ref} {where} ({container.get('name')}): no {', '.join(missing)}")


workload_resources = ResourceValidationPolicy(
    name="workload-resources",
    description="Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every "
    "container (init containers too), so the scheduler and the HPA have numbers to work with.",
    enforcement_level=MANDATORY,
    validate=_check_workload_resources,
)


# Pod Security Standards, `restricted` profile (kubernetes.io/docs/concepts/security/pod-security-standards):
# what it forbids is mandatory here, as a namespace enforcing `restricted` would reject the pod.
# A writable root filesystem is not part of any profile: it is advisory (workload-security).
_ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_SECCOMP_TYPES = ("RuntimeDefault", "Localhost")


def _restricted_problems(pod: Mapping, ctx: Mapping) -> list[str]:
    problems = []
    run_as_user = ctx.get("runAsUser", pod.get("runAsUser"))
    non_root = ctx.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if (
        run_as_user == 0
        or non_root is False
        or (non_root is not True and not (_is_int(run_as_user) and run_as_user > 0))
    ):
        problems.append("a non-root user (runAsNonRoot: true, runAsUser not 0)")
    if ctx.get("privileged") is True:
        problems.append("no privileged: true")
    if ctx.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation: false")
    capabilities = _map(ctx.get("capabilities"))
    if "ALL" not in _seq(capabilities.get("drop")):
        problems.append("capabilities.drop: [ALL]")
    added = sorted(set(map(str, _seq(capabilities.get("add")))) - _ALLOWED_ADDED_CAPABILITIES)
    if added:
        problems.append(f"no added capabilities but NET_BIND_SERVICE (adds {added})")
    seccomp = _get(ctx, "seccompProfile", "type") or _get(pod, "seccompProfile", "type")
    if seccomp not in _SECCOMP_TYPES:
        problems.append("seccompProfile.type RuntimeDefault")
    return problems


def _check_pod_security_restricted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj, template = workload_of(args)
    if obj is None or template is None:
        return
    pod = _map(template[1].get("securityContext"))
    for where, container in containers(template[1]):
        problems = _restricted_problems(pod, _map(container.get("securityContext")))
        if problems:
            report(f"{obj.ref} {where} ({container.get('name')}) needs {', '.join(problems)}")


pod_security_restricted = ResourceValidationPolicy(
    name="pod-security-restricted",
    description="Meet the Pod Security `restricted` profile in every container: run as non-root (runAsUser not 0; "
    "apps.<app>.securityContext.runAsUser), never privileged, allowPrivilegeEscalation: false, capabilities "
    "drop ALL (add only NET_BIND_SERVICE) and the RuntimeDefault seccomp profile.",
    enforcement_level=MANDATORY,
    validate=_check_pod_security_restricted,
)


def _check_workload_security(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj, template = workload_of(args)
    if obj is None or template is None:
        return
    for where, container in containers(template[1]):
        if _map(container.get("securityContext")).get("readOnlyRootFilesystem") is not True:
            report(f"{obj.ref} {where} ({container.get('name')}) has a writable root filesystem")


workload_security = ResourceValidationPolicy(
    name="workload-security",
    description="Keep every container's root filesystem read-only (readOnlyRootFilesystem: true) and mount the "
    "directories it writes as emptyDir volumes (apps.<app>.writablePaths). Advisory: some images need a writable "
    "root (apps.<app>.securityContext.readOnlyRootFilesystem: false).",
    enforcement_level=ADVISORY,
    validate=_check_workload_security,
)


def _check_readiness_probe(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj, template = workload_of(args)
    if obj is None or template is None:
        return
    for where, container in containers(template[1]):
        # A container that serves (declares a port) without a readiness probe gets traffic as soon as it
        # starts, and a rollout (Pulumi's, Flagger's) counts it ready before it answers.
        if _seq(container.get("ports")) and not container.get("readinessProbe"):
            report(f"{obj.ref} {where} ({container.get('name')}) serves a port but has no readinessProbe")


readiness_probe = ResourceValidationPolicy(
    name="readiness-probe",
    description="Give every serving container a readiness probe (apps.<app>.probes.readiness: {path: /x}, "
    "{tcp: true} or {grpc: true}), so traffic and rollouts wait until it answers. Advisory.",
    enforcement_level=ADVISORY,
    validate=_check_readiness_probe,
)
