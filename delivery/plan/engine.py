"""Run the real `__main__.py` in-process under Pulumi's mocks and record the whole plan.

No Pulumi CLI, no provider plugin, no cloud account: `pulumi.runtime.set_mocks` replaces the
engine, a recording monitor keeps every registration (type, name, parent, provider,
dependencies, inputs as sent to the engine), and deterministic mocks answer with realistic
outputs (cluster endpoint, ingress IP, Helm release status) so the program's `apply`s run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from delivery import stack as stack_file
from delivery.plan import sdk_internals as sdk
from delivery.plan.sdk_internals import OUTPUT_SIG, RESOURCE_SIG, SECRET_SIG, SIG_KEY, UNKNOWN_VALUE
from model.settings import ConfigError

PROJECT_DIR = stack_file.PROJECT_DIR
SECRET = "[secret]"
UNKNOWN = "[unknown]"

# What the mocks answer for resources whose outputs the program reads back.
MOCK_CLUSTER_ENDPOINT = "203.0.113.10"
MOCK_INGRESS_IP = "198.51.100.10"


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[dict] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    violations: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": self.resources,
            "outputs": self.outputs,
            "violations": self.violations,
        }

    # Small lookups every consumer (tests, policies, diff, bench) needs.
    def by_urn(self) -> dict[str, dict]:
        return {r["urn"]: r for r in self.resources}

    def of_type(self, type_: str) -> list[dict]:
        return [r for r in self.resources if r["type"] == type_]

    def named(self, name: str, type_: str | None = None) -> dict:
        found = [r for r in self.resources if r["name"] == name and (type_ is None or r["type"] == type_)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}" + (f" of type {type_}" if type_ else ""))
        return found[0]


def _plain(value: Any) -> Any:
    """A protobuf-JSON value as the engine would record it: secrets redacted, numbers as numbers."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return SECRET
        if sig == RESOURCE_SIG:
            return value.get("urn")
        if sig == OUTPUT_SIG:
            return SECRET if value.get("secret") else _plain(value.get("value", UNKNOWN))
        if sig is not None:  # assets and archives
            return {k: _plain(v) for k, v in value.items() if k != SIG_KEY}
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == UNKNOWN_VALUE:
        return UNKNOWN
    return value


def _unwrap(value: Any) -> Any:
    """Inputs as the mocks see them (secrets unwrapped), to build realistic outputs."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _region(location: str | None) -> str:
    """`europe-west1-b` -> `europe-west1`; a region stays itself."""
    location = location or "europe-west1"
    return location.rsplit("-", 1)[0] if location.count("-") == 2 else location


def _mock_outputs(type_: str, name: str, inputs: dict) -> tuple[str, dict]:
    state = dict(inputs)
    digest = hashlib.sha256(f"{type_}/{name}".encode()).hexdigest()[:12]
    if type_.startswith("kubernetes:") and not type_.startswith("kubernetes:helm.sh"):
        meta = dict(state.get("metadata") or {})
        meta.setdefault("name", name)
        state["metadata"] = meta
        ns = meta.get("namespace")
        if type_ == "kubernetes:core/v1:Service":
            state["status"] = {"loadBalancer": {"ingress": [{"ip": MOCK_INGRESS_IP}]}}
            state.setdefault("spec", {})
            state["spec"] = {**state["spec"], "clusterIP": "10.96.0.10"}
        return (f"{ns}/{meta['name']}" if ns else meta["name"]), state
    if type_ == "kubernetes:helm.sh/v3:Release":
        release = state.get("name", name)
        state["status"] = {
            "name": release,
            "namespace": state.get("namespace", "default"),
            "chart": state.get("chart"),
            "version": state.get("version"),
            "status": "deployed",
            "revision": 1,
        }
        return f"{state.get('namespace', 'default')}/{release}", state
    if type_ == "gcp:container/cluster:Cluster":
        ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n").decode()
        state.update(
            endpoint=MOCK_CLUSTER_ENDPOINT,
            masterAuth={**(state.get("masterAuth") or {}), "clusterCaCertificate": ca},
            # GKE reports its DNS-based control-plane endpoint as `gke-<uid>-<project number>.<region>.gke.goog`.
            controlPlaneEndpointsConfig={
                **(state.get("controlPlaneEndpointsConfig") or {}),
                "dnsEndpointConfig": {
                    **((state.get("controlPlaneEndpointsConfig") or {}).get("dnsEndpointConfig") or {}),
                    "endpoint": f"gke-{digest}0123456789abcdef0123456789-123456789012."
                    f"{_region(state.get('location'))}.gke.goog",
                },
            },
            selfLink="https://container.googleapis.com/v1/projects/"
            f"{state.get('project', 'p')}/clusters/{state.get('name', name)}",
        )
    if type_ == "gcp:serviceaccount/account:Account":
        project = state.get("project", "acme-istio-canary")
        state["email"] = f"{state.get('accountId', name)}@{project}.iam.gserviceaccount.com"
    if type_.startswith("random:"):
        state["result"] = {SIG_KEY: SECRET_SIG, "value": f"mock-{digest}"}
    state.setdefault("name", name)
    return f"{name}-{digest}", state


def _mocks_class():
    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            return _mock_outputs(args.typ, args.name, _unwrap(args.inputs))

        def call(self, args: pulumi.runtime.MockCallArgs):
            raise RuntimeError(f"the program must not call {args.token}: an invoke needs a cloud account")

    return Mocks


def _monitor_class():
    class RecordingMonitor(sdk.MockMonitor):
        def __init__(self, mocks):
            super().__init__(mocks)
            self.recorded: list[dict] = []

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            # As the engine does: the root stack's type is not part of its children's URNs.
            if parent.split("::")[2:3] == ["pulumi:pulumi:Stack"]:
                parent = ""
            return super().make_urn(parent, type_, name)

        def _record(self, request, inputs_struct, **extra):
            urn = self.make_urn(request.parent, request.type, request.name)
            raw = sdk.message_to_dict(inputs_struct)
            # A Secret's `data`/`stringData` is redacted whole; its key names are not secret and
            # are what references (`secretKeyRef.key`) are checked against.
            secret_keys = {
                prop: sorted(value["value"])
                for prop, value in raw.items()
                if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG and isinstance(value.get("value"), dict)
            }
            self.recorded.append(
                {
                    "urn": urn,
                    "type": request.type,
                    "name": request.name,
                    "parent": request.parent or None,
                    # A provider reference is "<urn>::<id>"; the plan keeps the URN.
                    "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
                    "dependencies": list(request.dependencies) if hasattr(request, "dependencies") else [],
                    "inputs": _plain(raw),
                    "additionalSecretOutputs": list(getattr(request, "additionalSecretOutputs", [])),
                    # What the engine will not diff after creation (a reviewer asks "will this
                    # field's drift replace the cluster?"): recorded so the plan answers it.
                    "ignoreChanges": list(getattr(request, "ignoreChanges", [])),
                    **({"secretKeys": secret_keys} if secret_keys else {}),
                    **extra,
                }
            )

        def RegisterResource(self, request):
            self._record(request, request.object, custom=bool(request.custom))
            return super().RegisterResource(request)

        def ReadResource(self, request):
            # `Resource.get(...)`: a read of an existing object, recorded so the plan shows it.
            self._record(request, request.properties, custom=True, read=True, id=request.id)
            return super().ReadResource(request)

    return RecordingMonitor


def _resolve(value: Any) -> Any:
    """An exported value, fully resolved, with secrets redacted."""
    if isinstance(value, pulumi.Output):
        secret, resolved = sdk.resolve(value)
        return SECRET if secret else _resolve(resolved)
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v) for v in value]
    return value


def to_pulumi_config(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Stack-file config as the Pulumi CLI hands it to a program: strings, objects as JSON."""
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # The ciphertext cannot be decrypted offline: the program gets a stand-in secret.
            values[key] = f"offline-preview-secret-for-{key}"
            secret_keys.append(key)
        elif isinstance(value, str):
            values[key] = value
        else:
            values[key] = json.dumps(value)
    return values, secret_keys


@contextlib.contextmanager
def _in_project(project_dir: Path):
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(project_dir)
    sys.path.insert(0, str(project_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def render(
    stack: str, config: dict[str, Any] | None = None, project_dir: Path = PROJECT_DIR, stack_dir: Path | None = None
) -> Plan:
    """Run the program of `project_dir` for `stack` and return the plan.

    The config is `config` when given, else `Pulumi.<stack>.yaml` of `stack_dir` (default: the
    project's stack config directory), so one program can be previewed with stack files kept
    elsewhere (the tests' fixture stacks), as Pulumi's `stackConfigDir` allows.

    Raises model.settings.ConfigError for invalid config, before any resource is registered.
    """
    if config is None:
        config = stack_file.load_config(
            stack, stack_dir if stack_dir is not None else stack_file.stack_config_dir(project_dir)
        )
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    values, secret_keys = to_pulumi_config(config)
    monitor = _monitor_class()(_mocks_class()())

    with _in_project(project_dir):
        try:
            read_ids = sdk.run_program(
                project_dir / "__main__.py", project, stack, values, secret_keys, _mocks_class()(), monitor
            )
        except ConfigError as exc:
            # Kept for the promise "invalid config registers nothing": callers can check it.
            exc.registered = [r for r in monitor.recorded if r["type"] != "pulumi:pulumi:Stack"]  # type: ignore[attr-defined]
            raise
        outputs = {name: _resolve(value) for name, value in sorted(sdk.root_outputs().items())}
    for resource in monitor.recorded:
        if resource.get("read"):
            # What the read waits for though no dependency edge says so: its ID comes from them.
            resource["idDependencies"] = read_ids.get(resource["urn"], [])

    return Plan(project=project, stack=stack, resources=monitor.recorded, outputs=outputs)
