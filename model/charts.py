"""The pinned Helm charts: which repository each comes from and which `platform.*Version` pins it.

One table for the program (components/helm.py installs from it), `python -m delivery upgrades`
(reads these repositories' indexes) and anything that renders the charts offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic.alias_generators import to_camel

# repository name (as `upgrades --repo NAME=URL` names it) -> the URL the program installs from
REPOSITORIES = {
    "istio": "https://istio-release.storage.googleapis.com/charts",
    "flagger": "https://flagger.app",
    "prometheus-community": "https://prometheus-community.github.io/helm-charts",
    "grafana-community": "https://grafana-community.github.io/helm-charts",
}


@dataclass(frozen=True)
class Chart:
    name: str  # the chart's name in its repository
    repository: str  # a key of REPOSITORIES
    version_field: str  # the `Platform` field that pins it (snake_case)

    @property
    def url(self) -> str:
        return REPOSITORIES[self.repository]

    @property
    def version_key(self) -> str:
        """The stack-file key under `platform:` (`istioVersion`)."""
        return to_camel(self.version_field)


CHARTS: tuple[Chart, ...] = (
    # Istio's three charts share one version: an Istio upgrade moves them together.
    Chart("base", "istio", "istio_version"),
    Chart("istiod", "istio", "istio_version"),
    Chart("gateway", "istio", "istio_version"),
    Chart("flagger", "flagger", "flagger_version"),
    Chart("loadtester", "flagger", "loadtester_version"),
    Chart("prometheus", "prometheus-community", "prometheus_version"),
    Chart("grafana", "grafana-community", "grafana_version"),
)
BY_NAME = {chart.name: chart for chart in CHARTS}


def chart(name: str) -> Chart:
    return BY_NAME[name]


def pinned_by(version_key: str) -> tuple[Chart, ...]:
    """The charts one `platform.<key>` pins (all of them must publish a version to use it)."""
    return tuple(c for c in CHARTS if c.version_key == version_key)


def version_keys() -> list[str]:
    """Every `platform.*Version` key that pins a chart, in table order."""
    return list(dict.fromkeys(c.version_key for c in CHARTS))
