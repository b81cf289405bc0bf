"""The live `Pulumi.<stack>.yaml` files are users' data, edited by every release PR: these tests
check only what must hold in any valid release state, never today's weights or tags."""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
import sys

import pytest
import yaml

from delivery import stack
from delivery import stack as stackfile
from delivery.plan import engine
from model.settings import parse_stack_config
from model.versions import Track

STACK_FILES = sorted(stack.stack_config_dir().glob("Pulumi.*.yaml"))
STACKS = [path.name[len("Pulumi.") : -len(".yaml")] for path in STACK_FILES]


def _decodes(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def stand_in_secrets(doc: dict) -> list[str]:
    """`secure:` values no real secrets provider could decrypt for this stack file.

    `pulumi config set --secret` writes what the stack's provider produces: the passphrase and cloud
    KMS providers write `v1:<nonce>:<ciphertext>` and keep their key material in the same file
    (`encryptionsalt`, or `secretsprovider` + `encryptedkey`); the Pulumi Cloud backend writes plain
    base64 of the service's ciphertext and base64-decodes it before decrypting, so anything else
    fails with "failed to decrypt configuration". Real ciphertext is random bytes, never readable text.
    """
    has_key_material = bool(doc.get("encryptionsalt") or doc.get("encryptedkey"))
    problems = []
    for key, value in (doc.get("config") or {}).items():
        if not (isinstance(value, dict) and set(value) == {"secure"}):
            continue
        text = str(value["secure"])
        if text.startswith("v1:"):
            parts = text.split(":")
            blobs = [_decodes(p) for p in parts[1:]]
            if not has_key_material:
                problems.append(
                    f"{key}: a v1: ciphertext but the file has no encryptionsalt/encryptedkey to decrypt it"
                )
                continue
            if len(parts) != 3 or None in blobs:
                problems.append(f"{key}: not v1:<base64 nonce>:<base64 ciphertext>")
                continue
            ciphertext = blobs[1]
        else:
            ciphertext = _decodes(text)
            if ciphertext is None:
                problems.append(f"{key}: not base64, so the Pulumi Cloud backend cannot decrypt it")
                continue
        if ciphertext.isascii() and ciphertext.decode().isprintable():
            problems.append(f"{key}: its 'ciphertext' is readable text ({ciphertext[:24]!r}...): a stand-in")
    return problems


def test_there_are_stack_files():
    assert {"dev", "local"} & set(STACKS), f"no live stack files in {stack.stack_config_dir()}"


@pytest.mark.parametrize("path", STACK_FILES, ids=STACKS)
def test_live_stack_commits_no_stand_in_secret(path):
    assert stand_in_secrets(yaml.safe_load(path.read_text()) or {}) == []


def test_the_stand_in_check_rejects_made_up_ciphertext_and_accepts_real_shapes():
    made_up = {"config": {"p:k": {"secure": "v1:Zm9vYmFyYmF6cXV4:ZHVtbXktY2lwaGVydGV4dA=="}}}
    assert "no encryptionsalt" in stand_in_secrets(made_up)[0]
    readable = {"encryptionsalt": "v1:c2FsdA==:v1:x:y", **made_up}
    assert "readable text" in stand_in_secrets(readable)[0]
    assert "not base64" in stand_in_secrets({"config": {"p:k": {"secure": "not base64!"}}})[0]
    random_bytes = base64.b64encode(bytes(range(128, 160))).decode()
    nonce = base64.b64encode(bytes(range(12))).decode()
    assert stand_in_secrets({"config": {"p:k": {"secure": random_bytes}}}) == []
    assert (
        stand_in_secrets({"encryptionsalt": "v1:x", "config": {"p:k": {"secure": f"v1:{nonce}:{random_bytes}"}}}) == []
    )


@pytest.mark.parametrize("path", STACK_FILES, ids=STACKS)
def test_live_stack_settings_are_valid_for_any_release_state(path):
    settings = parse_stack_config(stack.load_config(path.name[len("Pulumi.") : -len(".yaml")], path.parent))
    for name, app in settings.apps.items():
        weights = getattr(app, "weights", None)
        if weights is not None:
            assert weights.ga + weights.canary == 100, f"apps.{name}.weights"
        for side_name, side in app.sides().items():
            if side.track is not None and not side.tag.startswith("sha256:"):
                assert Track.parse(side.track).admits_tag(side.tag), f"apps.{name}.{side_name}.tag"


@pytest.mark.parametrize("path", STACK_FILES, ids=STACKS)
def test_release_commands_can_edit_every_live_stack_file(path, tmp_path):
    """promote/rollback/finalize/set-tag refuse a file their round trip would reformat: the live
    files must stay editable, and an edit that changes nothing leaves them byte-identical."""
    copy = tmp_path / path.name
    copy.write_text(path.read_text())
    result = stackfile.edit(copy, lambda config: None)
    assert not result.changed and copy.read_text() == path.read_text()


@pytest.mark.parametrize("stack", STACKS)
def test_live_stack_previews(stack, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "delivery", "preview", "--stack", stack, "--quiet", "--out", str(tmp_path)],
        cwd=engine.PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["stack"] == stack and plan["resources"]
