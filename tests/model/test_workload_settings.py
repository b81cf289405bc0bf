"""Every app key and `namespaces` rejects bad input at its key path (the team fixture stack, edited)."""

from __future__ import annotations

import copy

import pytest

from delivery.__main__ import main
from model.settings import ConfigError, parse_stack_config
from tests.support.project import TEAM_DIR

APPS = "istio-canary:apps"


def edit(app: str, **keys):
    def mutate(config):
        config[APPS][app].update(keys)

    return mutate


def analysis(app: str, **keys):
    def mutate(config):
        config[APPS][app].setdefault("analysis", {}).update(keys)

    return mutate


def namespaces(value):
    def mutate(config):
        config["istio-canary:namespaces"] = value

    return mutate


CASES = [
    ("port as text", edit("api", port="8080"), "apps.api.port"),
    ("port out of range", edit("api", port=70000), "apps.api.port"),
    ("port the sidecar binds", edit("api", port=15020), "apps.api.port"),
    ("unknown protocol", edit("api", protocol="tcp"), "apps.api.protocol"),
    ("command not a list", edit("api", command="/app/api"), "apps.api.command"),
    ("args of numbers", edit("api", args=[1]), "apps.api.args.0"),
    ("env name not a C identifier", edit("api", env={"1BAD": "x"}), "apps.api.env.1BAD"),
    ("env value not a string", edit("api", env={"PORT": 8080}), "apps.api.env.PORT"),
    ("envFrom with a bad Secret name", edit("api", envFrom=[{"secretRef": "Api_Env"}]), "apps.api.envFrom.0.secretRef"),
    ("envFrom with neither source", edit("api", envFrom=[{}]), "apps.api.envFrom.0"),
    ("envFrom with both sources", edit("api", envFrom=[{"secretRef": "a", "configMapRef": "b"}]), "apps.api.envFrom.0"),
    ("secretEnv without a key", edit("api", secretEnv={"DB": {"secret": "db"}}), "apps.api.secretEnv.DB.key"),
    (
        "secretEnv with a bad key",
        edit("api", secretEnv={"DB": {"secret": "db", "key": "a b"}}),
        "apps.api.secretEnv.DB.key",
    ),
    (
        "secretEnv also in env",
        edit("api", secretEnv={"LOG_LEVEL": {"secret": "s", "key": "k"}}),
        "apps.api.secretEnv.LOG_LEVEL",
    ),
    ("resources quantity", edit("api", resources={"requests": {"cpu": "lots"}}), "apps.api.resources.requests.cpu"),
    (
        "requests above limits",
        edit("api", resources={"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}),
        "apps.api.resources.requests.memory",
    ),
    ("unknown resource", edit("api", resources={"requests": {"gpu": 1}}), "apps.api.resources.requests.gpu"),
    ("probe of no kind", edit("api", probes={"readiness": {"periodSeconds": 5}}), "apps.api.probes.readiness"),
    ("probe of two kinds", edit("api", probes={"readiness": {"path": "/x", "tcp": True}}), "apps.api.probes.readiness"),
    ("probe path not absolute", edit("api", probes={"liveness": {"path": "live"}}), "apps.api.probes.liveness.path"),
    (
        "probe period 0",
        edit("api", probes={"startup": {"tcp": True, "periodSeconds": 0}}),
        "apps.api.probes.startup.periodSeconds",
    ),
    ("probe tcp false", edit("api", probes={"startup": {"tcp": False}}), "apps.api.probes.startup.tcp"),
    ("unknown probe", edit("api", probes={"ready": {"tcp": True}}), "apps.api.probes.ready"),
    (
        "not an email",
        edit("api", serviceAccount={"gcpServiceAccount": "api-at-payments"}),
        "apps.api.serviceAccount.gcpServiceAccount",
    ),
    ("negative uid", edit("api", securityContext={"runAsUser": -1}), "apps.api.securityContext.runAsUser"),
    ("privileged is no key", edit("api", securityContext={"privileged": True}), "apps.api.securityContext.privileged"),
    ("relative writable path", edit("api", writablePaths=["tmp"]), "apps.api.writablePaths.0"),
    ("writable path twice", edit("api", writablePaths=["/tmp", "/tmp/"]), "apps.api.writablePaths.1"),
    ("pull secret name", edit("api", imagePullSecrets=["Registry Creds"]), "apps.api.imagePullSecrets.0"),
    ("annotation key", edit("api", podAnnotations={"bad key!": "x"}), "apps.api.podAnnotations.bad key!"),
    ("annotation value", edit("api", podAnnotations={"a": 1}), "apps.api.podAnnotations.a"),
    (
        "autoscaling min above max",
        edit("api", autoscaling={"minReplicas": 5, "maxReplicas": 2}),
        "apps.api.autoscaling.minReplicas",
    ),
    ("autoscaling cpu 0", edit("api", autoscaling={"cpu": 0}), "apps.api.autoscaling.cpu"),
    ("autoscaling on a weighted app", edit("ledger", autoscaling={"minReplicas": 2}), "apps.ledger.autoscaling"),
    ("loadtest on a Flagger app", edit("api", loadtest={"qps": 5}), "apps.api.loadtest"),
    ("loadtest path not a path", edit("ledger", loadtest={"path": "version"}), "apps.ledger.loadtest.path"),
    (
        "loadtest path of a grpc app",
        edit("ledger", protocol="grpc", loadtest={"path": "/x"}),
        "apps.ledger.loadtest.path",
    ),
    ("tls with a wildcard host", edit("web", hosts=["*"]), "apps.web.tls"),
    ("tls without hosts", edit("rates", tls={"credentialName": "rates-tls"}), "apps.rates.tls"),
    ("tls credential name", edit("api", tls={"credentialName": "API TLS"}), "apps.api.tls.credentialName"),
    (
        "metric without bounds",
        analysis("api", metrics=[{"name": "latency", "thresholdRange": {}}]),
        "apps.api.analysis.metrics.0.thresholdRange",
    ),
    (
        "metric min above max",
        analysis("api", metrics=[{"name": "latency", "thresholdRange": {"min": 9, "max": 1}}]),
        "apps.api.analysis.metrics.0.thresholdRange.min",
    ),
    (
        "custom metric without query",
        analysis("api", metrics=[{"name": "qd", "thresholdRange": {"max": 1}}]),
        "apps.api.analysis.metrics.0.query",
    ),
    (
        "platform metric with a query",
        analysis("api", metrics=[{"name": "error-rate", "thresholdRange": {"max": 1}, "query": "up"}]),
        "apps.api.analysis.metrics.0.query",
    ),
    (
        "metric listed twice",
        analysis("api", metrics=[{"name": "latency", "thresholdRange": {"max": 1}}] * 2),
        "apps.api.analysis.metrics.1.name",
    ),
    (
        "metric interval",
        analysis("api", metrics=[{"name": "latency", "thresholdRange": {"max": 1}, "interval": "soon"}]),
        "apps.api.analysis.metrics.0.interval",
    ),
    (
        "metric interval in hours (the Canary CRD's pattern refuses it)",
        analysis("api", metrics=[{"name": "latency", "thresholdRange": {"max": 1}, "interval": "1h"}]),
        "apps.api.analysis.metrics.0.interval",
    ),
    (
        "metric interval under a second",
        analysis("api", metrics=[{"name": "latency", "thresholdRange": {"max": 1}, "interval": "0s"}]),
        "apps.api.analysis.metrics.0.interval",
    ),
    (
        "webhook type",
        analysis("api", webhooks=[{"name": "x", "type": "pre-flight", "cmd": "true"}]),
        "apps.api.analysis.webhooks.0.type",
    ),
    ("webhook with no target", analysis("api", webhooks=[{"name": "x"}]), "apps.api.analysis.webhooks.0"),
    (
        "webhook with url and cmd",
        analysis("api", webhooks=[{"name": "x", "url": "http://a/", "cmd": "true"}]),
        "apps.api.analysis.webhooks.0",
    ),
    ("webhook url", analysis("api", webhooks=[{"name": "x", "url": "ftp://a/"}]), "apps.api.analysis.webhooks.0.url"),
    (
        "webhook timeout",
        analysis("api", webhooks=[{"name": "x", "cmd": "true", "timeout": "1h"}]),
        "apps.api.analysis.webhooks.0.timeout",
    ),
    (
        "webhook metadata not text",
        analysis("api", webhooks=[{"name": "x", "cmd": "true", "metadata": {"n": 1}}]),
        "apps.api.analysis.webhooks.0.metadata.n",
    ),
    ("webhooks not a list", analysis("api", webhooks="none"), "apps.api.analysis.webhooks"),
    ("namespace no app runs in", namespaces({"nope": {"create": False}}), "namespaces.nope"),
    ("default created", namespaces({"default": {"create": True}}), "namespaces.default.create"),
    ("create as text", namespaces({"ledger": {"create": "no"}}), "namespaces.ledger.create"),
    ("unknown namespace key", namespaces({"ledger": {"labels": {}}}), "namespaces.ledger.labels"),
    ("namespaces not a mapping", namespaces(["ledger"]), "namespaces"),
    ("reserved namespace", namespaces({"istio-system": {"create": False}}), "namespaces.istio-system"),
]


@pytest.mark.parametrize("what, mutate, path", CASES, ids=[c[0] for c in CASES])
def test_bad_app_input_is_reported_at_its_key_path(team_config, what, mutate, path):
    config = copy.deepcopy(team_config)
    mutate(config)
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert path in [p for p, _ in err.value.problems], err.value.problems
    # A reference to a Secret is a name, not a secret: the message shows what was wrong.
    assert "not shown" not in str(err.value), err.value.problems


def test_the_team_stack_is_valid_as_written(team_config):
    settings = parse_stack_config(team_config)
    assert settings.creates_namespace("payments")
    assert not settings.creates_namespace("default") and not settings.creates_namespace("ledger")


def test_preview_exits_2_naming_the_key_and_writes_nothing(tmp_path, capsys):
    text = (TEAM_DIR / "Pulumi.team.yaml").read_text()
    (tmp_path / "Pulumi.team.yaml").write_text(text.replace("path: /ready,", "path: ready,"))
    out = tmp_path / "out"
    assert main(["preview", "--stack", "team", "--stack-dir", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "apps.api.probes.readiness.path" in err and "Traceback" not in err
    assert not out.exists()
