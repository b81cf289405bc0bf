"""The one way this program installs a Helm chart: a fixed release name, a version pinned by the stack, one timeout."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from model import charts
from model.settings import Platform

# Seconds Helm waits for a release's objects to become ready. The provider's default, 300 s, is
# too short on a first install: pods wait for nodes to start (and to scale up), images to pull,
# and the gateway's Service for a cloud load balancer; a release that times out is left
# `failed` and has to be repaired by hand. One value for every release.
RELEASE_TIMEOUT_SECONDS = 600
# Revisions Helm keeps per release (one Secret each). Unset, the provider keeps every revision
# forever; 10 is the Helm CLI's own default (`helm upgrade --history-max`, "default 10"), enough
# to `helm rollback` past a few bad upgrades.
RELEASE_MAX_HISTORY = 10


def release(
    resource_name: str,
    *,
    chart: str,
    platform: Platform,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    name: str | None = None,
    skip_crds: bool = False,
) -> k8s.helm.v3.Release:
    """A Helm release of `chart` (a name in model/charts.py) named `name` (default: the resource
    name), so object names and labels the chart derives from it are known in advance; the
    repository and the exact version come from the pins table and `platform`.

    `skip_crds`: leave the chart's `crds/` directory alone, for charts that render the same
    CRDs as templates (which Helm upgrades; `crds/` it installs once and never touches again)."""
    pinned = charts.chart(chart)
    return k8s.helm.v3.Release(
        resource_name,
        name=name or resource_name,
        chart=chart,
        version=getattr(platform, pinned.version_field),
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pinned.url),
        namespace=namespace,
        values=values,
        timeout=RELEASE_TIMEOUT_SECONDS,
        max_history=RELEASE_MAX_HISTORY,
        skip_crds=skip_crds or None,
        opts=opts,
    )
