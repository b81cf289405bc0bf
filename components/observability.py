"""Prometheus and Grafana in `monitoring`: the metrics every canary decision here is made on.

Prometheus keeps only what the analyses use: Istio's sidecar metrics (merged into each pod's
:15020 endpoint and announced by the `prometheus.io/*` annotations istiod's injector writes)
and istiod's own, both found by the chart's annotation-driven `kubernetes-pods` job. The
exporters, the push gateway and the node and API-server jobs are off.

Alertmanager is off too: Prometheus evaluates alerting rules (given as `alerting_rules`, shipped
in the chart's `serverFiles`) without it, and their state shows on Prometheus' /alerts page and
in the `ALERTS` series, which Grafana can graph. Routing alerts to a person needs a receiver,
and canary outcomes already reach Slack through Flagger; add Alertmanager with a receiver only
when a rule must page on its own.

Neither release waits for Istio: they run outside the mesh and only read what it emits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import helm
from model.settings import Platform

NAMESPACE = "monitoring"

# The server's Service name and port are set in the chart values from these constants, and the
# URL every consumer (Grafana, Flagger, MetricTemplates) uses is built from them: one source.
PROMETHEUS_SERVER = "prometheus-server"
PROMETHEUS_PORT = 80
PROMETHEUS_URL = f"http://{PROMETHEUS_SERVER}.{NAMESPACE}:{PROMETHEUS_PORT}"
# rate() needs two samples in its window: every query window here (Canary metric intervals,
# alert windows, Grafana's $__rate_interval) must be at least twice this, or comes back empty
# ("no values found" in Flagger).
SCRAPE_INTERVAL = "15s"
# The chart's default jobs nobody here reads; `prometheus` (itself) and `kubernetes-pods` stay.
DISABLED_SCRAPE_JOBS = (
    "kubernetes-api-servers",
    "kubernetes-nodes",
    "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints",
    "kubernetes-service-endpoints-slow",
    "prometheus-pushgateway",
    "kubernetes-services",
    "kubernetes-pods-slow",
)

GRAFANA = "grafana"
GRAFANA_ADMIN_SECRET = "grafana-admin"
DATASOURCE_UID = "prometheus"
DASHBOARDS_DIR = Path(__file__).resolve().parent.parent / "dashboards"
DASHBOARD_PROVIDER = "istio-canary"
DASHBOARDS_CONFIGMAP = "grafana-dashboards-istio-canary"


def dashboard_files(directory: Path = DASHBOARDS_DIR) -> dict[str, str]:
    """`<name>.json` -> its text, for every dashboard in the repository, checked to be JSON."""
    files = {}
    for path in sorted(directory.glob("*.json")):
        text = path.read_text()
        json.loads(text)  # a broken dashboard fails the preview, not Grafana's provisioning
        files[path.name] = text
    return files


class Observability(pulumi.ComponentResource):
    """Prometheus (scraping the mesh) and Grafana (datasource and dashboards provisioned)."""

    def __init__(
        self,
        name: str,
        platform: Platform,
        alerting_rules: Mapping[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("istio-canary:observability:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Prometheus and Grafana stay outside the mesh: a sidecar would put mTLS between
        # Prometheus and the plain-text metrics ports it scrapes.
        self.namespace = k8s.core.v1.Namespace(
            NAMESPACE,
            metadata={"name": NAMESPACE, "labels": {"istio-injection": "disabled"}},
            opts=child,
        )
        namespace = self.namespace.metadata.name

        self.prometheus_url = PROMETHEUS_URL
        server_files = {"alerting_rules.yml": dict(alerting_rules)} if alerting_rules else {}
        self.prometheus = helm.release(
            "prometheus",
            chart="prometheus",
            platform=platform,
            namespace=namespace,
            values={
                "server": {
                    "fullnameOverride": PROMETHEUS_SERVER,
                    "service": {"servicePort": PROMETHEUS_PORT},
                    "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
                    "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}},
                },
                "configmapReload": {"prometheus": {"resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}},
                "scrapeConfigs": {job: {"enabled": False} for job in DISABLED_SCRAPE_JOBS},
                **({"serverFiles": server_files} if server_files else {}),
                "alertmanager": {"enabled": False},
                "kube-state-metrics": {"enabled": False},
                "prometheus-node-exporter": {"enabled": False},
                "prometheus-pushgateway": {"enabled": False},
            },
            opts=child,
        )

        password = random.RandomPassword("grafana-admin-password", length=32, special=False, opts=child)
        # The password reaches Grafana only through this Secret: never in Helm values or outputs.
        admin = k8s.core.v1.Secret(
            GRAFANA_ADMIN_SECRET,
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": namespace},
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=child,
        )
        dashboards = k8s.core.v1.ConfigMap(
            DASHBOARDS_CONFIGMAP,
            metadata={"name": DASHBOARDS_CONFIGMAP, "namespace": namespace},
            data=dashboard_files(),
            opts=child,
        )
        self.grafana = helm.release(
            GRAFANA,
            chart="grafana",
            platform=platform,
            namespace=namespace,
            values={
                "admin": {
                    "existingSecret": admin.metadata.name,
                    "userKey": "admin-user",
                    "passwordKey": "admin-password",
                },
                "datasources": {
                    "datasources.yaml": {
                        "apiVersion": 1,
                        "datasources": [
                            {
                                "name": "Prometheus",
                                "type": "prometheus",
                                "uid": DATASOURCE_UID,
                                "access": "proxy",
                                "url": self.prometheus_url,
                                "isDefault": True,
                                # Lets `$__rate_interval` cover at least four scrapes.
                                "jsonData": {"timeInterval": SCRAPE_INTERVAL},
                            }
                        ],
                    }
                },
                "dashboardProviders": {
                    "dashboardproviders.yaml": {
                        "apiVersion": 1,
                        "providers": [
                            {
                                "name": DASHBOARD_PROVIDER,
                                "orgId": 1,
                                "folder": "Istio canary",
                                "type": "file",
                                "disableDeletion": True,
                                "editable": False,
                                "options": {"path": f"/var/lib/grafana/dashboards/{DASHBOARD_PROVIDER}"},
                            }
                        ],
                    }
                },
                # The chart mounts this ConfigMap at /var/lib/grafana/dashboards/<provider>.
                "dashboardsConfigMaps": {DASHBOARD_PROVIDER: dashboards.metadata.name},
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
                "testFramework": {"enabled": False},
            },
            opts=child,
        )
        self.grafana_url_hint = (
            f"kubectl -n {NAMESPACE} port-forward svc/{GRAFANA} 3000:80, then http://localhost:3000 "
            f"(user admin, password in Secret {NAMESPACE}/{GRAFANA_ADMIN_SECRET})"
        )

        self.register_outputs(
            {
                "prometheusUrl": self.prometheus_url,
                "grafanaUrlHint": self.grafana_url_hint,
            }
        )
