"""Every private or undocumented Pulumi and CrossGuard SDK symbol the offline engine relies on.

The offline preview runs the program in-process under mocks and hands the recorded plan to
the CrossGuard policies exactly as the engine and the policy analyzer would. That needs a few
SDK internals; they live here, and only here, so an SDK upgrade is checked in one file
(the versions are pinned in requirements.txt and policies/requirements.txt).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi.resource
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func, wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

# The engine's wire markers for secrets, resource references, outputs and unknowns
# (pulumi/sdk/python/lib/pulumi/runtime/rpc.py).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # also pulumi_policy.proxy's sentinel

__all__ = [
    "OUTPUT_SIG",
    "RESOURCE_SIG",
    "SECRET_SIG",
    "SIG_KEY",
    "UNKNOWN_VALUE",
    "MockMonitor",
    "NotApplicableError",
    "UnknownValueError",
    "message_to_dict",
    "policy_props",
    "resolve",
    "root_outputs",
    "run_program",
]

NotApplicableError = _NotApplicableError


def message_to_dict(message: Any) -> Any:
    return json_format.MessageToDict(message)


def run_program(
    main: Path,
    project: str,
    stack: str,
    values: dict[str, str],
    secret_keys: list[str],
    mocks: pulumi.runtime.Mocks,
    monitor: MockMonitor,
) -> dict[str, list[str]]:
    """Run the program file `main` under `mocks`, its registrations going to `monitor`.

    Returns, for each read (`Resource.get`), the URNs of the resources its ID is computed from."""
    _fresh_event_loop()
    runtime_settings.reset_options(project=project, stack=stack, preview=False)
    set_all_config(values, secret_keys)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    with _capturing_reads() as reads:
        _sync_await(run_pulumi_func(program))
        _sync_await(wait_for_rpcs())
    return _sync_await(_id_sources(reads))


@contextlib.contextmanager
def _capturing_reads() -> Iterator[list[tuple[pulumi.Resource, Any]]]:
    """Collect (resource, ID) of every read. The SDK sends a ReadResource only once its ID
    Output resolves, i.e. after the resources it comes from exist, but it drops them from the
    request's dependencies (pulumi/runtime/resource.py `read_resource`: "a read resource does
    not actually have any dependencies"), so neither the engine nor a monitor sees that order."""
    original = pulumi.resource.read_resource
    reads: list[tuple[pulumi.Resource, Any]] = []

    def read_resource(res: Any, ty: str, name: str, props: Any, opts: pulumi.ResourceOptions, *rest: Any) -> None:
        reads.append((res, opts.id))
        original(res, ty, name, props, opts, *rest)

    pulumi.resource.read_resource = read_resource  # type: ignore[assignment]
    try:
        yield reads
    finally:
        pulumi.resource.read_resource = original


async def _id_sources(reads: list[tuple[pulumi.Resource, Any]]) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    for res, id_ in reads:
        urn = await res.urn.future()
        resources = await id_.resources() if isinstance(id_, pulumi.Output) else set()
        if urn:
            sources[urn] = sorted([u for r in resources if (u := await r.urn.future())])
    return sources


def _fresh_event_loop() -> None:
    """A new event loop for this run, the previous run's loops closed now (the SDK opens one
    per thread that answers the mocks). Left to the garbage collector, an old loop can be
    collected in one cycle with its self-pipe socket, whose finalizer runs first: the loop's
    `__del__` then prints a traceback in the middle of a command's output."""
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.AbstractEventLoop) and not obj.is_running() and not obj.is_closed():
            obj.close()
    asyncio.set_event_loop(asyncio.new_event_loop())


def root_outputs() -> dict[str, Any]:
    """The stack outputs the program exported (`pulumi.export`), unresolved."""
    return dict(getattr(runtime_settings.get_root_resource(), "outputs", {}))


def resolve(output: pulumi.Output) -> tuple[bool, Any]:
    """(is secret, value) of an Output, waited for outside an event loop."""

    async def get() -> tuple[bool, Any]:
        return (await output.is_secret()), (await output.future())

    return _sync_await(get())


def policy_props(inputs: dict[str, Any]) -> Any:
    """Recorded inputs as a CrossGuard policy receives them: through a protobuf Struct, the SDK's
    deserializer and its unknown-checking proxy (numbers arrive as floats, props read-only)."""
    struct = struct_pb2.Struct()
    json_format.ParseDict(inputs, struct)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))
