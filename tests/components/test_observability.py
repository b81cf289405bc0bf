"""components/observability.py: Prometheus and Grafana wait for nothing in Istio, Grafana reads that
Prometheus and its admin password from a Secret, and Prometheus scrapes what the canaries need."""

from __future__ import annotations

import re

from tests.components.support.platform import istio_resources, prometheus_url_of_release, release, waits_for


def test_prometheus_and_grafana_wait_for_nothing_in_istio(dev_plan):
    for name in ("prometheus", "grafana"):
        assert not waits_for(dev_plan, release(dev_plan, name)["urn"]) & istio_resources(dev_plan), name


def test_grafana_datasource_is_that_prometheus(dev_plan):
    datasources = release(dev_plan, "grafana")["inputs"]["values"]["datasources"]["datasources.yaml"]["datasources"]
    assert [(d["type"], d["url"]) for d in datasources] == [("prometheus", prometheus_url_of_release(dev_plan))]
    # Grafana sizes $__rate_interval from the scrape interval it is told.
    scrape = release(dev_plan, "prometheus")["inputs"]["values"]["server"]["global"]["scrape_interval"]
    assert datasources[0]["jsonData"]["timeInterval"] == scrape


def seconds(duration):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", duration))


def test_every_canary_metric_window_holds_two_scrapes(dev_plan):
    # rate() over a window with fewer than two samples is empty: Flagger reports "no values found".
    scrape = seconds(release(dev_plan, "prometheus")["inputs"]["values"]["server"]["global"]["scrape_interval"])
    canaries = dev_plan.of_type("kubernetes:flagger.app/v1beta1:Canary")
    assert canaries
    for canary in canaries:
        analysis = canary["inputs"]["spec"]["analysis"]
        for m in analysis["metrics"]:
            assert seconds(m.get("interval", analysis["interval"])) >= 2 * scrape, (canary["name"], m["name"])


def test_prometheus_scrapes_merged_istio_metrics_and_drops_the_rest(dev_plan):
    assert release(dev_plan, "istiod")["inputs"]["values"]["meshConfig"]["enablePrometheusMerge"] is True
    values = release(dev_plan, "prometheus")["inputs"]["values"]
    jobs = values["scrapeConfigs"]
    assert jobs.get("kubernetes-pods", {}).get("enabled", True) is True
    assert jobs["kubernetes-nodes"] == {"enabled": False}
    for component in ("alertmanager", "kube-state-metrics", "prometheus-node-exporter", "prometheus-pushgateway"):
        assert values[component] == {"enabled": False}, component


def test_grafana_reads_its_admin_password_from_the_secret(dev_plan):
    values = release(dev_plan, "grafana")["inputs"]["values"]
    assert values["admin"]["existingSecret"] == dev_plan.named("grafana-admin")["inputs"]["metadata"]["name"]
    assert "adminPassword" not in values
