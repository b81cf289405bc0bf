"""Every CrossGuard policy of this project, importable with no side effects.

`policies/__main__.py` builds the PolicyPack from `POLICIES`; the offline preview
(`python -m delivery preview`) runs the very same objects over its recorded plan.
"""

from __future__ import annotations

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = []
