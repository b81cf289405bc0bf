"""scripts/helm-drift.sh against what real clusters answer: fields istiod sets at runtime are not
drift, and a dry run the identity may not make is "could not compare: permission", never a match
or a difference. Stand-in `helm` and `kubectl` on PATH answer with `kubectl diff`'s own output
(`diff -u -N` per object, LIVE on the left, the manifest merged on the right)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.project import PROJECT_DIR

pytestmark = pytest.mark.slow  # runs a bash script in a subprocess
BASH = shutil.which("bash")
if shutil.which("jq") is None:
    pytest.skip("jq not found: apt-get install jq (.ci/run installs it)", allow_module_level=True)

HELM = """#!{bash}
case "$1 $2" in
  "list --all-namespaces") printf '[{{"name": "istiod", "namespace": "istio-system"}}]' ;;
  "get manifest") printf 'kind: Deployment\\nmetadata: {{name: %s}}\\n' "$3" ;;
  *) exit 64 ;;
esac
"""
# What `kubectl diff` answers for the release: $ANSWER/{out,err,code}.
KUBECTL = """#!{bash}
cat > /dev/null
cat "$ANSWER/out"; cat "$ANSWER/err" >&2; exit "$(cat "$ANSWER/code")"
"""


def header(name: str) -> str:
    """kubectl diff's lines before one object's hunks: its files are <group>.<version>.<Kind>.<ns>.<name>."""
    live, merged = f"/tmp/LIVE-1/{name}", f"/tmp/MERGED-2/{name}"
    return f"diff -u -N {live} {merged}\n--- {live}\t2026-12-03 06:41:00\n+++ {merged}\t2026-12-03 06:41:00\n"


# The istiod chart rendered `failurePolicy: Ignore` on install (`!.Release.IsUpgrade`); istiod's
# webhook controller then set `Fail` and patched in the caBundle (istiod chart,
# templates/validatingwebhookconfiguration.yaml and templates/mutatingwebhook.yaml).
VALIDATOR = header("admissionregistration.k8s.io.v1.ValidatingWebhookConfiguration..istio-validator-istio-system") + (
    """@@ -6,7 +6,7 @@
     release: istiod
-  generation: 2
+  generation: 3
   name: istio-validator-istio-system
@@ -14,7 +14,7 @@
     service:
       name: istiod
-  failurePolicy: Fail
+  failurePolicy: Ignore
   matchPolicy: Equivalent"""
)
INJECTOR = header("admissionregistration.k8s.io.v1.MutatingWebhookConfiguration..istio-sidecar-injector") + (
    """@@ -10,7 +10,6 @@
   clientConfig:
-    caBundle: LS0tLS1CRUdJTi
     service:"""
)
EDITED = header("apps.v1.Deployment.istio-system.istiod") + (
    """@@ -7,7 +7,7 @@
-  generation: 4
+  generation: 5
@@ -20,7 +20,7 @@
-        failurePolicy: Fail
+        failurePolicy: Ignore
-  replicas: 5
+  replicas: 2"""
)
# A webhook field istiod does not manage, changed by hand.
WEBHOOK_EDITED = VALIDATOR + "\n@@ -30,3 +30,3 @@\n-  sideEffects: Some\n+  sideEffects: None"
FORBIDDEN = (
    'Error from server (Forbidden): clusterroles.rbac.authorization.k8s.io "istiod-clusterrole-istio-system" is '
    'forbidden: User "operator@p.iam.gserviceaccount.com" cannot patch resource "clusterroles" in API group '
    '"rbac.authorization.k8s.io" at the cluster scope'
)


@pytest.fixture
def drift(tmp_path):
    bin_dir, answer = tmp_path / "bin", tmp_path / "answer"
    bin_dir.mkdir()
    answer.mkdir()
    for name, text in (("helm", HELM), ("kubectl", KUBECTL)):
        (bin_dir / name).write_text(text.format(bash=BASH))
        (bin_dir / name).chmod(0o755)

    def run(out: str, code: int, err: str = "") -> tuple[int, str]:
        for name, text in (("out", out), ("err", err), ("code", str(code))):
            (answer / name).write_text(text + "\n" if text else "")
        report = tmp_path / "helm-drift.md"
        done = subprocess.run(
            [BASH, str(PROJECT_DIR / "scripts" / "helm-drift.sh"), str(report)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ANSWER": str(answer)},
        )
        return done.returncode, report.read_text()

    return run


def test_the_webhook_fields_istiod_sets_at_runtime_are_not_drift(drift):
    assert drift(f"{VALIDATOR}\n{INJECTOR}", 1) == (0, "")


def test_a_hand_edit_beside_them_is_reported_without_them(drift):
    code, report = drift(f"{VALIDATOR}\n{EDITED}\n{INJECTOR}", 1)
    assert code == 1
    assert "-  replicas: 5\n+  replicas: 2" in report
    # A field named like a webhook's in another kind is the user's: still reported.
    assert "-        failurePolicy: Fail\n+        failurePolicy: Ignore" in report
    assert "istio-validator" not in report and "istio-sidecar-injector" not in report and "caBundle" not in report
    assert "generation" not in report


def test_a_webhook_field_istiod_does_not_manage_is_reported(drift):
    code, report = drift(WEBHOOK_EDITED, 1)
    assert code == 1
    assert "-  sideEffects: Some\n+  sideEffects: None" in report and "istio-validator-istio-system" in report
    assert "failurePolicy" not in report


def test_a_dry_run_the_identity_may_not_make_is_a_permission_failure_not_a_match(drift):
    code, report = drift("", 2, FORBIDDEN)
    assert code == 2
    assert "istio-system/istiod: could not compare: permission" in report
    assert 'cannot patch resource "clusterroles"' in report
    code, report = drift("", 2, "error: the server doesn't have a resource type")
    assert code == 2 and "could not compare (kubectl diff exit 2)" in report and "permission" not in report
