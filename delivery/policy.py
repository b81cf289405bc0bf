"""Run the policy pack's rules over a recorded plan (`build/preview/<stack>/plan.json`).

The rules are the CrossGuard policy objects of `policies/rules.py`; this module only builds
the arguments the Pulumi engine would give them (`ResourceValidationArgs`,
`StackValidationArgs`, `PolicyResource` with parents and dependencies) from the plan.
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


def _options(resource: dict, PolicyResourceOptions, PolicyCustomTimeouts) -> Any:
    return PolicyResourceOptions(
        protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
        parent=resource.get("parent"),
    )


def evaluate(plan: dict, policies: list | None = None) -> list[dict]:
    """Violations of `policies` (default: the pack) in `plan`, as plan.json records them."""
    from pulumi_policy import (EnforcementLevel, PolicyCustomTimeouts, PolicyProviderResource, PolicyResource,
                               PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy,
                               StackValidationArgs)

    if policies is None:
        from policies.rules import POLICIES as policies

    resources = [r for r in plan["resources"] if r["type"] != "pulumi:pulumi:Stack"]
    by_urn = {r["urn"]: r for r in plan["resources"]}

    def provider_of(resource: dict):
        p = by_urn.get(resource.get("provider") or "")
        return PolicyProviderResource(p["type"], p["inputs"], p["urn"], p["name"]) if p else None

    # PolicyResource graph: parents and dependencies point at the same objects, as in the engine.
    nodes: dict[str, Any] = {}
    for r in resources:
        nodes[r["urn"]] = PolicyResource(
            r["type"], r["inputs"], r["urn"], r["name"],
            _options(r, PolicyResourceOptions, PolicyCustomTimeouts), provider_of(r), None, [], {},
        )
    for r in resources:
        node = nodes[r["urn"]]
        node.parent = nodes.get(r.get("parent") or "")
        node.dependencies = [nodes[d] for d in r.get("dependencies", []) if d in nodes]

    violations: list[dict] = []
    for policy in policies:
        level = (policy.enforcement_level or EnforcementLevel.ADVISORY).value

        def report(message: str, urn: str | None = None, *, _policy=policy, _level=level, _default=None):
            violations.append({"policy": _policy.name, "level": _level, "urn": urn or _default, "message": message})

        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(r["type"], r["inputs"], r["urn"], r["name"],
                                              nodes[r["urn"]].opts, provider_of(r))
                _await(policy.validate(args, lambda message, urn=None, _u=r["urn"], _p=policy, _l=level:
                                       violations.append({"policy": _p.name, "level": _l, "urn": urn or _u, "message": message})))
        else:
            _await(policy.validate(StackValidationArgs(list(nodes.values())), report))
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
        print(f"           urn: {v['urn']}", file=out)
        if fixes.get(v["policy"]):
            print(f"           fix: {fixes[v['policy']]}", file=out)


def has_mandatory(violations: list[dict]) -> bool:
    return any(v["level"] == "mandatory" for v in violations)


def add_arguments(parser) -> None:
    parser.add_argument("--plan", required=True, type=Path, help="a plan.json written by `python -m delivery preview`")


def run(args) -> int:
    try:
        plan = json.loads(args.plan.read_text())
    except FileNotFoundError:
        return fail(f"--plan: no such file {args.plan}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return fail(f"--plan: {args.plan} is not JSON: {exc}")
    if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
        return fail(f"--plan: {args.plan} is not a plan.json (no `resources` list)")
    violations = evaluate(plan)
    print_violations(violations)
    mandatory = sum(v["level"] == "mandatory" for v in violations)
    print(f"policy: {len(violations)} violation(s), {mandatory} mandatory, over {len(plan['resources'])} resources")
    return EXIT_FAILED if mandatory else EXIT_OK
