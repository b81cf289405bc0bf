"""GKE hardening: Workload Identity, shielded nodes, release channel, node service accounts."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .base import MANDATORY, UNKNOWN, _get, _known, _seq

_DEFAULT_COMPUTE_SA = re.compile(r"(default|\d+-compute@developer\.gserviceaccount\.com)")


def _node_service_account_problem(node_config: Any) -> str | None:
    sa = _known(lambda: _get(node_config, "serviceAccount"), UNKNOWN)
    if sa is UNKNOWN:
        return None  # the email of a service account created in this update: not the default one
    if not isinstance(sa, str) or not sa:
        return "nodes run as the default compute service account (set nodeConfig.serviceAccount)"
    if _DEFAULT_COMPUTE_SA.fullmatch(sa):
        return f"nodes run as the default compute service account {sa!r}"
    return None


def _check_gke_hardening(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == "gcp:container/cluster:Cluster":
        where = f"GKE cluster {_get(props, 'name') or args.name}"
        problems = []
        if not _get(props, "workloadIdentityConfig", "workloadPool"):
            problems.append("Workload Identity is off (workloadIdentityConfig.workloadPool)")
        if _get(props, "enableShieldedNodes") is False:
            problems.append("shielded nodes are off (enableShieldedNodes)")
        if _get(props, "releaseChannel", "channel") not in ("RAPID", "REGULAR", "STABLE", "EXTENDED"):
            problems.append(
                f"no release channel (releaseChannel.channel is {_get(props, 'releaseChannel', 'channel')!r})"
            )
        if _get(props, "enableLegacyAbac") is True:
            problems.append("legacy ABAC is on (enableLegacyAbac)")
        if _get(props, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
            problems.append("a client certificate is issued (masterAuth.clientCertificateConfig)")
        if _get(props, "masterAuth", "username") or _get(props, "masterAuth", "password"):
            problems.append("basic auth is on (masterAuth.username/password)")
        if not _get(props, "removeDefaultNodePool"):
            sa = _node_service_account_problem(_get(props, "nodeConfig"))
            if sa:
                problems.append(f"default node pool: {sa}")
        for i, pool in enumerate(_seq(_get(props, "nodePools"))):
            problems.extend(f"nodePools[{i}]: {p}" for p in _node_pool_problems(pool))
        for problem in problems:
            report(f"{where}: {problem}")
    elif args.resource_type == "gcp:container/nodePool:NodePool":
        where = f"GKE node pool {_get(props, 'name') or args.name}"
        for problem in _node_pool_problems(props):
            report(f"{where}: {problem}")


def _node_pool_problems(pool: Any) -> list[str]:
    problems = []
    for flag in ("autoRepair", "autoUpgrade"):
        if _get(pool, "management", flag) is False:
            problems.append(f"management.{flag} is off")
    sa = _node_service_account_problem(_get(pool, "nodeConfig"))
    if sa:
        problems.append(sa)
    if _get(pool, "nodeConfig", "workloadMetadataConfig", "mode") == "GCE_METADATA":
        problems.append("nodeConfig.workloadMetadataConfig.mode GCE_METADATA exposes the node's credentials to pods")
    return problems


gke_hardening = ResourceValidationPolicy(
    name="gke-hardening",
    description="Harden GKE: Workload Identity on, shielded nodes on, a release channel set, legacy ABAC off, no "
    "client certificate or basic auth; node pools with auto-repair, auto-upgrade "
    "and their own service account (not the default compute one). See components/cluster.py.",
    enforcement_level=MANDATORY,
    validate=_check_gke_hardening,
)


def _check_deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == "gcp:container/cluster:Cluster" and _get(args.props, "deletionProtection") is False:
        report(f"GKE cluster {_get(args.props, 'name') or args.name}: deletion protection is off (deletionProtection)")


# Its own policy, so that a teardown can relax it alone: a stack's policy config file
# (`pulumi up --policy-pack-config policy-config.<stack>.json`, Pulumi's format, e.g.
# {"gke-deletion-protection": "advisory"}; pulumi.com/docs "Configuring policy packs") lowers this
# policy for that stack only, while every other rule of the pack stays mandatory.
gke_deletion_protection = ResourceValidationPolicy(
    name="gke-deletion-protection",
    description="Keep GKE deletion protection on (cluster.deletionProtection: true). To tear a stack down, "
    "one reviewed PR sets deletionProtection: false and adds policy-config.<stack>.json with "
    '{"gke-deletion-protection": "advisory"}; after its deploy, `pulumi destroy` (docs/operations.md, "Teardown").',
    enforcement_level=MANDATORY,
    validate=_check_deletion_protection,
)
