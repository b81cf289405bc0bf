"""Run the policy pack over a recorded plan, as `pulumi preview --policy-pack policies` would.

The rules are the CrossGuard policy objects of `policies/rules/`; this module only hands them
what the Pulumi engine and the CrossGuard SDK would: `ResourceValidationArgs` per resource and
one `StackValidationArgs` whose `PolicyResource`s carry parents and dependencies. Each
resource's inputs go through a protobuf Struct and the SDK's own deserializer and
unknown-checking proxy, exactly as in a real preview: numbers arrive as floats, props are
read-only mappings, and a value the plan records as "[unknown]" raises `UnknownValueError`.
A secret is "[secret]" in the plan where CrossGuard would hand over its plain value; neither
marks it as secret, so the rules behave the same in both runners.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from delivery.errors import UsageError
from delivery.plan import sdk_internals as sdk

PLAN_UNKNOWN = "[unknown]"


def _as_engine_sends(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_engine_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_engine_sends(v) for v in value]
    return sdk.UNKNOWN_VALUE if value == PLAN_UNKNOWN else value


def policy_props(inputs: Any) -> Any:
    """A resource's recorded inputs as a CrossGuard policy receives them."""
    return sdk.policy_props(_as_engine_sends(inputs if isinstance(inputs, dict) else {}))


def level_of(policy: Any, levels: dict[str, EnforcementLevel] | None = None) -> EnforcementLevel:
    """The level `policy` runs at: a policy config file's (`levels`, delivery/plan/policy_config.py),
    else its own, else the pack's default."""
    from policies.rules import DEFAULT_ENFORCEMENT_LEVEL

    return (levels or {}).get(policy.name) or policy.enforcement_level or DEFAULT_ENFORCEMENT_LEVEL


def evaluate(plan: dict, policies: list | None = None, levels: dict[str, EnforcementLevel] | None = None) -> list[dict]:
    """Violations of `policies` (default: the pack) in `plan`, as plan.json records them:
    `{"policy", "level", "urn", "message"}`, in pack order, then plan order. `levels` overrides the
    enforcement level of the policies it names, as a `--policy-pack-config` file does."""
    from policies.rules import POLICIES

    if policies is None:
        policies = POLICIES

    resources = plan["resources"]
    by_urn = {r["urn"]: r for r in resources}
    props = {r["urn"]: policy_props(r.get("inputs")) for r in resources}

    def options(r: dict) -> PolicyResourceOptions:
        return PolicyResourceOptions(
            protect=False,
            ignore_changes=[],
            delete_before_replace=None,
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=list(r.get("additionalSecretOutputs") or []),
            parent=r.get("parent"),
        )

    def provider_of(r: dict) -> PolicyProviderResource | None:
        p = by_urn.get(r.get("provider") or "")
        return PolicyProviderResource(p["type"], props[p["urn"]], p["urn"], p["name"]) if p else None

    # One PolicyResource per resource; parents and dependencies point at the same objects, as in the SDK.
    nodes = {
        r["urn"]: PolicyResource(
            r["type"], props[r["urn"]], r["urn"], r["name"], options(r), provider_of(r), None, [], {}
        )
        for r in resources
    }
    for r in resources:
        node = nodes[r["urn"]]
        node.parent = nodes.get(r.get("parent") or "")
        node.dependencies = [nodes[d] for d in r.get("dependencies") or [] if d in nodes]

    # One StackValidationArgs for every stack policy: they share its view of the plan
    # (policies/rules/kubernetes.py, stack_view).
    stack_args = StackValidationArgs(list(nodes.values()))
    violations: list[dict] = []
    for policy in policies:
        level = level_of(policy, levels)
        if level == EnforcementLevel.DISABLED:
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY  # what the SDK reports for a violation that survives remediation

        def run(call, default_urn: str | None, _policy=policy, _level=level.value) -> None:
            def report(message: str, urn: str | None = None) -> None:
                violations.append(
                    {"policy": _policy.name, "level": _level, "urn": urn or default_urn, "message": message}
                )

            try:
                _await(call(report))
            except sdk.UnknownValueError as exc:
                # The SDK reports that a policy could not run on an unknown value, as advisory.
                violations.append(
                    {
                        "policy": _policy.name,
                        "level": EnforcementLevel.ADVISORY.value,
                        "urn": default_urn,
                        "message": f"can't run policy during preview: {exc.message}",
                    }
                )
            except sdk.NotApplicableError:
                pass
            except Exception as exc:  # noqa: BLE001 - a rule that cannot read a hand-made plan's inputs
                # A recorded plan can hold anything JSON does; a rule meeting a shape it does
                # not expect is a plan problem (exit 2), not a traceback.
                raise UsageError(
                    f"policy {_policy.name} cannot read {default_urn or 'the stack'}: "
                    f"{type(exc).__name__}: {str(exc)[:200]}"
                ) from None

        if isinstance(policy, ResourceValidationPolicy):
            # Reads (`Resource.get`) are not registrations: CrossGuard does not validate them.
            for r in (r for r in resources if not r.get("read")):
                args = ResourceValidationArgs(
                    r["type"], props[r["urn"]], r["urn"], r["name"], nodes[r["urn"]].opts, provider_of(r)
                )
                run(lambda report, _a=args, _p=policy: _p.validate(_a, report), r["urn"])
        else:
            run(lambda report, _a=stack_args, _p=policy: _p.validate(_a, report), None)
    return violations


def _await(result: Any) -> None:
    if inspect.isawaitable(result):
        asyncio.run(_as_coroutine(result))


async def _as_coroutine(awaitable):
    return await awaitable


def has_mandatory(violations: list[dict]) -> bool:
    return any(v["level"] == "mandatory" for v in violations)


MAX_INPUT_DEPTH = 64  # protobuf's Struct refuses deeper values (its recursion limit is 100)


def _value_problem(value: Any, path: str, depth: int = 0) -> str | None:
    """Why a recorded input is not a value the engine could send (too deep, a number a double
    cannot hold), or None."""
    if depth > MAX_INPUT_DEPTH:
        return f"{path} is nested more than {MAX_INPUT_DEPTH} levels"
    if isinstance(value, dict):
        for k, v in value.items():
            problem = _value_problem(v, f"{path}.{k}", depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for i, v in enumerate(value):
            problem = _value_problem(v, f"{path}[{i}]", depth + 1)
            if problem:
                return problem
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return f"{path} is a number beyond what the engine sends exactly (2^53)"
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value!r}, not a JSON number"
    return None


def plan_problem(plan: Any) -> str | None:
    """Why `plan` is not a plan.json this command can check, or None."""
    if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
        return "not a plan.json (no `resources` list)"
    for i, r in enumerate(plan["resources"]):
        if not isinstance(r, dict):
            return f"resources[{i}] is not an object"
        for key in ("urn", "type", "name"):
            if not isinstance(r.get(key), str):
                return f"resources[{i}].{key} is missing or not a string"
        if not isinstance(r.get("inputs", {}), dict):
            return f"resources[{i}].inputs is not an object"
        for key in ("parent", "provider"):
            if r.get(key) is not None and not isinstance(r.get(key), str):
                return f"resources[{i}].{key} is not a URN string"
        for key in ("dependencies", "additionalSecretOutputs"):
            found = r.get(key) or []
            if not isinstance(found, list) or not all(isinstance(d, str) for d in found):
                return f"resources[{i}].{key} is not a list of strings"
        problem = _value_problem(r.get("inputs", {}), f"resources[{i}].inputs")
        if problem:
            return problem
    return None


def summary(
    violations: list[dict], policies: list | None = None, levels: dict[str, EnforcementLevel] | None = None
) -> str:
    """`policies: 24 ran, 23 passed, 0 mandatory violations`: a disabled policy does not run; one
    passes when it reported nothing (a policy that could not run on an unknown value did not pass)."""
    from policies.rules import POLICIES

    ran = [p for p in (POLICIES if policies is None else policies) if level_of(p, levels) != EnforcementLevel.DISABLED]
    failed = {v["policy"] for v in violations}
    passed = sum(1 for p in ran if p.name not in failed)
    mandatory = sum(1 for v in violations if v["level"] == EnforcementLevel.MANDATORY.value)
    advisory = len(violations) - mandatory
    extra = f", {advisory} advisory" if advisory else ""
    if levels:
        extra += f" (policy config: {', '.join(f'{name} {level.value}' for name, level in sorted(levels.items()))})"
    return f"policies: {len(ran)} ran, {passed} passed, {mandatory} mandatory violation{'s' * (mandatory != 1)}{extra}"
