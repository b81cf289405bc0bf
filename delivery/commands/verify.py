"""Render every Helm release of a stack with its pinned chart and verify the whole desired cluster
state: schemas (built-in kinds at the target Kubernetes version, custom resources against the
CRDs the plan installs), references (Secrets and keys, ConfigMaps, selectors, routes, subsets,
Canary targets, Prometheus URLs), objects created once, and apply order.

Writes build/preview/<stack>/rendered/<namespace>/<release>.yaml and build/preview/<stack>/verify.json.
Exit codes: 0 clean, 1 defects, 2 bad input, 3 a chart archive could not be found or pulled.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from delivery import engine
from delivery.errors import EXIT_FAILED, EXIT_OK, fail

HELP = "render the stack's Helm charts and verify schemas, references and apply order of the whole cluster state"
EXIT_UNREACHABLE = 3
BUILD_DIR = engine.PROJECT_DIR / "build" / "preview"


def add_arguments(parser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: build/preview/<stack>)")
    parser.add_argument("--verbose", action="store_true", help="also list every validated object, reference and edge")


def run(args) -> int:
    from components.settings import ConfigError
    from delivery.plan import render
    from delivery.plan.verify import verify_plan

    try:
        plan = engine.render(args.stack)
    except engine.StackFileError as exc:
        return fail(str(exc))
    except ConfigError as exc:
        return fail(f"Pulumi.{args.stack}.yaml: {exc}")
    try:
        result = verify_plan(plan.resources)
    except render.ChartUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except LookupError as exc:  # the target Kubernetes version has no schemas installed
        return fail(str(exc))

    out_dir = args.out or BUILD_DIR / args.stack
    out_dir.mkdir(parents=True, exist_ok=True)
    render.write_rendered(result.rendered, out_dir / "rendered")
    report = result.report
    (out_dir / "verify.json").write_text(json.dumps({
        "stack": args.stack, "kubernetesVersion": render.KUBERNETES_VERSION,
        "releases": [{"release": r.release.name, "namespace": r.release.namespace, "chart": r.release.chart,
                      "version": r.release.version, "archive": str(r.archive), "objects": len(r.objects)}
                     for r in result.rendered],
        **report.to_json(),
    }, indent=2) + "\n")

    if args.verbose:
        for title, lines in (("Validated", report.validated), ("References", report.references),
                             ("Apply order", report.edges)):
            print(f"{title}:")
            print("\n".join(f"  {line}" for line in lines))
    print(f"Rendered {len(result.rendered)} releases for Kubernetes {render.KUBERNETES_VERSION}: "
          f"{len(result.objects)} objects in the desired state.")
    print(f"{len(report.validated)} objects validated, {len(report.references)} references resolved, "
          f"{len(report.edges)} ordering edges proven.")
    print(f"Wrote {out_dir}/rendered/ and {out_dir}/verify.json")
    if report.defects:
        print(f"\n{len(report.defects)} defects:", file=sys.stderr)
        for defect in report.defects:
            print(f"  [{defect.check}] {defect.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
