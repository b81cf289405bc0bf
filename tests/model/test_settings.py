"""Every settings rule rejects bad config with a message naming the key path."""

from __future__ import annotations

import copy

import pytest

from delivery import stack
from model.settings import ConfigError, parse_stack_config
from tests.support.project import FIXTURES_DIR

APPS = "istio-canary:apps"
CLUSTER = "istio-canary:cluster"
PLATFORM = "istio-canary:platform"


def rejected(config: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_stack_config(config)
    return dict(info.value.problems)


def edit(base: dict, key: str, path: str, value) -> dict:
    config = copy.deepcopy(base)
    node = config.setdefault(key, {})
    *parents, last = path.split(".") if path else [None]
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return config


_DELETE = object()


@pytest.fixture
def dev(dev_config):
    return copy.deepcopy(dev_config)


def test_dev_and_local_stack_files_load():
    dev = parse_stack_config(stack.load_config("dev", FIXTURES_DIR))
    local = parse_stack_config(stack.load_config("local", FIXTURES_DIR))
    assert dev.cluster.provider == "gke" and dev.gcp.project == "acme-istio-canary"
    assert dev.apps["podinfo"].weights.ga == 90 and dev.apps["frontend"].match[0].header == "user-agent"
    assert dev.has_slack_webhook and dev.notifications.slack_channel == "#deploys"
    assert local.cluster.provider == "existing" and local.gcp is None
    assert local.platform.gateway_service_type == "NodePort"


@pytest.mark.parametrize(
    "weights, problem",
    [
        ({"ga": 95, "canary": 10}, "sum to 100"),
        ({"ga": 101, "canary": -1}, "less than or equal to 100"),
    ],
)
def test_weights_must_be_0_to_100_and_sum_to_100(dev, weights, problem):
    problems = rejected(edit(dev, APPS, "podinfo.weights", weights))
    assert any(problem in msg for path, msg in problems.items() if path.startswith("apps.podinfo.weights"))


def test_weights_must_be_integers_not_strings(dev):
    problems = rejected(edit(dev, APPS, "podinfo.weights", {"ga": "90", "canary": 10}))
    assert "must be an integer" in problems["apps.podinfo.weights.ga"]


@pytest.mark.parametrize("tag", ["latest", "LATEST", "not a tag", "sha256:xyz"])
def test_tags_are_oci_tags_or_digests_never_latest(dev, tag):
    problems = rejected(edit(dev, APPS, "backend.tag", tag))
    assert "apps.backend.tag" in problems


def test_a_digest_tag_is_accepted(dev):
    config = edit(dev, APPS, "backend.tag", "sha256:" + "a" * 64)
    del config[APPS]["backend"]["track"]
    assert parse_stack_config(config).apps["backend"].tag.startswith("sha256:")


def test_a_tag_outside_its_track_is_rejected(dev):
    problems = rejected(edit(dev, APPS, "podinfo.canary.tag", "6.15.0"))
    assert "outside its track '6.14.x'" in problems["apps.podinfo.canary.tag"]


def test_tracks_accept_flux_style_ranges(dev):
    config = edit(dev, APPS, "podinfo.ga.track", ">=6.0.0 <7.0.0")
    assert parse_stack_config(config).apps["podinfo"].ga.track == ">=6.0.0 <7.0.0"
    problems = rejected(edit(dev, APPS, "podinfo.ga.track", "six-ish"))
    assert "apps.podinfo.ga.track" in problems


@pytest.mark.parametrize("version", ["1.30", "~1.30.3", "^1.30.0", "v1.30.3", "1.30.x"])
def test_chart_versions_are_exact(dev, version):
    problems = rejected(edit(dev, PLATFORM, "istioVersion", version))
    assert "exact chart version" in problems["platform.istioVersion"]


@pytest.mark.parametrize(
    "key, path, value, where",
    [
        (CLUSTER, "name", "Istio_Canary", "cluster.name"),
        (APPS, "podinfo.namespace", "Test", "apps.podinfo.namespace"),
    ],
)
def test_names_and_namespaces_are_dns_labels(dev, key, path, value, where):
    assert "DNS-1123 label" in rejected(edit(dev, key, path, value))[where]


def test_app_names_are_dns_labels(dev):
    config = copy.deepcopy(dev)
    config[APPS]["Pod_Info"] = config[APPS].pop("podinfo")
    assert "DNS-1035 label" in rejected(config)["apps.Pod_Info"]


@pytest.mark.parametrize("host", ["http://podinfo.example.com", "podinfo..example.com", "Podinfo.example.com"])
def test_hosts_are_dns_names_or_star(dev, host):
    assert "is not a host" in rejected(edit(dev, APPS, "podinfo.hosts", [host]))["apps.podinfo.hosts.0"]


@pytest.mark.parametrize("interval", ["15", "15 s", "1 minute", "1d"])
def test_durations_need_a_unit(dev, interval):
    assert (
        "is not a duration"
        in rejected(edit(dev, APPS, "backend.analysis.interval", interval))["apps.backend.analysis.interval"]
    )


def test_step_weight_is_at_most_max_weight(dev):
    problems = rejected(edit(dev, APPS, "backend.analysis.stepWeight", 60))
    assert "allowed: 1..maxWeight" in problems["apps.backend.analysis.stepWeight"]


def test_max_weight_is_at_most_100(dev):
    assert "apps.backend.analysis.maxWeight" in rejected(edit(dev, APPS, "backend.analysis.maxWeight", 120))


def test_ab_needs_a_match_and_iterations(dev):
    assert "apps.frontend.match" in rejected(edit(dev, APPS, "frontend.match", []))
    assert "apps.frontend.analysis.iterations" in rejected(edit(dev, APPS, "frontend.analysis.iterations", 0))


@pytest.mark.parametrize("missing", ["ga", "canary", "weights"])
def test_weighted_needs_ga_canary_and_weights(dev, missing):
    problems = rejected(edit(dev, APPS, f"podinfo.{missing}", _DELETE))
    assert problems[f"apps.podinfo.{missing}"] == "required key is missing"


def test_min_nodes_at_most_max_nodes(dev):
    assert "more than cluster.maxNodes" in rejected(edit(dev, CLUSTER, "minNodes", 9))["cluster.minNodes"]


@pytest.mark.parametrize("cidr", ["203.0.113.0/33", "203.0.113.1/24", "somewhere"])
def test_cidrs_are_valid(dev, cidr):
    assert (
        "CIDR" in rejected(edit(dev, CLUSTER, "masterAuthorizedNetworks", [cidr]))["cluster.masterAuthorizedNetworks.0"]
    )


def test_gke_needs_a_project_and_a_location(dev):
    config = copy.deepcopy(dev)
    del config["gcp:project"], config["gcp:region"], config[CLUSTER]["location"]
    problems = rejected(config)
    assert "gcp:project" in problems and "cluster.location" in problems


def test_a_location_outside_the_region_is_rejected(dev):
    assert "outside gcp:region" in rejected(edit(dev, CLUSTER, "location", "us-central1-a"))["cluster.location"]


@pytest.mark.parametrize(
    "key, path, where",
    [
        (APPS, "podinfo.weigths", "apps.podinfo.weigths"),
        (CLUSTER, "machinetype", "cluster.machinetype"),
        (APPS, "podinfo.ga.replica", "apps.podinfo.ga.replica"),
    ],
)
def test_unknown_keys_are_errors(dev, key, path, where):
    problems = rejected(edit(dev, key, path, 1))
    assert problems[where].startswith("unknown key; allowed:")


def test_an_unknown_top_level_key_is_an_error(dev):
    dev["istio-canary:plattform"] = {}
    assert "unknown key" in rejected(dev)["plattform"]


def test_unknown_strategy_lists_the_allowed_ones(dev):
    assert (
        "weighted | canary | ab" in rejected(edit(dev, APPS, "podinfo.strategy", "bluegreen"))["apps.podinfo.strategy"]
    )


def test_the_slack_webhook_must_be_a_secret(dev):
    dev["istio-canary:slackWebhookUrl"] = "https://hooks.slack.com/services/T000/B000/XXXX"
    assert "--secret" in rejected(dev)["slackWebhookUrl"]


def test_gke_only_keys_are_rejected_for_an_existing_cluster():
    local = stack.load_config("local", FIXTURES_DIR)
    local[CLUSTER]["machineType"] = "e2-standard-4"
    assert "only allowed with cluster.provider gke" in rejected(local)["cluster.machineType"]


def test_an_image_must_not_carry_its_tag(dev):
    problems = rejected(edit(dev, APPS, "backend.image", "ghcr.io/stefanprodan/podinfo:6.13.0"))
    assert "put the tag in `tag`" in problems["apps.backend.image"]


def test_two_apps_cannot_route_the_same_host(dev):
    dev[APPS]["frontend"]["hosts"] = ["podinfo.example.com"]
    assert "already routed by apps.podinfo" in rejected(dev)["apps.frontend.hosts"]


def test_apps_cannot_live_in_platform_namespaces(dev):
    assert (
        "reserved for the platform"
        in rejected(edit(dev, APPS, "backend.namespace", "istio-system"))["apps.backend.namespace"]
    )


def test_every_problem_is_reported_at_once(dev):
    config = edit(edit(dev, APPS, "podinfo.weights", {"ga": 1, "canary": 1}), APPS, "backend.tag", "latest")
    assert {"apps.podinfo.weights", "apps.backend.tag"} <= set(rejected(config))


# --- autopilot keys --------------------------------------------------------------------------

DELIVERY = "istio-canary:delivery"
MINIMAL = {
    CLUSTER: {"provider": "existing"},
    APPS: {
        "web": {
            "namespace": "shop",
            "strategy": "weighted",
            "image": "ghcr.io/stefanprodan/podinfo",
            "ga": {"tag": "6.13.0"},
            "canary": {"tag": "6.13.0"},
            "weights": {"ga": 100, "canary": 0},
        }
    },
}


def test_autopilot_defaults_are_steps_10_60_100_a_10m_bake_and_auto_rollback():
    settings = parse_stack_config(MINIMAL)
    assert settings.delivery.steps == (10, 60, 100) and settings.delivery.bake_time == "10m"
    assert settings.delivery.auto_rollback and settings.delivery.autopilot and settings.apps["web"].autopilot


def test_autopilot_keys_are_read_from_the_stack_file():
    config = edit(MINIMAL, APPS, "web.autopilot", False)
    config[DELIVERY] = {"steps": [25, 50, 75, 100], "bakeTime": "1h30m", "autoRollback": False, "autopilot": False}
    settings = parse_stack_config(config)
    assert settings.delivery.steps == (25, 50, 75, 100) and settings.delivery.bake_time == "1h30m"
    assert not settings.delivery.auto_rollback and not settings.delivery.autopilot
    assert not settings.apps["web"].autopilot


@pytest.mark.parametrize(
    "steps, problem",
    [
        ([10, 60], "[10, 60] must end at 100"),
        ([], "[] must end at 100"),
        ([60, 10, 100], "must rise strictly from 0: 10 follows 60"),
        ([0, 50, 100], "must rise strictly from 0: 0 follows 0"),
        ([10, 70, 100], "10 -> 70 rises by 60, more than delivery.maxWeightStep 50"),
        ([10, 60, 101], "less than or equal to 100"),
    ],
)
def test_steps_rise_within_max_weight_step_and_end_at_100(steps, problem):
    problems = rejected({**MINIMAL, DELIVERY: {"steps": steps}})
    assert any(problem in msg for path, msg in problems.items() if path.startswith("delivery.steps")), problems


def test_explicit_steps_follow_the_stacks_own_max_weight_step():
    assert rejected({**MINIMAL, DELIVERY: {"maxWeightStep": 20, "steps": [10, 30, 60, 100]}}) == {
        "delivery.steps": "30 -> 60 rises by 30, more than delivery.maxWeightStep 20"
    }
    # The default steps stay valid: autopilot caps each move at maxWeightStep itself.
    assert parse_stack_config({**MINIMAL, DELIVERY: {"maxWeightStep": 20}}).delivery.steps == (10, 60, 100)


@pytest.mark.parametrize(
    "bake, problem",
    [
        ("30s", "'30s' is shorter than 1m"),
        ("10 minutes", "is not a duration"),
        (600, "must be a string"),
    ],
)
def test_bake_time_is_a_duration_of_at_least_a_minute(bake, problem):
    problems = rejected({**MINIMAL, DELIVERY: {"bakeTime": bake}})
    assert problem in problems["delivery.bakeTime"]


@pytest.mark.parametrize("key, path", [(DELIVERY, "autoRollback"), (DELIVERY, "autopilot"), (APPS, "web.autopilot")])
def test_autopilot_switches_are_booleans(key, path):
    config = edit(MINIMAL, key, path, "no")
    where = f"apps.{path}" if key == APPS else f"delivery.{path}"
    assert rejected(config) == {where: "must be true or false, got 'no'"}


@pytest.mark.parametrize(
    "port, problem",
    [
        (29999, "greater than or equal to 30000"),
        (32768, "less than or equal to 32767"),
        ("30080", "must be an integer"),
    ],
)
def test_the_gateway_node_port_is_in_the_node_port_range(dev, port, problem):
    config = edit(dev, PLATFORM, "gatewayServiceType", "NodePort")
    problems = rejected(edit(config, PLATFORM, "gatewayNodePort", port))
    assert problem in problems["platform.gatewayNodePort"]


def test_the_gateway_node_port_needs_a_node_port_gateway(dev):
    config = edit(dev, PLATFORM, "gatewayServiceType", "LoadBalancer")
    problems = rejected(edit(config, PLATFORM, "gatewayNodePort", 30080))
    assert problems == {"platform.gatewayNodePort": "only allowed with platform.gatewayServiceType NodePort"}
    config = edit(dev, PLATFORM, "gatewayServiceType", "NodePort")
    assert parse_stack_config(edit(config, PLATFORM, "gatewayNodePort", 30080)).platform.gateway_node_port == 30080
