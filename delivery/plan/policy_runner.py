"""Check a recorded plan.json against the policy pack, as `pulumi preview --policy-pack policies` would.

The rules are the CrossGuard policy objects of `policies/rules.py`; this module only hands them
what the Pulumi engine and the CrossGuard SDK would: `ResourceValidationArgs` per resource and
one `StackValidationArgs` whose `PolicyResource`s carry parents and dependencies. Each
resource's inputs go through a protobuf Struct and the SDK's own deserializer and
unknown-checking proxy, exactly as in a real preview: numbers arrive as floats, props are
read-only mappings, and a value the plan records as "[unknown]" raises `UnknownValueError`.
A secret is "[secret]" in the plan where CrossGuard would hand over its plain value; neither
marks it as secret, so the rules behave the same in both runners.

Exit codes: 0 no mandatory violation (advisory ones are printed), 1 a mandatory violation,
2 the plan file is missing or is not a plan.json.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from delivery.errors import EXIT_FAILED, EXIT_OK, fail

HELP = "check a recorded plan.json against the policy pack"

PLAN_UNKNOWN = "[unknown]"
# What the engine sends for a value a preview cannot know (pulumi_policy.proxy's string sentinel).
ENGINE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _as_engine_sends(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_engine_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_engine_sends(v) for v in value]
    return ENGINE_UNKNOWN if value == PLAN_UNKNOWN else value


def policy_props(inputs: Any) -> Any:
    """A resource's recorded inputs as a CrossGuard policy receives them."""
    from google.protobuf import json_format, struct_pb2
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    struct = struct_pb2.Struct()
    json_format.ParseDict(_as_engine_sends(inputs if isinstance(inputs, dict) else {}), struct)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def evaluate(plan: dict, policies: list | None = None) -> list[dict]:
    """Violations of `policies` (default: the pack) in `plan`, as plan.json records them:
    `{"policy", "level", "urn", "message"}`, in pack order, then plan order."""
    from pulumi_policy import (EnforcementLevel, PolicyCustomTimeouts, PolicyProviderResource, PolicyResource,
                               PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy,
                               StackValidationArgs)
    from pulumi_policy.policy import _NotApplicableError
    from pulumi_policy.proxy import UnknownValueError

    if policies is None:
        from policies.rules import POLICIES as policies
    from policies.rules import DEFAULT_ENFORCEMENT_LEVEL

    resources = plan["resources"]
    by_urn = {r["urn"]: r for r in resources}
    props = {r["urn"]: policy_props(r.get("inputs")) for r in resources}

    def options(r: dict) -> PolicyResourceOptions:
        return PolicyResourceOptions(
            protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=list(r.get("additionalSecretOutputs") or []),
            parent=r.get("parent"),
        )

    def provider_of(r: dict) -> PolicyProviderResource | None:
        p = by_urn.get(r.get("provider") or "")
        return PolicyProviderResource(p["type"], props[p["urn"]], p["urn"], p["name"]) if p else None

    # One PolicyResource per resource; parents and dependencies point at the same objects, as in the SDK.
    nodes = {r["urn"]: PolicyResource(r["type"], props[r["urn"]], r["urn"], r["name"], options(r), provider_of(r),
                                      None, [], {})
             for r in resources}
    for r in resources:
        node = nodes[r["urn"]]
        node.parent = nodes.get(r.get("parent") or "")
        node.dependencies = [nodes[d] for d in r.get("dependencies") or [] if d in nodes]

    violations: list[dict] = []
    for policy in policies:
        level = policy.enforcement_level or DEFAULT_ENFORCEMENT_LEVEL
        if level == EnforcementLevel.DISABLED:
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY  # what the SDK reports for a violation that survives remediation

        def run(call, default_urn: str | None, _policy=policy, _level=level.value) -> None:
            def report(message: str, urn: str | None = None) -> None:
                violations.append({"policy": _policy.name, "level": _level, "urn": urn or default_urn, "message": message})
            try:
                _await(call(report))
            except UnknownValueError as exc:
                # The SDK reports that a policy could not run on an unknown value, as advisory.
                violations.append({"policy": _policy.name, "level": EnforcementLevel.ADVISORY.value, "urn": default_urn,
                                   "message": f"can't run policy during preview: {exc.message}"})
            except _NotApplicableError:
                pass

        if isinstance(policy, ResourceValidationPolicy):
            # Reads (`Resource.get`) are not registrations: CrossGuard does not validate them.
            for r in (r for r in resources if not r.get("read")):
                args = ResourceValidationArgs(r["type"], props[r["urn"]], r["urn"], r["name"], nodes[r["urn"]].opts,
                                              provider_of(r))
                run(lambda report, _a=args, _p=policy: _p.validate(_a, report), r["urn"])
        else:
            args = StackValidationArgs(list(nodes.values()))
            run(lambda report, _a=args, _p=policy: _p.validate(_a, report), None)
    return violations


def _await(result: Any) -> None:
    if inspect.isawaitable(result):
        asyncio.run(_as_coroutine(result))


async def _as_coroutine(awaitable):
    return await awaitable


def print_violations(violations: list[dict], policies: list | None = None, out=sys.stdout) -> None:
    """Each violation with its rule, URN and how to fix it (the rule's description)."""
    if policies is None:
        from policies.rules import POLICIES as policies
    fixes = {p.name: p.description for p in policies}
    for v in violations:
        print(f"{v['level']:>9}  {v['policy']}: {v['message']}", file=out)
        print(f"           urn: {v['urn'] or '(the stack)'}", file=out)
        if fixes.get(v["policy"]):
            print(f"           fix: {fixes[v['policy']]}", file=out)


def has_mandatory(violations: list[dict]) -> bool:
    return any(v["level"] == "mandatory" for v in violations)


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
        if not isinstance(r.get("dependencies") or [], list):
            return f"resources[{i}].dependencies is not a list"
    return None


def add_arguments(parser) -> None:
    parser.add_argument("--plan", required=True, type=Path,
                        help="a plan.json written by `python -m delivery preview` (build/preview/<stack>/plan.json)")


def run(args) -> int:
    try:
        plan = json.loads(args.plan.read_text())
    except FileNotFoundError:
        return fail(f"--plan: no such file {args.plan}")
    except IsADirectoryError:
        return fail(f"--plan: {args.plan} is a directory; give the plan.json inside it")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return fail(f"--plan: {args.plan} is not JSON: {exc}")
    problem = plan_problem(plan)
    if problem:
        return fail(f"--plan: {args.plan}: {problem}")
    violations = evaluate(plan)
    print_violations(violations)
    mandatory = sum(v["level"] == "mandatory" for v in violations)
    print(f"policy: {len(violations)} violation(s), {mandatory} mandatory, over {len(plan['resources'])} resources")
    return EXIT_FAILED if mandatory else EXIT_OK
