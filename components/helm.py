"""The one way this program installs a Helm chart: a fixed release name, a version pinned by the stack."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from model import charts
from model.settings import Platform


def release(
    resource_name: str,
    *,
    chart: str,
    platform: Platform,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    name: str | None = None,
) -> k8s.helm.v3.Release:
    """A Helm release of `chart` (a name in model/charts.py) named `name` (default: the resource
    name), so object names and labels the chart derives from it are known in advance; the
    repository and the exact version come from the pins table and `platform`."""
    pinned = charts.chart(chart)
    return k8s.helm.v3.Release(
        resource_name,
        name=name or resource_name,
        chart=chart,
        version=getattr(platform, pinned.version_field),
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pinned.url),
        namespace=namespace,
        values=values,
        opts=opts,
    )
