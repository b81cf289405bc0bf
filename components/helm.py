"""The one way this program installs a Helm chart: a fixed release name, a pinned version."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def release(resource_name: str, *, chart: str, version: str, repo: str, namespace: pulumi.Input[str],
            values: dict[str, Any], opts: pulumi.ResourceOptions, name: str | None = None) -> k8s.helm.v3.Release:
    """A Helm release named `name` (default: the resource name), so object names and labels
    the chart derives from it are known in advance; `version` is always an exact pin."""
    return k8s.helm.v3.Release(
        resource_name,
        name=name or resource_name,
        chart=chart,
        version=version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
        namespace=namespace,
        values=values,
        opts=opts,
    )
