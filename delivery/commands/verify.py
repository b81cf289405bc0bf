"""Render every Helm release of a stack with its pinned chart and verify the whole desired cluster
state: schemas (built-in kinds at the target Kubernetes version, custom resources against the
CRDs the plan installs), references (Secrets and keys, ConfigMaps, selectors, routes, subsets,
Canary targets, Prometheus URLs), objects created once, and apply order.

Writes build/preview/<stack>/rendered/<namespace>/<release>.yaml and build/preview/<stack>/verify.json.
Exit codes: 0 clean, 1 defects, 2 bad input, 3 a chart archive could not be found or pulled.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from delivery import progress
from delivery.commands import common
from delivery.errors import ExitStatus, UsageError
from delivery.plan import engine, render
from model.settings import ConfigError

if TYPE_CHECKING:
    from delivery.plan.verify import Result

HELP = "render the stack's Helm charts and verify schemas, references and apply order of the whole cluster state"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser)
    common.add_stack_dir(parser)
    common.add_out_dir(parser)
    parser.add_argument("--verbose", action="store_true", help="also list every validated object, reference and edge")


def run(args: argparse.Namespace) -> ExitStatus:
    """Raises UsageError (a stack file or config key, or no schemas for the target version) and
    render.ChartUnavailable (exit 3); defects are the answer "no": exit 1."""
    # Imported here: the checks need the dev requirements (kubernetes-validate, jsonschema), and
    # every other command runs where only requirements.txt is installed (deploy, drift, images).
    try:
        from delivery.plan.verify import verify_plan
    except ImportError as exc:
        raise UsageError(f"verify needs the dev requirements: pip install -r requirements-dev.txt ({exc})") from None

    project_dir = Path(args.project_dir)
    try:
        with progress.step(
            f"verify {args.stack}: run the program offline, render every chart, check the state"
        ) as step:
            plan = engine.render(args.stack, project_dir=project_dir, stack_dir=args.stack_dir)
            result = verify_plan(plan.resources)
            step.result = f"{len(result.objects)} objects, {len(result.report.defects)} defects"
    except ConfigError as exc:
        raise UsageError(f"Pulumi.{args.stack}.yaml: {exc}") from None
    except LookupError as exc:  # kubernetes-validate ships no schemas for the target version
        raise UsageError(str(exc)) from None

    out_dir = args.out or project_dir / "build" / "preview" / args.stack
    out_dir.mkdir(parents=True, exist_ok=True)
    render.write_rendered(result.rendered, out_dir / "rendered")
    (out_dir / "verify.json").write_text(json.dumps(_report_json(args.stack, result), indent=2) + "\n")

    report = result.report
    if args.verbose:
        for title, lines in (
            ("Validated", report.validated),
            ("References", report.references),
            ("Apply order", report.edges),
        ):
            print(f"{title}:")
            print("\n".join(f"  {line}" for line in lines))
    print(
        f"Rendered {len(result.rendered)} releases for Kubernetes {render.KUBERNETES_VERSION}: "
        f"{len(result.objects)} objects in the desired state."
    )
    print(
        f"{len(report.validated)} objects validated, {len(report.references)} references resolved, "
        f"{len(report.edges)} ordering edges proven."
    )
    if report.external:
        # Objects the team makes outside this program: verify names them so a reviewer can check they exist.
        print(f"{len(report.external)} external references (objects this program does not create):")
        print("\n".join(f"  {line}" for line in report.external))
    print(f"Wrote {out_dir}/rendered/ and {out_dir}/verify.json")
    if report.defects:
        print(f"\n{len(report.defects)} defects:", file=sys.stderr)
        for defect in report.defects:
            print(f"  [{defect.check}] {defect.message}", file=sys.stderr)
        return ExitStatus.FAILED
    return ExitStatus.OK


def _report_json(stack: str, result: Result) -> dict:
    return {
        "stack": stack,
        "kubernetesVersion": render.KUBERNETES_VERSION,
        "releases": [
            {
                "release": r.release.name,
                "namespace": r.release.namespace,
                "chart": r.release.chart,
                "version": r.release.version,
                "archive": str(r.archive),
                "objects": len(r.objects),
            }
            for r in result.rendered
        ],
        **result.report.to_json(),
    }
