"""Where each release stands, per app: strategy, tags per side, traffic split and URL.

Tags and weights come from the stack file (what Git says). The ingress address and app URLs come
from the stack's outputs: `pulumi stack output --json` when the Pulumi CLI is installed and the
stack is reachable, else the outputs of the last offline preview (build/preview/<stack>/plan.json,
mock values); `StackStatus.outputs_source` says which.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery import stack
from model import weights
from model.settings import CanaryApp, Settings, WeightedApp


@dataclass
class AppStatus:
    name: str
    strategy: str
    namespace: str
    ga: dict[str, str | None]  # {"tag", "track"}: for a Flagger app, its one tag (Flagger's primary after promotion)
    canary: dict[str, str | None] | None  # None for a Flagger app: Flagger runs the canary itself
    weights: dict[str, int] | None  # {"ga", "canary"} for a weighted app, else None
    traffic: str  # the split as words: "GA 90 / canary 10" or Flagger's analysis
    urls: list[str]


@dataclass
class StackStatus:
    stack: str
    file: str
    outputs_source: str
    outputs_found: bool
    ingress: str | None
    apps: list[AppStatus] = field(default_factory=list)


def stack_outputs(stack_name: str, project_dir: Path) -> tuple[dict[str, Any] | None, str]:
    """The stack's outputs and a sentence saying where they came from."""
    notes = []
    pulumi = shutil.which("pulumi")
    if pulumi:
        try:
            proc = subprocess.run(
                [pulumi, "stack", "output", "--json", "--stack", stack_name],
                cwd=project_dir,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode == 0:
                return json.loads(proc.stdout or "{}"), f"pulumi stack output --json --stack {stack_name}"
            reason = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            reason = str(exc)
        notes.append(f"pulumi stack output failed ({reason})")
    plan = project_dir / "build" / "preview" / stack_name / "plan.json"
    if plan.is_file():
        try:
            outputs = json.loads(plan.read_text()).get("outputs") or {}
            source = f"offline preview {plan.relative_to(project_dir)} (mock values, not a live cluster)"
            return outputs, "; ".join([*notes, source])
        except (json.JSONDecodeError, AttributeError):
            notes.append(f"{plan.relative_to(project_dir)} is not a plan")
    hint = f"none (run `pulumi up` or `istio-canary preview --stack {stack_name}`)"
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


def apps(settings: Settings, outputs: dict[str, Any] | None) -> list[AppStatus]:
    address = ingress(outputs)
    found = []
    for name, app in settings.apps.items():
        split: dict[str, int] | None = None
        canary: dict[str, str | None] | None = None
        if isinstance(app, WeightedApp):
            ga = {"tag": app.ga.tag, "track": app.ga.track}
            canary = {"tag": app.canary.tag, "track": app.canary.track}
            split = {"ga": app.weights.ga, "canary": app.weights.canary}
            traffic = weights.split(app.weights.ga, app.weights.canary)
        else:
            ga = {"tag": app.tag, "track": app.track}
            if isinstance(app, CanaryApp):
                traffic = f"Flagger: canary +{app.analysis.step_weight} up to {app.analysis.max_weight}"
            else:
                traffic = f"Flagger A/B: {app.analysis.iterations} iterations"
        url = app_url(outputs, name)
        if url is not None:
            urls = [url]
        else:
            urls = [f"{'https' if app.tls else 'http'}://{h}/" for h in app.hosts if h != "*"]
            if "*" in app.hosts:
                urls.append(f"http://{address}/" if address else "http://<ingress address>/")
        found.append(AppStatus(name, app.strategy, app.namespace, ga, canary, split, traffic, urls))
    return found


def status(stack_name: str, project_dir: Path) -> StackStatus:
    path = stack.stack_path(stack_name, project_dir)
    settings = stack.load_settings(path)
    outputs, source = stack_outputs(stack_name, project_dir)
    return StackStatus(
        stack=stack_name,
        file=path.name,
        outputs_source=source,
        outputs_found=outputs is not None,
        ingress=ingress(outputs),
        apps=apps(settings, outputs),
    )
