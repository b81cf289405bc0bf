"""Issue 12, classes 4, 6 and 8 for the settings: full-match patterns, every limit Kubernetes,
GKE and Istio enforce checked first, secrets never echoed, and no input crashes the parser."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delivery import stack
from model.settings import ConfigError, Settings, parse_stack_config
from model.settings.parse import has_credentials
from model.settings.re2 import unsupported
from tests.support.project import FIXTURES_DIR

APPS, CLUSTER = "istio-canary:apps", "istio-canary:cluster"
DEV = stack.load_config("dev", FIXTURES_DIR)


def problems(config: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_stack_config(config)
    return dict(info.value.problems)


def with_value(key: str, path: str, value) -> dict:
    config = copy.deepcopy(DEV)
    node = config[key]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return config


# --- class 4: patterns match whole values ----------------------------------------------------

TRAILING = [
    (APPS, "podinfo.canary.tag", "6.14.1\n", "apps.podinfo.canary.tag"),
    (APPS, "podinfo.image", "ghcr.io/stefanprodan/podinfo\n", "apps.podinfo.image"),
    (APPS, "podinfo.namespace", "test\n", "apps.podinfo.namespace"),
    (APPS, "podinfo.hosts", ["podinfo.example.com\n"], "apps.podinfo.hosts.0"),
    (APPS, "backend.analysis.interval", "15s\n", "apps.backend.analysis.interval"),
    (APPS, "frontend.match.0.header", "user-agent\n", "apps.frontend.match.0.header"),
    (CLUSTER, "location", "europe-west1-b\n", "cluster.location"),
    (CLUSTER, "machineType", "e2-standard-4\n", "cluster.machineType"),
    (CLUSTER, "name", "istio-canary\n", "cluster.name"),
    ("istio-canary:platform", "istioVersion", "1.30.3\n", "platform.istioVersion"),
]


@pytest.mark.parametrize("key, path, value, where", TRAILING, ids=[t[3] for t in TRAILING])
def test_a_trailing_newline_never_passes_a_pattern(key, path, value, where):
    assert where in problems(with_value(key, path, value))


def test_a_trailing_newline_in_gcp_keys_is_refused():
    config = dict(DEV, **{"gcp:project": "acme-istio-canary\n"})
    assert "gcp:project" in problems(config)


@pytest.mark.parametrize(
    "regex, construct",
    [
        (".*(?=Firefox).*", "lookahead"),
        (".*(?!Chrome).*", "negative lookahead"),
        ("(?<=x)y", "lookbehind"),
        ("(?<!x)y", "negative lookbehind"),
        (r"(a)\1", "backreference"),
        ("(?P<n>a)(?P=n)", "named backreference"),
        ("(?>ab)", "atomic group"),
        ("a++", "possessive"),
        ("a*+", "possessive"),
        ("(a)?(?(1)b|c)", "conditional"),
        ("(?#comment)a", "comment"),
        ("(?x) a b", "inline flags"),
        ("a{1001}", "repetition"),
        (r"abc\Z", "RE2 writes the end"),
    ],
)
def test_a_regex_istio_cannot_compile_is_refused(regex, construct):
    config = with_value(APPS, "frontend.match.0.regex", regex)
    message = problems(config)["apps.frontend.match.0.regex"]
    assert construct in message and "RE2" in message or "not a regular expression" in message


@pytest.mark.parametrize("regex", [".*Firefox.*", "(?i)insider", "^type=insider$", r"[\]a]+", "(?P<n>x)", "a{2,1000}"])
def test_re2_compatible_regexes_pass(regex):
    assert unsupported(regex) is None
    parse_stack_config(with_value(APPS, "frontend.match.0.regex", regex))


@pytest.mark.parametrize("header", ["User-Agent", "x canary", "x-canary:", ":authority", "ü", ""])
def test_header_names_are_lowercase_rfc7230_tokens(header):
    assert "apps.frontend.match.0.header" in problems(with_value(APPS, "frontend.match.0.header", header))


@pytest.mark.parametrize(
    "path, value, where",
    [
        ("podinfo.canary.tag", "a" * 129, "apps.podinfo.canary.tag"),
        ("podinfo.canary.tag", "-x", "apps.podinfo.canary.tag"),
        ("podinfo.canary.tag", "sha256:" + "A" * 64, "apps.podinfo.canary.tag"),
        ("podinfo.image", "ghcr.io/" + "a" * 250, "apps.podinfo.image"),
        ("podinfo.image", "user:pass@ghcr.io/x", "apps.podinfo.image"),
        ("podinfo.hosts", ["a" * 64 + ".example.com"], "apps.podinfo.hosts.0"),
        ("podinfo.hosts", ["x." * 130 + "com"], "apps.podinfo.hosts.0"),
        ("podinfo.namespace", "kube-flannel", "apps.podinfo.namespace"),
        ("podinfo.namespace", "istio-system", "apps.podinfo.namespace"),
        ("podinfo.namespace", "monitoring", "apps.podinfo.namespace"),
        ("podinfo.namespace", "a" * 64, "apps.podinfo.namespace"),
    ],
)
def test_kubernetes_and_oci_limits_are_enforced_first(path, value, where):
    assert where in problems(with_value(APPS, path, value))


@pytest.mark.parametrize("name", ["1podinfo", "a" * 55, "pod.info", "-pod", "Podinfo"])
def test_app_names_fit_every_derived_object_name(name):
    config = copy.deepcopy(DEV)
    config[APPS][name] = config[APPS].pop("podinfo")
    assert f"apps.{name}" in problems(config)


def test_two_apps_whose_derived_names_collide_are_refused():
    config = copy.deepcopy(DEV)
    config[APPS]["podinfo-canary"] = copy.deepcopy(config[APPS]["backend"]) | {"namespace": "test"}
    config[APPS]["podinfo-canary"].pop("hosts", None)
    assert any("collides" in m for m in problems(config).values())


@pytest.mark.parametrize("name", ["1cluster", "a" * 41, "Cluster", "cluster-"])
def test_gke_cluster_names_follow_gke(name):
    assert "cluster.name" in problems(with_value(CLUSTER, "name", name))


@pytest.mark.parametrize(
    "min_nodes, max_nodes, ok", [(1, 2, False), (1, 3, True), (4, 5, False), (4, 6, True), (3, 3, True)]
)
def test_a_regional_pool_must_be_allowed_to_start_with_min_nodes_per_zone(min_nodes, max_nodes, ok):
    config = with_value(CLUSTER, "location", "europe-west1")
    config[CLUSTER].update(minNodes=min_nodes, maxNodes=max_nodes)
    if ok:
        parse_stack_config(config)
    else:
        assert "rounded up" in problems(config)["cluster.maxNodes"]


def test_a_zonal_pool_has_no_per_zone_rounding():
    config = copy.deepcopy(DEV)
    config[CLUSTER].update(minNodes=1, maxNodes=1)
    parse_stack_config(config)


# --- class 6: secrets never echoed -----------------------------------------------------------

SECRET = "https://hooks.slack.com/services/T0/B0/SUPERSECRET"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.__setitem__("istio-canary:slackWebhookUrl", SECRET),
        lambda c: c.__setitem__("istio-canary:slackWebhookUrl", {"secure": "SUPERSECRET", "x": 1}),
        lambda c: c.__setitem__("istio-canary:notifications", SECRET),
        lambda c: c.__setitem__("istio-canary:notifications", {"slackWebhookUrl": SECRET}),
        lambda c: c.__setitem__("istio-canary:notifications", {"slackChannel": SECRET}),
        lambda c: c.__setitem__("istio-canary:platform", {"grafanaPassword": "SUPERSECRET"}),
        lambda c: c.__setitem__("istio-canary:cluster", [SECRET]),
        lambda c: c[APPS]["podinfo"].__setitem__("image", "https://u:SUPERSECRET@ghcr.io/x"),
        lambda c: c[APPS]["podinfo"].__setitem__("hosts", [SECRET]),
        lambda c: c[APPS]["podinfo"].__setitem__("token", "SUPERSECRET"),
        lambda c: c.__setitem__("gcp:project", SECRET),
        lambda c: c[CLUSTER].__setitem__("apiToken", "SUPERSECRET"),
        # userinfo without a scheme: an image reference or host that carries `user:password@`
        lambda c: c[APPS]["podinfo"].__setitem__("image", "user:SUPERSECRET@ghcr.io/x/y"),
        lambda c: c[APPS]["podinfo"].__setitem__("hosts", ["u:SUPERSECRET@podinfo.example.com"]),
        lambda c: c.__setitem__("gcp:project", "me:SUPERSECRET@acme"),
    ],
)
def test_a_secret_value_never_appears_in_a_settings_error(mutate):
    config = copy.deepcopy(DEV)
    mutate(config)
    with pytest.raises(ConfigError) as info:
        parse_stack_config(config)
    assert "SUPERSECRET" not in str(info.value)


@pytest.mark.parametrize(
    "text, carries",
    [
        ("https://u:p@host/x", True),
        ("user:pw@ghcr.io/a/b", True),
        ("'user:pw@ghcr.io/a/b' must be a repository", True),
        ("https://user@host", True),
        ("http://h/?token=1", True),
        ("git@github.com:org/repo", False),
        ("ops@example.com", False),
        ("ghcr.io/stefanprodan/podinfo", False),
        ("d" * 100_000, False),
        ("x" * 100_000 + " https://u:p@h", True),
    ],
)
def test_credentials_are_recognised_with_or_without_a_scheme(text, carries):
    assert has_credentials(text) is carries


# --- class 8: no input crashes the parser ------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        APPS,
        CLUSTER,
        "istio-canary:platform",
        "istio-canary:delivery",
        "istio-canary:notifications",
        "istio-canary:slackWebhookUrl",
        "gcp:project",
        "gcp:region",
        "istio-canary:other",
    ]
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=6))
def test_any_config_is_settings_or_a_config_error_naming_a_key(config):
    try:
        result = parse_stack_config(config)
    except ConfigError as exc:
        assert exc.problems and all(isinstance(path, str) and message for path, message in exc.problems)
    else:
        assert isinstance(result, Settings)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["podinfo", "backend", "frontend"]), st.text(max_size=6), json_values)
def test_any_value_at_any_app_key_is_settings_or_a_config_error(app, key, value):
    config = copy.deepcopy(DEV)
    config[APPS][app][key or "tag"] = value
    try:
        parse_stack_config(config)
    except ConfigError as exc:
        assert any(path.startswith("apps.") or path == "" for path, _ in exc.problems)
