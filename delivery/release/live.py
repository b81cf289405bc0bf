"""The weights the cluster serves: each weighted app's VirtualService as `kubectl get -o json` prints it.

    kubectl get virtualservices.networking.istio.io --all-namespaces -o json > live.json
    python -m delivery autopilot --stack dev --live-weights live.json ...

A weighted app `A` in namespace `N` is served by VirtualService `N/A` (components/apps.py), whose
route splits between the DestinationRule subsets `ga` and `canary`. Istio reads an unset weight of
a route with one destination as 100, and of several as 0
(https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRouteDestination).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from delivery.errors import UsageError

MAX_BYTES = 64 * 1024 * 1024


def _weights(spec: Any) -> tuple[int, int] | None:
    """(ga, canary) of the first HTTP route that splits between the two subsets."""
    for route in spec.get("http", []) if isinstance(spec, Mapping) and isinstance(spec.get("http"), list) else []:
        destinations = route.get("route") if isinstance(route, Mapping) else None
        if not isinstance(destinations, list):
            continue
        split = {"ga": 0, "canary": 0}
        found = False
        for dest in destinations:
            if not isinstance(dest, Mapping) or not isinstance(dest.get("destination"), Mapping):
                continue
            subset = dest["destination"].get("subset")
            if subset in split:
                weight = dest.get("weight", 100 if len(destinations) == 1 else 0)
                split[subset] = weight if isinstance(weight, int) else 0
                found = True
        if found:
            return split["ga"], split["canary"]
    return None


def read(path: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(namespace, name) -> (ga, canary) of every VirtualService in the file that splits between
    `ga` and `canary`. A file that is not a kubectl List (or one object) of JSON is exit 2."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--live-weights {path}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise UsageError(f"--live-weights {path}: larger than {MAX_BYTES // 2**20} MiB")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"--live-weights {path}: not JSON ({exc})") from None
    items = doc.get("items") if isinstance(doc, Mapping) and "items" in doc else [doc]
    if not isinstance(items, list):
        raise UsageError(f"--live-weights {path}: expected `kubectl get virtualservices -o json` output")
    found = {}
    for item in items:
        meta = item.get("metadata") if isinstance(item, Mapping) else None
        if not isinstance(meta, Mapping) or item.get("kind", "VirtualService") != "VirtualService":
            continue
        split = _weights(item.get("spec"))
        if split is not None:
            found[(str(meta.get("namespace")), str(meta.get("name")))] = split
    return found
