"""What autopilot tells people: the pull request's title, labels and Markdown body, and the JSON document."""

from __future__ import annotations

import math
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from delivery.release import gate, judge
from delivery.release.autopilot import FINALIZE, ROLLBACK, Decision, Run
from delivery.release.autopilot import human as human_duration
from model import weights
from model.settings import Delivery

AUTOMERGE_LABEL = "automerge"


def redact(url: str | None) -> str | None:
    """A URL without the credentials it may carry."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def traffic(d: Decision) -> str:
    """The decision's split in the one notation (`GA 90 / canary 10 -> GA 40 / canary 60`): title, table, text."""
    before, after = (100 - d.canary_from, d.canary_from), (100 - d.canary_to, d.canary_to)
    return weights.shift(before, after) if after != before else weights.split(*before)


def title(run: Run) -> str:
    moves = [
        f"{d.action} {d.app} " + ("(GA takes the canary tag)" if d.action == FINALIZE else traffic(d))
        for d in run.edits
    ]
    return f"autopilot({run.stack}): " + ("; ".join(moves) if moves else "no change")


def labels(run: Run) -> list[str]:
    actions = sorted({d.action for d in run.edits})
    found = ["autopilot", *(f"autopilot:{a}" for a in actions)]
    if actions == [ROLLBACK]:
        found.append(AUTOMERGE_LABEL)
    return found


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _gate_table(d: Decision, result: gate.GateResult) -> list[str]:
    c, ref = result.canary, result.reference
    lines = [
        f"Judge over the step so far ({d.gate_window}), alpha {result.alpha:.4g}: **{result.verdict}**, "
        f"against {result.reference_name}",
        "",
        "| test | canary | reference | statistic (against / for the canary) | bounds (fail / pass) | verdict |",
        "|---|---:|---:|---|---|---|",
    ]
    for t in result.judgement.tests:
        reference = f"{t.reference_events} / {t.reference_requests}" if t.reference_requests else "delivery.slo"
        lines.append(
            f"| {t.metric}: {t.hypothesis} | {t.canary_events} / {t.canary_requests} | {reference} "
            f"| {judge.evidence(t.log_e_fail)} / {judge.evidence(t.log_e_pass)} "
            f"| {judge.evidence(t.fail_bound)} / {judge.evidence(t.pass_bound)} | {t.verdict} |"
        )
    if not result.judgement.tests:
        lines.append(f"| - | {c.requests} requests | {getattr(ref, 'requests', '-')} | - | - | - |")
    return lines


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def body(run: Run) -> str:
    delivery = run.settings.delivery
    lines = [
        f"`python -m delivery autopilot` for stack `{run.stack}`, decided {_when(run.decided_at)} "
        f"on `{run.base}` ({run.base_commit[:12]}). Steps {list(delivery.steps)}, bake time {delivery.bake_time}.",
        "",
        "| app | action | traffic | bake time observed / required | step started by |",
        "|---|---|---|---|---|",
    ]
    for d in run.decisions:
        observed = "-" if d.bake_observed is None else human_duration(d.bake_observed)
        started = f"{d.step.commit[:12]} ({_when(d.step.committed_at)})" if d.step else "-"
        lines.append(f"| {d.app} | **{d.action}** | {traffic(d)} | {observed} / {delivery.bake_time} | {started} |")
    for d in run.decisions:
        lines += ["", f"### {d.app}: {d.action}", "", d.reason + "."]
        if d.gate is not None:
            lines += ["", *_gate_table(d, d.gate)]
    lines += [
        "",
        "Merging applies this with `pulumi up`; the next step's bake time starts at the merge commit. "
        "Close this pull request to skip the step; set `autopilot: false` on the app to pause it.",
    ]
    return "\n".join(lines) + "\n"


def pull_request(run: Run) -> dict[str, Any]:
    """Title, Markdown body and labels of the pull request for a run that changed the stack file."""
    found = labels(run)
    return {"title": title(run), "body": body(run), "labels": found, "automerge": AUTOMERGE_LABEL in found}


# --- JSON -------------------------------------------------------------------------------------


def decision_json(d: Decision, delivery: Delivery) -> dict[str, Any]:
    result = d.gate
    return {
        "app": d.app,
        "action": d.action,
        "reason": d.reason,
        "canary": {"from": d.canary_from, "to": d.canary_to},
        "bake": {
            "required_seconds": d.bake_required,
            "observed_seconds": None if d.bake_observed is None else int(d.bake_observed),
            "step_commit": d.step.commit if d.step else None,
            "step_committed_at": d.step.committed_at if d.step else None,
        },
        "metrics_unavailable": d.metrics_unavailable,
        "gate": None if result is None else gate.to_json(result),
    }


def document(run: Run, status: int, pull: dict[str, Any] | None) -> dict[str, Any]:
    """The `--json` document (its keys are in docs/releases/autopilot.md)."""
    return {
        "stack": run.stack,
        "stack_file": run.stack_file,
        "base": run.base,
        "base_commit": run.base_commit,
        "decided_at": int(run.decided_at),
        "prometheus": redact(run.prometheus),
        "exit_code": status,
        "decisions": [decision_json(d, run.settings.delivery) for d in run.decisions],
        "changed": pull is not None,
        "pull_request": pull,
    }
