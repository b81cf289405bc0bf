"""Editing a recorded plan (the JSON of `python -m delivery preview`) the way a bad change would,
and hand-built plans for what the dev plan cannot show."""

from __future__ import annotations

import copy

import pytest

from policies import rules

BY_NAME = {p.name: p for p in rules.POLICIES}


@pytest.fixture(scope="module")
def dev(dev_plan) -> dict:
    """The dev fixture stack's plan as plain JSON, to mutate."""
    return copy.deepcopy(dev_plan.to_json())


def find(plan: dict, name: str, kind: str) -> dict:
    """The resource called `name` whose type ends with `:<kind>`."""
    found = [r for r in plan["resources"] if r["name"] == name and r["type"].endswith(f":{kind}")]
    assert len(found) == 1, f"{len(found)} {kind} named {name} in the plan"
    return found[0]


def added_copy(plan: dict, name: str, kind: str, new_name: str) -> dict:
    """A copy of a resource under a new name (and URN), appended to the plan."""
    clone = copy.deepcopy(find(plan, name, kind))
    clone["urn"] = clone["urn"].rsplit("::", 1)[0] + f"::{new_name}"
    clone["name"] = new_name
    plan["resources"].append(clone)
    return clone


def set_weights(ga, canary):
    def mutate(plan):
        route = find(plan, "podinfo", "VirtualService")["inputs"]["spec"]["http"][0]["route"]
        route[0]["weight"], route[1]["weight"] = ga, canary

    return mutate


def drop_dependencies(name: str, kind: str, *targets: tuple[str, str]):
    def mutate(plan):
        gone = {find(plan, n, k)["urn"] for n, k in targets}
        resource = find(plan, name, kind)
        resource["dependencies"] = [d for d in resource["dependencies"] if d not in gone]

    return mutate


def set_input(name: str, kind: str, path: str, value):
    """Set `inputs.<path>` (dots; `[i]` for list items) of one resource."""

    def mutate(plan):
        target = find(plan, name, kind)["inputs"]
        keys = [int(k[1:-1]) if k.startswith("[") else k for k in path.replace("[", ".[").split(".")]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def also(*mutations):
    def mutate(plan):
        for m in mutations:
            m(plan)

    return mutate


def make_resource(
    name: str, type_: str, inputs: dict | None = None, parent: str | None = None, dependencies: tuple[str, ...] = ()
) -> dict:
    """A resource of a hand-built plan, shaped as the recorded plan's."""
    return {
        "urn": f"urn:pulumi:dev::p::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "provider": None,
        "dependencies": list(dependencies),
        "inputs": inputs or {},
    }


def make_deployment(name: str, namespace: str, parent: str | None = None, dependencies: tuple[str, ...] = ()) -> dict:
    return make_resource(
        name,
        "kubernetes:apps/v1:Deployment",
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "a:1"}]},
                }
            },
        },
        parent,
        dependencies,
    )
