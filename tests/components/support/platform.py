"""Reading the platform out of a plan: releases by name, what waits for what, the URLs components
give each other; and `changed_plan`, the platform with other chart versions and settings."""

from __future__ import annotations

import pytest

RELEASE = "kubernetes:helm.sh/v3:Release"
MESH = "istio-canary:mesh:Mesh"


def release(plan, name):
    return plan.named(name, RELEASE)


def descendants(plan, urn):
    kids = [r["urn"] for r in plan.resources if r.get("parent") == urn]
    return set(kids).union(*(descendants(plan, k) for k in kids))


def waits_for(plan, urn):
    """Everything `urn` waits for, transitively; waiting for a component means waiting for its children."""
    by_urn, seen, todo = plan.by_urn(), set(), [urn]
    while todo:
        for dep in by_urn[todo.pop()]["dependencies"]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
                if not by_urn[dep]["custom"]:
                    todo.extend(descendants(plan, dep) - seen)
                    seen |= descendants(plan, dep)
    return seen


def istio_resources(plan):
    mesh = plan.of_type(MESH)[0]["urn"]
    return descendants(plan, mesh) | {r["urn"] for r in plan.resources if ".istio.io" in r["type"]}


def loadtesters(plan):
    return [r for r in plan.of_type(RELEASE) if r["inputs"]["chart"] == "loadtester"]


def prometheus_url_of_release(plan):
    """The URL the prometheus chart's server Service answers on: `<server fullname>.<namespace>:<servicePort>`."""
    prometheus = release(plan, "prometheus")["inputs"]
    server = prometheus["values"]["server"]
    return f"http://{server['fullnameOverride']}.{prometheus['namespace']}:{server['service']['servicePort']}"


OTHER_VERSIONS = {
    "istioVersion": "1.29.1",
    "flaggerVersion": "1.43.0",
    "loadtesterVersion": "0.37.0",
    "prometheusVersion": "29.1.0",
    "grafanaVersion": "12.0.2",
}


@pytest.fixture(scope="module")
def changed_plan(render_config):
    """The dev stack with other chart versions, PERMISSIVE mTLS, a NodePort gateway and no Slack webhook."""

    def mutate(config):
        config["istio-canary:platform"].update(OTHER_VERSIONS, mtls="PERMISSIVE", gatewayServiceType="NodePort")
        del config["istio-canary:slackWebhookUrl"]

    return render_config(mutate)
