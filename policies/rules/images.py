"""Pinned images and charts: no `latest`, no untagged image, no chart without an exact version."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .base import MANDATORY, _get, _map
from .kubernetes import containers, helm_release, workload_of

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned, or None if it has a tag other than `latest` or a digest."""
    if not isinstance(image, str) or not image:
        return "has no image"
    if "@" in image:
        return None if _DIGEST.match(image.split("@", 1)[1]) else f"{image!r} has a malformed digest"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{image!r} has no tag (it means latest)"
    if last.rsplit(":", 1)[1].lower() == "latest":
        return f"{image!r} uses the latest tag"
    return None


def _helm_image_problems(values: Any, path: str = "values") -> Iterator[str]:
    """Image references set in Helm values: `image: repo:tag` strings and `image.tag` fields."""
    for key, value in _map(values).items():
        here = f"{path}.{key}"
        if isinstance(value, Mapping):
            if "image" in str(key).lower():
                tag = value.get("tag")
                if isinstance(tag, str) and tag.lower() == "latest":
                    yield f"{here}.tag is latest"
            yield from _helm_image_problems(value, here)
        elif isinstance(value, str) and str(key).lower().endswith("image") and value:
            problem = image_problem(value)
            if problem:
                yield f"{here}: {problem}"
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            for i, item in enumerate(value):
                yield from _helm_image_problems(item, f"{here}[{i}]")


def _check_pinned_images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    release = helm_release(args.resource_type, args.props, args.urn)
    if release is not None:
        for problem in _helm_image_problems(release.values):
            report(f"Helm release {release.namespace}/{release.name}: {problem}")
        return
    obj, template = workload_of(args)
    if obj is None or template is None:
        return
    for where, container in containers(template[1]):
        image = container.get("image")
        # `auto` is the image Istio's injector replaces for a gateway proxy: istiod's webhook sets the real one.
        if image == "auto" and container.get("name") == "istio-proxy":
            continue
        unpinned = image_problem(image)
        if unpinned:
            report(f"{obj.ref} {where} ({container.get('name')}): {unpinned}")


pinned_images = ResourceValidationPolicy(
    name="pinned-images",
    description="Pin every container image to a version tag (ghcr.io/org/app:6.13.0) or a sha256: digest; never "
    "latest or no tag. App tags live in apps.<app> in Pulumi.<stack>.yaml; chart images in the chart's values.",
    enforcement_level=MANDATORY,
    validate=_check_pinned_images,
)
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def _check_pinned_charts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    release = helm_release(args.resource_type, args.props, args.urn)
    if release is None:
        return
    where = f"Helm release {release.namespace}/{release.name or args.name}"
    chart, version = _get(args.props, "chart"), _get(args.props, "version")
    if not isinstance(version, str) or not _EXACT_VERSION.match(version):
        report(f"{where}: chart version {version!r} is not an exact version (X.Y.Z)")
    repo = _get(args.props, "repositoryOpts", "repo")
    if isinstance(chart, str) and chart.startswith("oci://"):
        return
    if not isinstance(repo, str) or not repo.startswith(("https://", "oci://")):
        report(f"{where}: chart {chart!r} comes from repository {repo!r}, not an https:// or oci:// one")


pinned_charts = ResourceValidationPolicy(
    name="pinned-charts",
    description="Install every Helm release from an https:// (or oci://) repository at an exact chart version "
    "(X.Y.Z, no range): set the version in platform.* of Pulumi.<stack>.yaml and repositoryOpts.repo.",
    enforcement_level=MANDATORY,
    validate=_check_pinned_charts,
)
