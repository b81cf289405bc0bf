"""`make bench`: figures for the offline preview and the plan's shape. Prints, never asserts.

- offline preview wall time beside the import floor (a bare `python -c` importing the same
  third-party modules, the part no change to this program can remove), run in pairs, one after
  the other, so both see the same machine load: each figure's min/median/max, and the ratio
  preview/floor per pair (a difference of two medians goes negative on a noisy machine);
- `verify` wall time beside the preview's (it renders every chart and checks the state);
- `diff` wall time (two renders in one process: imports are paid once) against one preview;
- resource count and the longest dependency chain (dependencies and provider edges), which
  bounds how long a first `pulumi up` must wait in sequence;
- blast radius of the everyday PRs: a weight edit, a canary tag edit and a container-spec edit, and of each weights
  transition of a release (canary 0 to 10, 10 to 60, rollbacks from 60 and from 100 to 0).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from delivery import progress  # noqa: E402
from delivery import stack as stack_file  # noqa: E402
from delivery.plan import engine  # noqa: E402
from model import weights  # noqa: E402
from model.versions import Version  # noqa: E402

PACKAGES = ("pulumi", "pulumi_gcp", "pulumi_kubernetes", "pulumi_random", "pulumi_policy", "pydantic", "yaml")
RUNS = 7
DIFF_RUNS = 3
VERIFY_RUNS = 3


def seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=PROJECT_DIR, check=True, capture_output=True)
    return time.perf_counter() - start


def spread(values: list[float], unit: str = " s") -> str:
    return (
        f"median {statistics.median(values):.2f}{unit} "
        f"(min {min(values):.2f}{unit}, max {max(values):.2f}{unit}, {len(values)} runs)"
    )


def longest_chain(plan: engine.Plan) -> list[dict]:
    """Longest path through 'waits for' edges: explicit/implicit dependencies plus the provider."""
    by_urn = plan.by_urn()
    memo: dict[str, list[str]] = {}

    def chain(urn: str) -> list[str]:
        if urn not in memo:
            r = by_urn[urn]
            before = set(r["dependencies"]) | ({r["provider"]} if r.get("provider") in by_urn else set())
            best = max((chain(u) for u in before if u in by_urn), key=len, default=[])
            memo[urn] = best + [urn]
        return memo[urn]

    longest = max((chain(u) for u in by_urn), key=len, default=[])
    return [by_urn[u] for u in longest]


def blast_radius(stack: str, mutate, prepare=None) -> list[str]:
    from delivery.plan.diff import compare

    config = stack_file.load_config(stack)
    if prepare:
        prepare(config)
    base = engine.render(stack, copy.deepcopy(config))
    mutate(config)
    diff = compare(base, engine.render(stack, config))
    replaced = {c.urn for c in diff.replaced}
    return (
        [f"+{r['name']}" for r in diff.added]
        + [f"-{r['name']}" for r in diff.removed]
        + [f"{'+-' if c.urn in replaced else '~'}{c.name} ({len(c.changes)} input paths)" for c in diff.changed]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()

    plan = engine.render(args.stack)
    # The floor imports exactly the third-party modules the preview ends up loading.
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in PACKAGES)
    floor_cmd = [sys.executable, "-c", "import " + ", ".join(loaded)]
    previews, floors = [], []
    with tempfile.TemporaryDirectory() as out:
        preview_cmd = [sys.executable, "-m", "delivery", "preview", "--stack", args.stack, "--quiet", "--out", out]
        with progress.step(f"bench: {RUNS} previews of {args.stack}, each followed by the import floor") as step:
            for _ in range(RUNS):
                previews.append(seconds(preview_cmd))
                floors.append(seconds(floor_cmd))
            step.result = f"preview median {statistics.median(previews):.2f} s"
        verify_cmd = [sys.executable, "-m", "delivery", "verify", "--stack", args.stack, "--out", out]
        with progress.step(f"bench: {VERIFY_RUNS} verify runs of {args.stack}") as step:
            verifies = [seconds(verify_cmd) for _ in range(VERIFY_RUNS)]
            step.result = f"median {statistics.median(verifies):.2f} s"
    diff_cmd = [sys.executable, "-m", "delivery", "diff", "--stack", args.stack, "--base", "HEAD"]
    with progress.step(f"bench: {DIFF_RUNS} diffs of {args.stack}") as step:
        diffs = [seconds(diff_cmd) for _ in range(DIFF_RUNS)]
        step.result = f"median {statistics.median(diffs):.2f} s"
    chain = longest_chain(plan)
    ratios = [p / f for p, f in zip(previews, floors, strict=True)]

    print(f"offline preview ({args.stack}): {spread(previews)}")
    print(f"import floor ({len(loaded)} modules the preview loads), interleaved: {spread(floors)}")
    print(f"preview / floor, per pair: {spread(ratios, 'x')}")
    # verify runs the same program, then renders every chart and checks the whole state (target: +5 s at most).
    verify_median = statistics.median(verifies)
    print(
        f"verify ({args.stack}): {spread(verifies)} "
        f"(adds {verify_median - statistics.median(previews):.2f} s to the preview's median)"
    )
    print(f"diff --base HEAD (two renders, one process): {spread(diffs)}")
    print(f"resources: {len(plan.resources)} ({sum(1 for r in plan.resources if r.get('custom'))} custom)")
    print(f"longest dependency chain: {len(chain)} resources")
    for r in chain:
        print(f"  -> {r['type']} {r['name']}")

    apps = stack_file.load_config(args.stack).get("istio-canary:apps", {})
    weighted = next((name for name, app in apps.items() if app.get("strategy") == "weighted"), None)
    if weighted:

        def shift_weights(config):
            w = config["istio-canary:apps"][weighted]["weights"]
            w["ga"], w["canary"] = w["canary"], w["ga"]

        def bump_canary(config):
            # The next patch stays inside a patch-level track like 6.14.x.
            side = config["istio-canary:apps"][weighted]["canary"]
            v = Version.parse(side["tag"])
            side["tag"] = f"{v.major}.{v.minor}.{v.patch + 1}"

        def add_env(config):
            # A container-spec edit (env, args, resources...): both sides' Deployments, nothing else.
            app = config["istio-canary:apps"][weighted]
            app["env"] = {**app.get("env", {}), "BENCH_EDIT": "1"}

        edits = (("weights edit", shift_weights), ("canary tag edit", bump_canary), ("container env edit", add_env))
        for label, mutate in edits:
            changed = blast_radius(args.stack, mutate)
            print(f"blast radius of a {label} on {weighted}: {len(changed)} resource(s): {', '.join(changed) or '-'}")

        def set_canary_weight(canary):
            def mutate(config):
                config["istio-canary:apps"][weighted]["weights"] = {"ga": 100 - canary, "canary": canary}

            return mutate

        for before, after in ((0, 10), (10, 60), (60, 0), (100, 0)):
            changed = blast_radius(args.stack, set_canary_weight(after), prepare=set_canary_weight(before))
            print(
                f"blast radius of {weights.shift((100 - before, before), (100 - after, after))} on {weighted}: "
                f"{len(changed)} resource(s): "
                f"{', '.join(changed) or '-'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
