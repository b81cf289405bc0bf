"""status: tags, weights and URLs of every app, with the outputs of the Pulumi CLI when installed,
else of the offline preview."""

from __future__ import annotations

import json


def test_status_shows_tags_weights_and_urls_from_the_offline_preview(project, delivery, monkeypatch):
    monkeypatch.setenv("PATH", str(project))  # no pulumi CLI
    plan = project / "build" / "preview" / "dev" / "plan.json"
    plan.parent.mkdir(parents=True)
    plan.write_text(json.dumps({"outputs": {"ingressAddress": "198.51.100.10", "kubeconfig": "[secret]"}}))
    code, out, _ = delivery("status", "--stack", "dev")
    assert code == 0
    assert "outputs: offline preview build/preview/dev/plan.json" in out and "ingress: 198.51.100.10" in out
    lines = {line.split()[0]: line.split("  ") for line in out.splitlines() if line.startswith(("podinfo", "frontend"))}
    assert [cell.strip() for cell in lines["podinfo"] if cell.strip()] == [
        "podinfo",
        "weighted",
        "test",
        "6.13.0 (6.13.x)",
        "6.14.1 (6.14.x)",
        "GA 90 / canary 10",
        "http://podinfo.example.com/",
    ]
    assert lines["frontend"][-1].strip() == "http://198.51.100.10/"  # host "*" is the gateway's address


def test_status_prefers_the_pulumi_cli_when_installed(project, delivery, monkeypatch):
    bin_dir = project / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"  # answers only the exact command status must run
    fake.write_text(
        '#!/bin/sh\n[ "$*" = "stack output --json --stack dev" ] || exit 3\n'
        'echo \'{"ingressAddress": "203.0.113.77"}\'\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    code, out, _ = delivery("status", "--stack", "dev")
    assert code == 0
    assert "outputs: pulumi stack output --json --stack dev" in out and "ingress: 203.0.113.77" in out


def test_status_of_every_stack_without_outputs(project, delivery, monkeypatch):
    monkeypatch.setenv("PATH", str(project))
    code, out, _ = delivery("status", "--all")
    assert code == 0
    assert "stack dev (Pulumi.dev.yaml)" in out and "stack local (Pulumi.local.yaml)" in out
    assert "outputs: none" in out
