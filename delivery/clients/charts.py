"""Helm chart repositories: read `<repo>/index.yaml`, the versions each chart publishes."""

from __future__ import annotations

import yaml

from delivery.clients import http
from delivery.errors import UnavailableError

TIMEOUT = 30.0
# The big repositories' indexes are megabytes (prometheus-community's is ~20 MB).
MAX_INDEX = 64 * 1024 * 1024


def fetch_index(url: str, timeout: float = TIMEOUT) -> dict[str, list[str]]:
    """chart name -> versions, from `<url>/index.yaml`."""
    index_url = url.rstrip("/") + "/index.yaml"
    answer = http.get(index_url, where=f"chart repository {url}", timeout=timeout, max_body=MAX_INDEX)
    if answer.status != 200:
        raise UnavailableError(f"cannot read {index_url}: HTTP {answer.status}")
    try:
        # The C loader when PyYAML has it: a pure-Python load of a big index takes seconds.
        doc = yaml.load(answer.body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise UnavailableError(f"{index_url} is not a Helm repository index: {exc}") from None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise UnavailableError(f"{index_url} is not a Helm repository index: no `entries` mapping")
    return {
        chart: [str(e.get("version")) for e in versions if isinstance(e, dict) and e.get("version")]
        for chart, versions in entries.items()
        if isinstance(versions, list)
    }
