"""Where each release stands: per app its strategy, tags per side, weights and URL.

    python -m delivery status                 # every Pulumi.<stack>.yaml of the project
    python -m delivery status --stack dev

The tags and weights come from the stack file (what Git says). The ingress address and app
URLs come from the stack's outputs: `pulumi stack output --json` when the Pulumi CLI is
installed and the stack is reachable, else the outputs of the last offline preview
(build/preview/<stack>/plan.json, mock values); the output says which.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from delivery import stack
from delivery.commands import common
from delivery.errors import ExitStatus, UsageError
from model.settings import CanaryApp, Settings, WeightedApp

HELP = "show per app: strategy, tags, weights and URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="stack name (default: every Pulumi.<stack>.yaml in the project)")
    common.add_project_dir(parser)


def stack_outputs(stack: str, project_dir: Path) -> tuple[dict[str, Any] | None, str]:
    """The stack's outputs and a sentence saying where they came from."""
    notes = []
    pulumi = shutil.which("pulumi")
    if pulumi:
        try:
            proc = subprocess.run(
                [pulumi, "stack", "output", "--json", "--stack", stack],
                cwd=project_dir,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode == 0:
                return json.loads(proc.stdout or "{}"), f"pulumi stack output --json --stack {stack}"
            reason = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            reason = str(exc)
        notes.append(f"pulumi stack output failed ({reason})")
    plan = project_dir / "build" / "preview" / stack / "plan.json"
    if plan.is_file():
        try:
            outputs = json.loads(plan.read_text()).get("outputs") or {}
            source = f"offline preview {plan.relative_to(project_dir)} (mock values, not a live cluster)"
            return outputs, "; ".join([*notes, source])
        except (json.JSONDecodeError, AttributeError):
            notes.append(f"{plan.relative_to(project_dir)} is not a plan")
    hint = f"none (run `pulumi up` or `python -m delivery preview --stack {stack}`)"
    return None, "; ".join([*notes, hint])


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def ingress(outputs: dict[str, Any] | None) -> str | None:
    """The gateway's address: the first plain output whose name mentions the ingress."""
    for key, value in (outputs or {}).items():
        if "ingress" in key.lower() and isinstance(value, str) and value != "[secret]":
            return value
    return None


def app_url(outputs: dict[str, Any] | None, name: str) -> str | None:
    """An app's URL exported by the program: `<app>Url`, or `{<app>: url}` / `{<app>: {url: ...}}`."""
    for key, value in (outputs or {}).items():
        if _norm(key) == _norm(name) + "url" and isinstance(value, str):
            return value
        if isinstance(value, dict) and name in value:
            found = value[name]
            if isinstance(found, dict):
                found = next((v for k, v in found.items() if _norm(k) == "url"), None)
            if isinstance(found, str) and re.match(r"^https?://", found):
                return found
    return None


def _side(tag: str, track: str | None) -> str:
    return f"{tag} ({track})" if track else tag


def rows(settings: Settings, outputs: dict[str, Any] | None) -> list[list[str]]:
    address = ingress(outputs)
    table = []
    for name, app in settings.apps.items():
        if isinstance(app, WeightedApp):
            ga, canary = _side(app.ga.tag, app.ga.track), _side(app.canary.tag, app.canary.track)
            weights = f"{app.weights.ga}/{app.weights.canary}"
        else:
            ga, canary = _side(app.tag, app.track), "(Flagger)"
            if isinstance(app, CanaryApp):
                weights = f"Flagger: +{app.analysis.step_weight} to {app.analysis.max_weight}"
            else:
                weights = f"Flagger A/B: {app.analysis.iterations} iterations"
        url = app_url(outputs, name)
        if url is None:
            urls = [f"http://{h}/" for h in app.hosts if h != "*"]
            if "*" in app.hosts:
                urls.append(f"http://{address}/" if address else "http://<ingress address>/")
            url = ", ".join(urls) or ("-" if app.hosts else "- (in-mesh only)")
        table.append([name, app.strategy, app.namespace, ga, canary, weights, url])
    return table


def table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *body]
    )


HEADER = ["APP", "STRATEGY", "NAMESPACE", "GA TAG (TRACK)", "CANARY TAG (TRACK)", "WEIGHTS GA/CANARY", "URL"]


def show(stack_name: str, project_dir: Path) -> None:
    path = stack.stack_path(stack_name, project_dir)
    settings = stack.load_settings(path)
    outputs, source = stack_outputs(stack_name, project_dir)
    print(f"stack {stack_name} ({path.name})")
    print(f"outputs: {source}")
    if outputs is not None:
        print(f"ingress: {ingress(outputs) or 'not exported'}")
    print()
    print(table(HEADER, rows(settings, outputs)) if settings.apps else "no apps")


def run(args: argparse.Namespace) -> ExitStatus:
    project_dir = Path(args.project_dir)
    stacks = [args.stack] if args.stack else stack.stack_names(project_dir)
    if not stacks:
        raise UsageError(f"no Pulumi.<stack>.yaml in {project_dir.resolve()}")
    for i, name in enumerate(stacks):
        if i:
            print()
        show(name, project_dir)
    return ExitStatus.OK
