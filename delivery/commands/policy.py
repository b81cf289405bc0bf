"""Check a recorded plan.json against the policy pack, as `pulumi preview --policy-pack policies` would.

Exit codes: 0 no mandatory violation (advisory ones are printed), 1 a mandatory violation,
2 the plan file is missing or is not a plan.json, or the `--policy-config` file is not a policy
pack config of this pack.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from delivery.commands import common
from delivery.commands.common import print_violations
from delivery.errors import ExitStatus, UsageError

HELP = "check a recorded plan.json against the policy pack"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_arguments(parser)
    parser.add_argument(
        "--plan",
        type=Path,
        help="a plan.json written by `istio-canary preview` (default: <project>/build/preview/<stack>/plan.json)",
    )
    common.add_policy_config(parser)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def run(args: argparse.Namespace) -> ExitStatus:
    from delivery.plan import policy_runner  # loads pulumi_policy: not for `--help`

    levels = common.policy_levels(args.policy_config)
    if args.plan is None:
        args.plan = Path(args.project_dir) / "build" / "preview" / args.stack / "plan.json"
    try:
        plan = json.loads(args.plan.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except FileNotFoundError:
        raise UsageError(f"--plan: no such file {args.plan}") from None
    except IsADirectoryError:
        raise UsageError(f"--plan: {args.plan} is a directory; give the plan.json inside it") from None
    except OSError as exc:
        raise UsageError(f"--plan: cannot read {args.plan}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"--plan: {args.plan} is not UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise UsageError(f"--plan: {args.plan} is nested too deeply to be a plan.json") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, an integer of too many digits
        raise UsageError(f"--plan: {args.plan} is not JSON: {str(exc)[:200]}") from None
    problem = policy_runner.plan_problem(plan)
    if problem:
        raise UsageError(f"--plan: {args.plan}: {problem}")
    try:
        violations = policy_runner.evaluate(plan, levels=levels)
    except UsageError as exc:
        raise UsageError(f"--plan: {args.plan}: {exc}") from None
    print_violations(violations)
    mandatory = sum(v["level"] == "mandatory" for v in violations)
    print(f"{policy_runner.summary(violations, levels=levels)}, over {len(plan['resources'])} resources")
    return ExitStatus.FAILED if mandatory else ExitStatus.OK
