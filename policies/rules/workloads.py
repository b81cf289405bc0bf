"""Every container: resource requests and limits, a restricted security context."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .base import ADVISORY, MANDATORY, _get, _is_int, _map
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


def _check_workload_security(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj, template = workload_of(args)
    if obj is None or template is None:
        return
    pod = _map(template[1].get("securityContext"))
    for where, container in containers(template[1]):
        ctx = _map(container.get("securityContext"))
        run_as_user = ctx.get("runAsUser", pod.get("runAsUser"))
        non_root = ctx.get("runAsNonRoot", pod.get("runAsNonRoot")) is True or (
            _is_int(run_as_user) and run_as_user > 0
        )
        problems = []
        if not non_root or run_as_user == 0:
            problems.append("runAsNonRoot: true (or a non-zero runAsUser)")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation: false")
        if ctx.get("readOnlyRootFilesystem") is not True:
            problems.append("readOnlyRootFilesystem: true")
        if ctx.get("privileged") is True:
            problems.append("no privileged: true")
        if problems:
            report(f"{obj.ref} {where} ({container.get('name')}) needs {', '.join(problems)}")


workload_security = ResourceValidationPolicy(
    name="workload-security",
    description="Run every container as non-root (runAsNonRoot: true or a non-zero runAsUser) with "
    "allowPrivilegeEscalation: false and readOnlyRootFilesystem: true, and never privileged.",
    enforcement_level=ADVISORY,
    validate=_check_workload_security,
)
