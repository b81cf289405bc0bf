"""Render every Helm release of an offline plan with its real chart, as `helm install` would.

Each `kubernetes:helm.sh/v3:Release` in the plan names its chart, version and repository; the
archive `<chart>-<version>.tgz` is found in `$ISTIO_CANARY_CHARTS`, then in the shared reference
charts beside the project (`../shared/reference/charts`, or `$ISTIO_CANARY_REFERENCE/charts`),
else pulled from the release's repository at that exact version into a user cache, so a user
or CI runner with a network renders the published chart (and an upgrade PR the new one).

Rendering uses Helm's own engine (helm-python-sdk = the Helm Go SDK) for one target Kubernetes
version and the API versions it serves; a render does not enforce Chart.yaml `kubeVersion`, so
it is checked here. CRDs of a chart's `crds/` folder are not in the render output: they are
added, as an install would create them first. Secrets in the plan are "[secret]": they render
as a placeholder, and no secret value ever reaches this code or the files it writes.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from delivery.clients import http
from delivery.errors import UnavailableError
from delivery.plan import engine
from model import charts
from model.versions import Track, TrackError, Version

try:  # libyaml: ~5x faster on the ~1 MB of Istio CRDs
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader, _Dumper = yaml.SafeLoader, yaml.SafeDumper

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
# The Kubernetes version the rendered state is checked against. GKE's REGULAR channel (the
# channel Pulumi.dev.yaml enrolls in, and GKE's default) made 1.35 its default minor in 2026,
# while 1.36 was still being promoted from RAPID; Istio 1.30 supports 1.32-1.36
# (istio.io "Supported Releases"). kind/minikube stacks run what their node image ships, so
# they are checked against the same version. Bump it with the channel, not with the charts.
KUBERNETES_VERSION = "1.35.0"
# What Helm and the charts see as a secret value in place of "[secret]".
SECRET_PLACEHOLDER = "redacted-by-istio-canary-verify"
# Namespaces every cluster has: objects may live there without a Namespace in the plan.
BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


class ChartUnavailable(UnavailableError):
    """The archive is in no local directory and could not be pulled (offline, or not published): exit 3."""


class RenderError(Exception):
    """The chart does not render with these values: a defect of the plan, not of the input."""


@dataclass(frozen=True)
class Release:
    urn: str
    name: str
    namespace: str
    chart: str
    version: str
    repo: str
    values: dict
    skip_crds: bool = False

    @classmethod
    def from_resource(cls, resource: dict) -> Release:
        inputs = resource["inputs"]
        return cls(
            urn=resource["urn"],
            name=inputs.get("name", resource["name"]),
            namespace=inputs.get("namespace", "default"),
            chart=inputs["chart"],
            version=str(inputs["version"]),
            # The program installs from the pins table's repository; a plan without one (an older
            # plan.json) still pulls from where the program would.
            repo=(inputs.get("repositoryOpts") or {}).get("repo") or _table_repo(inputs["chart"]),
            values=inputs.get("values") or {},
            skip_crds=bool(inputs.get("skipCrds")),
        )

    @property
    def label(self) -> str:
        return f"release {self.namespace}/{self.name} ({self.chart} {self.version})"


@dataclass
class Rendered:
    release: Release
    archive: Path
    kube_version_constraint: str | None
    objects: list[dict] = field(default_factory=list)  # every object the release applies, CRDs first


def _table_repo(chart: str) -> str:
    pinned = charts.BY_NAME.get(chart)
    return pinned.url if pinned else ""


def releases(plan: engine.Plan | dict) -> list[Release]:
    resources = plan["resources"] if isinstance(plan, dict) else plan.resources
    return [Release.from_resource(r) for r in resources if r["type"] == RELEASE_TYPE]


# --- archives ------------------------------------------------------------------------------


def chart_dirs(project_dir: Path = engine.PROJECT_DIR) -> list[Path]:
    """Where archives are looked up before any pull, in order."""
    dirs = []
    if os.environ.get("ISTIO_CANARY_CHARTS"):
        dirs.append(Path(os.environ["ISTIO_CANARY_CHARTS"]))
    reference = os.environ.get("ISTIO_CANARY_REFERENCE")
    dirs.append((Path(reference) if reference else project_dir.parent / "shared" / "reference") / "charts")
    return dirs


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "istio-canary" / "charts"


def resolve_archive(
    chart: str, version: str, repo: str, *, dirs: list[Path] | None = None, cache: Path | None = None
) -> Path:
    """`<chart>-<version>.tgz` from the local directories, the cache, or the chart's repository."""
    filename = f"{chart}-{version}.tgz"
    cache = cache or cache_dir()
    for directory in [*(dirs if dirs is not None else chart_dirs()), cache]:
        if (directory / filename).is_file():
            return directory / filename
    if not repo:
        raise ChartUnavailable(
            f"{filename} is in none of {', '.join(map(str, dirs or []))} and the release names no repository"
        )
    import helm_python

    cache.mkdir(parents=True, exist_ok=True)
    # Pull into a scratch directory and move the finished archive in: an interrupted pull
    # leaves nothing in the cache that a later run would take for a chart.
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        try:
            helm_python.pull(chart, repo_url=repo, version=version, destination=scratch)
        except helm_python.HelmError as exc:
            shown = http.redact_text(str(exc))[:300]
            raise ChartUnavailable(f"cannot pull {chart} {version} from {http.redact(repo)}: {shown}") from None
        pulled = Path(scratch) / filename
        if not pulled.is_file():
            raise ChartUnavailable(f"pulling {chart} {version} from {http.redact(repo)} produced no {filename}")
        os.replace(pulled, cache / filename)
    return cache / filename


# --- capabilities --------------------------------------------------------------------------


def check_kube_version(constraint: str | None, kubernetes_version: str = KUBERNETES_VERSION) -> bool:
    """Chart.yaml `kubeVersion` as `helm install` enforces it (Masterminds semver)."""
    if not constraint:
        return True
    # `-0` only lets pre-release cluster versions (GKE's `1.35.1-gke.100`) match: the target
    # here is a plain release, so the suffix does not change the answer.
    text = " ".join(part[:-2] if part.endswith("-0") else part for part in constraint.replace(",", " ").split())
    target = Version.parse(kubernetes_version)
    if target is None:
        raise ValueError(f"the target Kubernetes version {kubernetes_version!r} is not a semantic version")
    try:
        return Track.parse(text).admits(target)
    except TrackError:
        return False


# --- render --------------------------------------------------------------------------------


def _unredacted(value: Any) -> Any:
    if value == engine.SECRET:
        return SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {k: _unredacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unredacted(v) for v in value]
    return value


def _documents(text: str, source: str) -> list[dict]:
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise RenderError(f"{source} renders invalid YAML: {exc}") from None
    return [d for d in docs if isinstance(d, dict) and d]


def render_release(
    release: Release,
    archive: Path,
    api_versions: tuple[str, ...] | list[str],
    kubernetes_version: str = KUBERNETES_VERSION,
) -> Rendered:
    """The release's objects: its chart's `crds/` then its rendered templates (hooks and tests included)."""
    stat = archive.stat()
    key = json.dumps(
        [
            release.name,
            release.namespace,
            release.skip_crds,
            release.values,
            str(archive),
            stat.st_mtime_ns,
            stat.st_size,
            sorted(api_versions),
            kubernetes_version,
        ],
        sort_keys=True,
    )
    if key not in _RENDERS:
        if len(_RENDERS) >= 64:
            _RENDERS.clear()
        _RENDERS[key] = _render(release, archive, api_versions, kubernetes_version)
    cached = _RENDERS[key]
    return Rendered(release, archive, cached.kube_version_constraint, copy.deepcopy(cached.objects))


# One render per distinct input in a process: tests and `make bench` verify the same releases often.
_RENDERS: dict[str, Rendered] = {}


def _render(release: Release, archive: Path, api_versions: Sequence[str], kubernetes_version: str) -> Rendered:
    import helm_python
    from helm_python import _native

    values = _unredacted(release.values)
    with helm_python.Chart.load(archive) as chart:
        metadata = chart.metadata
        rendered = Rendered(release, archive, metadata.get("kubeVersion"))
        try:
            chart.validate_schema(values)
            # The wrapper's render() does not pass these two options; the native call takes them.
            opts = {
                "name": release.name,
                "namespace": release.namespace,
                "is_install": True,
                "kube_version": f"v{kubernetes_version}",
                "api_versions": list(api_versions),
            }
            manifests = json.loads(
                _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts))
            )
        except helm_python.HelmError as exc:
            raise RenderError(f"{release.label} does not render: {exc}") from None
        for crd in [] if release.skip_crds else chart.crds:
            rendered.objects.extend(_documents(crd["data"], crd["filename"]))
    for template in sorted(manifests):
        if not template.endswith((".yaml", ".yml", ".tpl")) and "/templates/" not in template:
            continue
        if template.endswith("NOTES.txt"):
            continue
        rendered.objects.extend(_documents(manifests[template], template))
    return rendered


def write_rendered(rendered: list[Rendered], out_dir: Path) -> list[Path]:
    """`<out_dir>/<namespace>/<release>.yaml` per release. Only what an earlier run wrote there is
    replaced (manifests.write_owned): a directory the tool does not own is refused, never emptied."""
    from delivery.plan.manifests import write_owned

    files = {}
    for item in rendered:
        header = f"# {item.release.label} from {item.archive.name}, Kubernetes {KUBERNETES_VERSION}\n"
        rel = f"{item.release.namespace}/{item.release.name}.yaml"
        files[rel] = header + yaml.dump_all(item.objects, Dumper=_Dumper, sort_keys=False)
    write_owned(out_dir, files)
    return [out_dir / rel for rel in files]
