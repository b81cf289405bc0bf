"""Typed, validated stack configuration, shared by the program, the CLI and the policies.

`fields` holds the field types, `schema` the models and their cross-field rules (`delivery` the
delivery section's), `parse` the parser that reports every problem at its key path. Pure Python:
the running program's config is read at the edge (components/config.py) and handed to `parse`.
"""

from model.settings.fields import Problems
from model.settings.parse import MAX_APP_NAME, PROJECT, ConfigError, parse, parse_stack_config
from model.settings.schema import (
    GKE_ONLY_KEYS,
    RESERVED_NAMESPACES,
    SECTIONS,
    STRATEGIES,
    TOP_LEVEL_KEYS,
    ABAnalysis,
    ABApp,
    App,
    CanaryAnalysis,
    CanaryApp,
    Cluster,
    Delivery,
    Gcp,
    LoadTest,
    Match,
    Notifications,
    Platform,
    Settings,
    Side,
    WeightedApp,
    Weights,
    owned_names,
)

__all__ = [
    "GKE_ONLY_KEYS",
    "MAX_APP_NAME",
    "PROJECT",
    "RESERVED_NAMESPACES",
    "SECTIONS",
    "STRATEGIES",
    "TOP_LEVEL_KEYS",
    "ABAnalysis",
    "ABApp",
    "App",
    "CanaryAnalysis",
    "CanaryApp",
    "Cluster",
    "ConfigError",
    "Delivery",
    "Gcp",
    "LoadTest",
    "Match",
    "Notifications",
    "Platform",
    "Problems",
    "Settings",
    "Side",
    "WeightedApp",
    "Weights",
    "owned_names",
    "parse",
    "parse_stack_config",
]
