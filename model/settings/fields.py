"""Field types of the stack config: each a string or number with the rule it must follow."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from model.settings import re2
from model.versions import Track, TrackError, Version

# Every pattern is used with `fullmatch`: `re.match(r"...$")` also accepts a trailing newline.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# A Service name (an app's name is one) must also start with a letter (RFC 1035).
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_NAME = re.compile(r"(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_REPOSITORY = re.compile(
    r"(?:[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(?::\d+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_DURATION = re.compile(r"(\d+(ms|s|m|h))+")
_HEADER = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
REGION = re.compile(r"[a-z]+-[a-z]+\d+")
ZONE = re.compile(r"([a-z]+-[a-z]+\d+)-[a-z]")
MACHINE_TYPE = re.compile(r"[a-z0-9]+-[a-z0-9-]+")
PROJECT_ID = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]")


def _dns_label(v: str) -> str:
    if len(v) > 63 or not DNS_LABEL.fullmatch(v):
        raise ValueError(f"{v!r} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)")
    return v


def _gke_cluster_name(v: str) -> str:
    # GKE: "The name must start with a lowercase letter ... at most 40 characters".
    if len(v) > 40 or not DNS_1035_LABEL.fullmatch(v):
        raise ValueError(f"{v!r} is not a GKE cluster name (a DNS-1123 label starting with a letter, at most 40)")
    return v


def _host(v: str) -> str:
    labels = v.removeprefix("*.").split(".")
    if v != "*" and (len(v) > 253 or not _DNS_NAME.fullmatch(v) or any(len(part) > 63 for part in labels)):
        raise ValueError(f"{v!r} is not a host: use a DNS name (podinfo.example.com, *.example.com) or '*'")
    return v


def _tag(v: str) -> str:
    if v.lower() == "latest":
        raise ValueError("'latest' is not allowed: pin a version tag (6.13.0) or a sha256: digest")
    if not (DIGEST.fullmatch(v) or _OCI_TAG.fullmatch(v)):
        raise ValueError(f"{v!r} is not an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}) or a sha256: digest")
    return v


def _track(v: str) -> str:
    try:
        Track.parse(v)
    except TrackError as exc:
        raise ValueError(f"{exc}; allowed: a semver range like 6.13.x or '>=6.0.0 <7.0.0'") from None
    return v


def _repository(v: str) -> str:
    if "@" in v or re.search(r":[^/]*\Z", v.split("/", 1)[-1] if "/" in v else v):
        raise ValueError(f"{v!r} must be a repository without tag or digest: put the tag in `tag`")
    # The distribution spec caps a repository name at 255 characters (its `name` grammar).
    if len(v) > 255 or not _REPOSITORY.fullmatch(v):
        raise ValueError(f"{v!r} is not an OCI repository like ghcr.io/stefanprodan/podinfo")
    return v


def _exact_version(v: str) -> str:
    if Version.parse(v) is None or v.startswith("v"):
        raise ValueError(f"{v!r} is not an exact chart version (X.Y.Z): ranges and prefixes are not allowed")
    return v


# Go's time.Duration, what Flagger parses an interval into, is an int64 of nanoseconds:
# time.ParseDuration refuses anything longer ("invalid duration", Go's time/format.go).
MAX_DURATION_NS = 2**63 - 1
_DURATION_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
# Flagger's Canary CRD: `analysis.interval` has `pattern: "^[0-9]+(m|s)"` (flagger crds/crd.yaml).
_FLAGGER_INTERVAL = re.compile(r"\d+(m|s)")


def _duration(v: str) -> str:
    if not _DURATION.fullmatch(v):
        raise ValueError(f"{v!r} is not a duration: use a number with ms, s, m or h, like 15s or 1m")
    parts = re.findall(r"(\d+)(ms|s|m|h)", v)
    # 19 digits already exceed it in every unit; longer numbers are not even converted.
    if (
        any(len(n.lstrip("0")) > 19 for n, _ in parts)
        or sum(int(n) * _DURATION_NS[u] for n, u in parts) > MAX_DURATION_NS
    ):
        raise ValueError(f"{v!r} is longer than a Go time.Duration holds (about 2562047h)")
    return v


def _flagger_interval(v: str) -> str:
    _duration(v)
    if not _FLAGGER_INTERVAL.match(v):
        raise ValueError(
            f"{v!r} does not start with minutes or seconds, which Flagger's Canary CRD requires "
            "(pattern ^[0-9]+(m|s)): use e.g. 30s, 1m or 90m"
        )
    if duration_seconds(v) < 1:
        # Flagger runs its checks every `interval`: zero (or 1ms) is no schedule at all.
        raise ValueError(f"{v!r} is under a second: Flagger needs a positive interval, at least 1s (e.g. 30s, 1m)")
    return v


_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def duration_seconds(text: str) -> float:
    """Seconds of a `Duration` (`1h30m`, `90s`, `500ms`)."""
    return sum(int(n) * _DURATION_UNITS[unit] for n, unit in re.findall(r"(\d+)(ms|s|m|h)", text))


def _cidr(v: str) -> str:
    try:
        ipaddress.ip_network(v, strict=True)
    except ValueError:
        raise ValueError(f"{v!r} is not a CIDR block like 203.0.113.0/24 (host bits must be zero)") from None
    return v


def _regex(v: str) -> str:
    try:
        re.compile(v)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"{v!r} is not a regular expression: {exc}") from None
    python_only = re2.unsupported(v)
    if python_only:
        raise ValueError(f"{v!r} uses {python_only}, which RE2 (Istio's regex engine) does not support")
    return v


def _header(v: str) -> str:
    if not _HEADER.fullmatch(v):
        raise ValueError(f"{v!r} is not a lowercase HTTP header name (user-agent, cookie, x-canary)")
    return v


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
GkeClusterName = Annotated[str, AfterValidator(_gke_cluster_name)]
Host = Annotated[str, AfterValidator(_host)]
Tag = Annotated[str, AfterValidator(_tag)]
TrackText = Annotated[str, AfterValidator(_track)]
Repository = Annotated[str, AfterValidator(_repository)]
ChartVersion = Annotated[str, AfterValidator(_exact_version)]
Duration = Annotated[str, AfterValidator(_duration)]
FlaggerInterval = Annotated[str, AfterValidator(_flagger_interval)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Regex = Annotated[str, AfterValidator(_regex)]
HeaderName = Annotated[str, AfterValidator(_header)]
Weight = Annotated[int, Field(ge=0, le=100)]


class StrictModel(BaseModel):
    # strict: "90" is not 90 and 6.13 (a YAML float) is not the tag "6.13".
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=True)


class Problems(ValueError):
    """Cross-field problems a model validator found: `(key path relative to the model, message)`.

    Raised from a `model_validator`; the parser reports each at its own key path.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems
