"""Label values the program sets on pods and the queries select on: one definition for both.

Istio's sidecars report a pod's `version` label as `destination_version` on the standard metrics
(https://istio.io/latest/docs/reference/config/metrics/#labels), so the pods (components/pods.py,
components/apps.py) and the promotion gate's PromQL (model/promql.py) must agree on its value.
"""

from __future__ import annotations


def version_label(tag: str) -> str:
    """The tag as a label value (at most 63 chars, no ':'): a digest becomes `sha256-<12 hex>`."""
    if tag.startswith("sha256:"):
        return "sha256-" + tag.split(":", 1)[1][:12]
    # An OCI tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: only its length and its ends can be invalid.
    return tag[:63].strip("-_.")
