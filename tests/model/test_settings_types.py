"""A value of the wrong YAML type anywhere in a stack file (a list where a string belongs, a map where
a number belongs) is a config error naming its key, exit 2: never a traceback, read as exit 1."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery.__main__ import main
from delivery.stack import load_config
from model.settings import ConfigError, parse_stack_config
from tests.support.project import FIXTURES_DIR

PREFIX = "istio-canary:"


def _leaves(value, path=()):
    """Every key path of the config with its value (maps and lists included)."""
    if path:
        yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _leaves(child, (*path, i))


def _other_types(value) -> list:
    """Values of a YAML type other than `value`'s (None left out: an optional key may be null)."""
    samples = {list: ["x"], dict: {"a": 1}, str: "text", int: 7, bool: True, float: 1.5}
    kind = bool if isinstance(value, bool) else type(value)
    return [sample for t, sample in samples.items() if t is not kind and not (kind is float and t is int)]


def _key(path: tuple) -> str:
    first = path[0].removeprefix(PREFIX)
    return ".".join([first, *(str(p) for p in path[1:])])


CONFIGS = {stack: load_config(stack, FIXTURES_DIR) for stack in ("dev", "local")}
CASES = [
    (stack, path, wrong)
    for stack, config in CONFIGS.items()
    for path, value in _leaves(config)
    if path[0] != f"{PREFIX}slackWebhookUrl"  # a secret: its own rule (it must be `secure:`)
    for wrong in _other_types(value)
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CASES))
def test_a_value_of_the_wrong_type_anywhere_is_a_config_error_naming_its_key(case):
    stack, path, wrong = case
    config = copy.deepcopy(CONFIGS[stack])
    target = config
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = wrong
    key = _key(path)
    with pytest.raises(ConfigError) as raised:
        parse_stack_config(config)
    named = [p for p, _ in raised.value.problems]
    # The key itself, a key inside it, or (for an app's `strategy`, which picks the app's model) its app.
    assert any(p == key or p.startswith(key + ".") or key.startswith(p + ".") for p in named), (key, named)


@pytest.mark.parametrize("strategy", [["weighted"], {"weighted": True}])
def test_an_unhashable_strategy_exits_2_naming_the_key(tmp_path, capsys, strategy):
    doc = yaml.safe_load((FIXTURES_DIR / "Pulumi.local.yaml").read_text())
    app = next(iter(doc["config"][f"{PREFIX}apps"]))
    doc["config"][f"{PREFIX}apps"][app]["strategy"] = strategy
    (tmp_path / "Pulumi.local.yaml").write_text(yaml.safe_dump(doc))
    code = main(["status", "--stack", "local", "--project-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"apps.{app}.strategy" in err and "Traceback" not in err


# --- durations fit what their consumer parses them into -------------------------------------------


@pytest.mark.parametrize(
    "interval, accepted",
    [
        ("15s", True),
        ("1m", True),
        ("90m", True),
        ("500ms", False),  # at least a second: Flagger checks every interval
        ("1ms", False),
        ("0s", False),
        ("0m", False),
        ("1s", True),
        ("1s500ms", True),
        ("1h", False),  # Flagger's Canary CRD: interval pattern ^[0-9]+(m|s)
        ("1h30m", False),
        ("153722867m", True),  # under 2^63 ns: Go's time.Duration holds it
        ("153722868m", False),  # over: time.ParseDuration refuses it
        ("9" * 40 + "s", False),
    ],
)
def test_flagger_intervals_fit_its_crd_and_go_time_duration(dev_config, interval, accepted):
    config = copy.deepcopy(dev_config)
    config[f"{PREFIX}apps"]["backend"]["analysis"]["interval"] = interval
    if accepted:
        parse_stack_config(config)
        return
    with pytest.raises(ConfigError) as raised:
        parse_stack_config(config)
    assert [p for p, _ in raised.value.problems] == ["apps.backend.analysis.interval"]


@pytest.mark.parametrize("interval", ["0s", "0m", "1ms"])
def test_an_interval_under_a_second_exits_2_naming_the_key(tmp_path, capsys, interval):
    doc = yaml.safe_load((FIXTURES_DIR / "Pulumi.local.yaml").read_text())
    apps = doc["config"][f"{PREFIX}apps"]
    name = next(n for n, a in apps.items() if a.get("strategy", "canary") == "canary")
    apps[name].setdefault("analysis", {})["interval"] = interval
    (tmp_path / "Pulumi.local.yaml").write_text(yaml.safe_dump(doc))
    code = main(["status", "--stack", "local", "--project-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"apps.{name}.analysis.interval" in err and "at least 1s" in err
    assert "Traceback" not in err


def test_bake_time_fits_a_go_time_duration_too(dev_config):
    config = copy.deepcopy(dev_config)
    config[f"{PREFIX}delivery"]["bakeTime"] = "2562048h"
    with pytest.raises(ConfigError, match="delivery.bakeTime: '2562048h' is longer than a Go time.Duration"):
        parse_stack_config(config)


# --- names a chart derives ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["flagger-loadtester", "loadtester"])
@pytest.mark.parametrize("strategy", ["weighted", "canary"])
def test_an_app_cannot_take_the_names_of_the_load_tester_in_its_namespace(dev_config, name, strategy):
    # backend (canary) and frontend (ab) live in `prod`, so the program installs a load tester there.
    config = copy.deepcopy(dev_config)
    apps = config[f"{PREFIX}apps"]
    app = copy.deepcopy(apps["podinfo" if strategy == "weighted" else "backend"])
    app.update(namespace="prod", hosts=["other.example.com"])
    apps[name] = app
    with pytest.raises(ConfigError) as raised:
        parse_stack_config(config)
    assert [p for p, m in raised.value.problems if "Flagger load tester" in m] == [f"apps.{name}"]
    app["namespace"] = "elsewhere"
    if strategy == "weighted":  # with no Flagger app beside it, the name is free
        parse_stack_config(config)
    else:  # a Flagger app brings a load tester into its own namespace too
        with pytest.raises(ConfigError, match=f"apps.{name}: collides with the Flagger load tester"):
            parse_stack_config(config)
