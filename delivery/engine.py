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
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET = "[secret]"
UNKNOWN = "[unknown]"

_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

# What the mocks answer for resources whose outputs the program reads back.
MOCK_CLUSTER_ENDPOINT = "203.0.113.10"
MOCK_INGRESS_IP = "198.51.100.10"


class StackFileError(Exception):
    """The stack file is missing or is not a Pulumi stack config file."""


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


def load_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackFileError(f"no stack file {path.name} in {project_dir}")
    return config_from_text(path.read_text(), path.name)


def config_from_text(text: str, source: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}), dict):
        raise StackFileError(f"{source}: expected a mapping with a `config:` mapping")
    return doc.get("config") or {}


def _plain(value: Any) -> Any:
    """A protobuf-JSON value as the engine would record it: secrets redacted, numbers as numbers."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            return SECRET
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        if sig == _OUTPUT_SIG:
            return SECRET if value.get("secret") else _plain(value.get("value", UNKNOWN))
        if sig is not None:  # assets and archives
            return {k: _plain(v) for k, v in value.items() if k != _SIG_KEY}
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    return value


def _unwrap(value: Any) -> Any:
    """Inputs as the mocks see them (secrets unwrapped), to build realistic outputs."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


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
            selfLink=f"https://container.googleapis.com/v1/projects/{state.get('project', 'p')}/clusters/{state.get('name', name)}",
        )
    if type_ == "gcp:serviceaccount/account:Account":
        project = state.get("project", "acme-istio-canary")
        state["email"] = f"{state.get('accountId', name)}@{project}.iam.gserviceaccount.com"
    if type_.startswith("random:"):
        state["result"] = {_SIG_KEY: _SECRET_SIG, "value": f"mock-{digest}"}
    state.setdefault("name", name)
    return f"{name}-{digest}", state


def _mocks_class():
    import pulumi

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            return _mock_outputs(args.typ, args.name, _unwrap(args.inputs))

        def call(self, args: pulumi.runtime.MockCallArgs):
            raise RuntimeError(f"the program must not call {args.token}: an invoke needs a cloud account")

    return Mocks


def _monitor_class():
    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
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
            raw = json_format.MessageToDict(inputs_struct)
            # A Secret's `data`/`stringData` is redacted whole; its key names are not secret and
            # are what references (`secretKeyRef.key`) are checked against.
            secret_keys = {prop: sorted(value["value"]) for prop, value in raw.items()
                           if isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG
                           and isinstance(value.get("value"), dict)}
            self.recorded.append({
                "urn": urn,
                "type": request.type,
                "name": request.name,
                "parent": request.parent or None,
                # A provider reference is "<urn>::<id>"; the plan keeps the URN.
                "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
                "dependencies": list(request.dependencies) if hasattr(request, "dependencies") else [],
                "inputs": _plain(raw),
                "additionalSecretOutputs": list(getattr(request, "additionalSecretOutputs", [])),
                **({"secretKeys": secret_keys} if secret_keys else {}),
                **extra,
            })

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
    import pulumi
    from pulumi.runtime.sync_await import _sync_await

    if isinstance(value, pulumi.Output):
        async def get():
            return (await value.is_secret()), (await value.future())

        secret, resolved = _sync_await(get())
        return SECRET if secret else _resolve(resolved)
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v) for v in value]
    return value


def to_pulumi_config(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Stack-file config as the Pulumi CLI hands it to a program: strings, objects as JSON."""
    import json

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


def render(stack: str, config: dict[str, Any] | None = None, project_dir: Path = PROJECT_DIR) -> Plan:
    """Run the program for `stack` (config from its stack file unless given) and return the plan.

    Raises components.settings.ConfigError for invalid config, before any resource is registered.
    """
    import pulumi
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_pulumi_func, wait_for_rpcs
    from pulumi.runtime.sync_await import _sync_await

    if config is None:
        config = load_stack_config(stack, project_dir)
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    values, secret_keys = to_pulumi_config(config)

    runtime_settings.reset_options(project=project, stack=stack, preview=False)
    set_all_config(values, secret_keys)
    monitor = _monitor_class()(_mocks_class()())
    pulumi.runtime.set_mocks(_mocks_class()(), project=project, stack=stack, preview=False, monitor=monitor)

    with _in_project(project_dir):
        from components.settings import ConfigError

        try:
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")))
        except ConfigError as exc:
            # Kept for the promise "invalid config registers nothing": callers can check it.
            exc.registered = [r for r in monitor.recorded if r["type"] != "pulumi:pulumi:Stack"]
            raise
        _sync_await(wait_for_rpcs())
        root = runtime_settings.get_root_resource()
        outputs = {name: _resolve(value) for name, value in sorted(getattr(root, "outputs", {}).items())}

    return Plan(project=project, stack=stack, resources=monitor.recorded, outputs=outputs)
