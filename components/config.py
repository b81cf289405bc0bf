"""The program's edge: read the running stack's config from Pulumi and parse it into `Settings`.

The only module that reads `pulumi.Config` (and the runtime's config table, which lists the
keys a stack sets). Invalid config raises `InvalidStackConfig`, a `pulumi.RunError`, so
`pulumi up` prints the problems without a traceback, before any resource is registered.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from model.settings import PROJECT, ConfigError, Settings, parse


class InvalidStackConfig(ConfigError, pulumi.RunError):
    """`ConfigError` as the Pulumi engine reports it: the message, no traceback."""


def load() -> Settings:
    """Read and validate the running stack's config. Call before registering any resource."""
    # The runtime's config table is the one place listing every key the stack sets
    # (pulumi.Config only answers for a key asked by name).
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    values: dict[str, Any] = {}
    for key in sorted(k for k in keys if k.startswith(PROJECT + ":")):
        short = key.split(":", 1)[1]
        if short == "slackWebhookUrl":
            values[key] = "[secret]"  # read below as an Output, never as plain text
            continue
        raw = runtime_config.get_config(key)
        try:
            values[key] = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            values[key] = raw
    gcp = pulumi.Config("gcp")
    for key in ("project", "region"):
        if gcp.get(key) is not None:
            values[f"gcp:{key}"] = gcp.get(key)
    secret_keys = frozenset(k for k in values if runtime_config.is_config_secret(k))
    webhook = pulumi.Config(PROJECT).get_secret("slackWebhookUrl") if f"{PROJECT}:slackWebhookUrl" in values else None
    try:
        return parse(values, secret_keys, slack_webhook_url=webhook)
    except ConfigError as exc:
        raise InvalidStackConfig(exc.problems) from None
