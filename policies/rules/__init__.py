"""Every CrossGuard policy of this project, importable with no side effects, split by domain.

`policies/__main__.py` builds the PolicyPack from `POLICIES` (`from rules import POLICIES`;
`pulumi preview --policy-pack policies`); the offline preview (`python -m delivery preview`,
`python -m delivery policy`) runs the very same objects over its recorded plan. Each policy's
`description` says how to fix a violation; its messages say what and where.

What a policy sees, in both runners, is what the Pulumi engine hands CrossGuard:

- `props` are the resource's inputs as sent to the engine (camelCase keys), wrapped in the SDK's
  read-only proxies: test with `Mapping`/`Sequence`, never `dict`/`list`; numbers arrive as floats.
- A value not known during a preview raises `UnknownValueError` when read. Resource policies let
  it through (the SDK then reports that the policy could not run on that resource), except where a
  computed value is expected (a new service account's email); stack policies copy the props with
  `UNKNOWN` in its place and judge everything that is known.
- Stack policies see each resource's outputs: its inputs while it is still to be created, the
  live object once it exists (see `set_by_program`).
- Secret inputs arrive as their plain value, with no mark of secrecy (pulumi-policy#241), so no
  rule here can ask "is this a Pulumi secret?". `secrets-are-secret` judges what both runners do
  see: where a credential sits (see its docstring).
"""

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from .base import ADVISORY, DEFAULT_ENFORCEMENT_LEVEL, MANDATORY, PACK_NAME
from .flagger import flagger_metrics_server, flagger_owns_routing
from .gke import gke_deletion_protection, gke_hardening
from .images import pinned_charts, pinned_images
from .mesh import (
    gateway_selector,
    routing_consistency,
    sidecar_injection,
    virtualservice_weights,
    workloads_wait_for_istiod,
)
from .secrets import secrets_are_secret
from .workloads import pod_security_restricted, readiness_probe, workload_resources, workload_security

__all__ = [
    "ADVISORY",
    "DEFAULT_ENFORCEMENT_LEVEL",
    "MANDATORY",
    "PACK_NAME",
    "POLICIES",
    "RELAXABLE",
    "ResourceValidationPolicy",
    "StackValidationPolicy",
]

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    virtualservice_weights,
    pinned_images,
    pinned_charts,
    workload_resources,
    pod_security_restricted,
    workload_security,
    readiness_probe,
    sidecar_injection,
    gke_hardening,
    gke_deletion_protection,
    routing_consistency,
    gateway_selector,
    workloads_wait_for_istiod,
    flagger_owns_routing,
    flagger_metrics_server,
    secrets_are_secret,
]

# The only policies a stack's policy config file may set below their own level: deletion protection,
# which a teardown must relax. The Pulumi CLI would honour any level the file sets (`{"all":
# "disabled"}` turns the pack off), so the offline runner refuses every other relaxation and the PR
# pipeline runs it (delivery/plan/policy_config.py).
RELAXABLE = frozenset({gke_deletion_protection.name})
