"""Credentials stay out of plain inputs and Helm values."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from .base import MANDATORY, UNKNOWN, _text
from .kubernetes import stack_view

# Keys whose string value is a credential. A key that *names* a credential held elsewhere
# (`existingSecret`, `passwordKey`, `secretKeyRef`, `tokenFile`) does not match.
_SENSITIVE_KEY = re.compile(
    r"(password|passwd|token|api[-_]?key|secret[-_]?key|client[-_]?secret|private[-_]?key|webhook([-_]?url)?)\Z",
    re.IGNORECASE,
)
# Chart values where `url`/`address` is a chat webhook (Flagger's `slack.url`, `msteams.url`).
_NOTIFIERS = frozenset(
    {"slack", "msteams", "teams", "discord", "rocket", "rocketchat", "googlechat", "gchat", "mattermost"}
)
# Env names of credentials (apps.<app>.env must hold none: use secretEnv). `KEY` as a whole last word
# (STRIPE_KEY, SIGNING_KEY), not inside another word (MONKEY_MODE) nor an id (ACCESS_KEY_ID).
_SENSITIVE_ENV = re.compile(
    r"(PASSWORD|PASSWD|TOKEN|API_?KEY|SECRET|WEBHOOK|(SLACK|MSTEAMS|TEAMS|DISCORD|ROCKET)_URL|(^|_)KEYS?$)",
    re.IGNORECASE,
)
_REFERENCE_ENV = re.compile(r"(_FILE|_PATH|_NAME)\Z", re.IGNORECASE)


def credential_paths(props: Any, path: str = "", parent_key: str = "") -> Iterator[str]:
    """Paths of credentials held in `props` (plain, see `plain`) as literal strings rather than
    references to a Secret. A value a preview cannot know yet counts as a literal: it is computed
    by the program, not a reference."""
    if isinstance(props, Mapping):
        # An env entry `{name: SLACK_URL, value: ...}` holds a credential in `value`.
        env_name = _text(props.get("name")) if "value" in props else None
        for key, value in props.items():
            here = f"{path}.{key}" if path else str(key)
            literal = value is UNKNOWN or (isinstance(value, str) and value != "")
            if literal and (
                _SENSITIVE_KEY.search(str(key))
                or (parent_key.lower() in _NOTIFIERS and key in ("url", "address"))
                or (
                    key == "value"
                    and env_name
                    and _SENSITIVE_ENV.search(env_name)
                    and not _REFERENCE_ENV.search(env_name)
                )
            ):
                yield here
            else:
                yield from credential_paths(value, here, str(key))
    elif isinstance(props, list):
        for i, value in enumerate(props):
            yield from credential_paths(value, f"{path}[{i}]", parent_key)


# Kubernetes Secrets: pulumi-kubernetes makes `data` and `stringData` secret whatever the program passes.
_ALWAYS_SECRET = {"kubernetes:core/v1:Secret": frozenset({"data", "stringData"})}


def _check_secrets_are_secret(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = stack_view(args)
    objects = {o.urn: o for o in stack.objects}
    releases = {r.urn: r for r in stack.releases}
    for resource in stack.resources:
        if resource.resource_type == "pulumi:pulumi:Stack":
            continue
        secret_props = set(_ALWAYS_SECRET.get(resource.resource_type, ())) | set(
            getattr(resource.opts, "additional_secret_outputs", None) or ()
        )
        paths = [
            p
            for p in credential_paths(stack.props[resource.urn])
            if re.split(r"[.\[]", p, maxsplit=1)[0] not in secret_props
        ]
        if not paths:
            continue
        obj, release = objects.get(resource.urn), releases.get(resource.urn)
        what = (
            obj.ref
            if obj
            else f"Helm release {release.namespace}/{release.name}"
            if release
            else f"{resource.resource_type} {resource.name}"
        )
        # Paths only: a violation message must never repeat the credential.
        report(f"{what} holds credentials in plain inputs: {', '.join(paths)}", resource.urn)


secrets_are_secret = StackValidationPolicy(
    name="secrets-are-secret",
    description="Keep passwords, tokens and webhook URLs out of plain inputs and Helm values: put them in a "
    "kubernetes Secret (stored as a Pulumi secret) and reference it (admin.existingSecret, env "
    "valueFrom.secretKeyRef, secretRef), or list the property in the resource's additional_secret_outputs.",
    enforcement_level=MANDATORY,
    validate=_check_secrets_are_secret,
)
