"""docs/reference/configuration.md is generated from the settings model by scripts/config_reference.py:
the committed page is the generator's output, it names every key the model accepts by its full
Pulumi name with a `pulumi config set` form, and a key added to the model reaches the page."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, Field
from pydantic.alias_generators import to_camel

from model.settings.fields import StrictModel
from model.settings.parse import PROJECT
from model.settings.schema import SECTIONS, STRATEGIES, TOP_LEVEL_KEYS, NamespaceSpec
from scripts import config_meanings, config_reference
from tests.support.project import PROJECT_DIR

PAGE = PROJECT_DIR / "docs" / "reference" / "configuration.md"


def _rows(text: str) -> dict[str, str]:
    """Each table row of the page by its key's full name (`istio-canary:cluster.name`)."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `([^`\s]+)`", line)
        if match and ":" in match.group(1):
            rows.setdefault(match.group(1), line)
    return rows


def _aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _leaf_paths(model: type[BaseModel], prefix: str) -> set[str]:
    """Every leaf key of a model (nested models, and lists of them, walked), as dotted paths."""
    paths = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or name}"
        inner, shape = config_reference._model_of(field.annotation)
        paths |= _leaf_paths(inner, key + {"": "", "list": "[]", "map": ".<key>"}[shape]) if inner else {key}
    return paths


def test_the_committed_reference_is_the_generators_output():
    # After a change to the settings model or to scripts/config_meanings.py: `make docs`.
    assert PAGE.read_text() == config_reference.render(), "docs/reference/configuration.md is stale: run `make docs`"


def test_the_reference_names_every_key_the_model_accepts_by_its_full_pulumi_name():
    rows = _rows(PAGE.read_text())
    expected = {f"{PROJECT}:{path}" for section, model in SECTIONS.items() for path in _leaf_paths(model, section)}
    expected |= {f"{PROJECT}:{path}" for model in STRATEGIES.values() for path in _leaf_paths(model, "apps.<name>")}
    expected |= {f"{PROJECT}:{path}" for path in _leaf_paths(NamespaceSpec, "namespaces.<ns>")}
    expected |= {f"{PROJECT}:{key}" for key in TOP_LEVEL_KEYS if key not in {*SECTIONS, "apps", "namespaces"}}
    expected |= {"gcp:project", "gcp:region"}
    assert sorted(expected - rows.keys()) == [], "keys the model accepts but the reference does not name"
    assert sorted(rows.keys() - expected - {f"{PROJECT}:apps.<name>"}) == [], "keys the model does not accept"


def test_every_key_has_a_pulumi_config_set_form_with_path_for_keys_inside_a_section():
    for name, row in _rows(PAGE.read_text()).items():
        form = re.search(r"<br>`(pulumi config set [^`]+)`", row)
        assert form, f"{name}: no `pulumi config set` form"
        nested = "." in name.partition(":")[2]
        assert ("--path" in form.group(1)) == nested, f"{name}: {form.group(1)}"


@pytest.mark.parametrize(
    "key, flag",
    [
        ("delivery.errorRateTolerance", "--type float"),  # `--path` would store "1.5" as a string
        ("apps.<name>.ga.tag", "--type string"),  # and a tag like 20260101 as a number
        ("delivery.maxWeightStep", None),  # integers and booleans keep their type under --path
        ("cluster.deletionProtection", None),
    ],
)
def test_the_set_form_keeps_the_type_the_model_expects(key, flag):
    row = _rows(PAGE.read_text())[f"{PROJECT}:{key}"]
    if flag:
        assert flag in row
    else:
        assert "--type" not in row


def test_the_reference_explains_the_path_pitfall_with_the_real_error():
    text = PAGE.read_text()
    assert f"pulumi config set {PROJECT}:cluster.name x` (no `--path`)" in text
    # The message the settings parser really gives for the literal key Pulumi stores.
    from model.settings.parse import ConfigError, parse_stack_config

    with pytest.raises(ConfigError) as raised:
        parse_stack_config({f"{PROJECT}:cluster": {"provider": "existing"}, f"{PROJECT}:cluster.name": "x"})
    assert raised.value.problems[0][0] == "cluster.name"
    assert f"`cluster.name: {raised.value.problems[0][1]}`" in text


def test_a_key_added_to_the_model_reaches_the_reference(monkeypatch):
    class Delivery(SECTIONS["delivery"]):  # type: ignore[misc,valid-type]
        canary_budget: int = Field(7, ge=1, le=9, description="Canaries a stack may run at once.")

    monkeypatch.setitem(config_reference.SECTIONS, "delivery", Delivery)
    rows = _rows(config_reference.render())
    row = rows[f"{PROJECT}:delivery.canaryBudget"]
    assert "`7`" in row and "an integer `1`..`9`" in row and "Canaries a stack may run at once." in row
    assert f"pulumi config set --path '{PROJECT}:delivery.canaryBudget' VALUE" in row


def test_a_key_without_a_meaning_stops_the_generator_naming_it(monkeypatch):
    class Notifications(StrictModel):
        slack_channel: str | None = None
        slack_user: str = "flagger"
        teams_channel: str | None = None

    monkeypatch.setitem(config_reference.SECTIONS, "notifications", Notifications)
    with pytest.raises(config_reference.Unexplained, match=r"notifications\.teamsChannel: no meaning"):
        config_reference.render()


def test_a_meaning_for_a_key_the_model_dropped_stops_the_generator(monkeypatch):
    monkeypatch.setitem(config_meanings.MEANINGS, "cluster.nodeCount", "gone")
    monkeypatch.setattr(config_reference, "MEANINGS", config_meanings.MEANINGS)
    with pytest.raises(config_reference.Unexplained, match=r"cluster\.nodeCount: in MEANINGS"):
        config_reference.render()


def test_the_check_mode_fails_on_a_stale_page(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text(PAGE.read_text().replace("`istio-canary`", "`renamed`", 1))
    monkeypatch.setattr(config_reference, "PAGE", stale)
    monkeypatch.setattr(config_reference, "ROOT", tmp_path)
    assert config_reference.main(["--check"]) == 1
    assert "make docs" in capsys.readouterr().err
    assert config_reference.main([]) == 0 and config_reference.main(["--check"]) == 0


def test_camel_case_names_follow_the_model():
    # The page spells keys as the stack file does: pydantic's aliases (to_camel), not field names.
    text = PAGE.read_text()
    for section, model in SECTIONS.items():
        for name, field in model.model_fields.items():
            # A nested model (delivery.slo) is named by its keys: `delivery.slo.errorRate`.
            end = "." if config_reference._model_of(field.annotation)[0] else "`"
            assert f"{PROJECT}:{section}.{to_camel(name)}{end}" in text
    assert _aliases(SECTIONS["cluster"]) >= {"masterAuthorizedNetworks", "deletionProtection"}


def test_keys_holding_lists_and_mappings_are_named_item_by_item(monkeypatch):
    class Check(StrictModel):
        path: str = Field("/", description="Where the check asks.")

    class Notifications(SECTIONS["notifications"]):  # type: ignore[misc,valid-type]
        labels: dict[str, str] = Field({}, strict=False, description="Labels on every message.")
        checks: dict[str, Check] = Field({}, strict=False, description="unused: its items are listed")
        ports: tuple[int, ...] = Field((80,), strict=False, description="Ports to watch.")

    monkeypatch.setitem(config_reference.SECTIONS, "notifications", Notifications)
    rows = _rows(config_reference.render())
    assert "a mapping of names to values, each a string" in rows[f"{PROJECT}:notifications.labels"]
    assert f"'{PROJECT}:notifications.labels.KEY' --type string VALUE" in rows[f"{PROJECT}:notifications.labels"]
    assert "Where the check asks." in rows[f"{PROJECT}:notifications.checks.<key>.path"]
    assert f"'{PROJECT}:notifications.ports[0]' VALUE" in rows[f"{PROJECT}:notifications.ports"]


def test_open_and_one_sided_bounds_are_stated(monkeypatch):
    class Notifications(SECTIONS["notifications"]):  # type: ignore[misc,valid-type]
        share: float = Field(1.0, gt=0, lt=100, description="A share.")
        burst: int = Field(5, ge=1, description="A burst.")

    monkeypatch.setitem(config_reference.SECTIONS, "notifications", Notifications)
    rows = _rows(config_reference.render())
    assert "a number above `0` and below `100`" in rows[f"{PROJECT}:notifications.share"]
    assert "an integer at least `1` |" in rows[f"{PROJECT}:notifications.burst"]
