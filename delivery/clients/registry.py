"""A small, anonymous OCI distribution client: list a repository's tags.

Speaks what public registries (ghcr.io, Docker Hub, quay.io, a self-hosted `registry`) speak:
`GET /v2/<name>/tags/list?n=<page size>`, following the `Link: <...>; rel="next"` header page by
page, and the anonymous bearer-token handshake: a `401` with
`WWW-Authenticate: Bearer realm="...",service="...",scope="..."` is answered by fetching a token
from the realm and retrying with `Authorization: Bearer <token>`. The token is reused for the
following pages of the same repository.

Every failure (unreachable, too slow, refused, an answer that is not a tags list) raises
`UnavailableError` (exit 3) with a message naming the registry and the repository; nothing else escapes.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from email.message import Message

from delivery.clients import http
from delivery.errors import UnavailableError

DOCKER_HUB = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)
_AUTH_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')
_MEDIA_TYPES = "application/json"


@dataclass(frozen=True)
class Reference:
    """Where a repository lives: `ghcr.io/stefanprodan/podinfo` -> (ghcr.io, stefanprodan/podinfo)."""

    registry: str  # host[:port] as it is dialled
    name: str  # the repository path inside the registry

    @classmethod
    def parse(cls, image: str) -> Reference:
        # Docker's rule: the first component is a registry when it looks like a host
        # (has a dot or a port, or is localhost); otherwise the image is on Docker Hub.
        first, _, rest = image.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, name = first, rest
        else:
            registry, name = DOCKER_HUB, image
        if registry in _DOCKER_HUB_ALIASES:
            registry = DOCKER_HUB
            if "/" not in name:
                name = f"library/{name}"
        return cls(registry, name)

    def __str__(self) -> str:
        return f"{self.registry}/{self.name}"


@dataclass
class RegistryClient:
    """Anonymous read access to OCI registries.

    `insecure` names the registries (`host:port`, as written in the image) spoken to over plain
    http: a local test registry, never a public one. `timeout` bounds each request; a listing of
    many pages is bounded as a whole too: at most `max_pages` pages, `max_total_bytes` bytes and
    `total_timeout` seconds for one repository (a registry that pages forever, slowly or in large
    pages, ends in exit 3 instead of running a job to its own timeout).
    """

    insecure: frozenset[str] = frozenset()
    timeout: float = 10.0
    page_size: int | None = 100
    max_pages: int = 1000
    # Docker Hub's largest official repositories list some 10^4 tags (about a megabyte of JSON).
    max_total_bytes: int = 32 * 1024 * 1024
    total_timeout: float = 120.0
    _tokens: dict[tuple[str, str, str], str] = field(default_factory=dict, repr=False)

    def base_url(self, registry: str) -> str:
        scheme = "http" if registry in self.insecure else "https"
        return f"{scheme}://{registry}"

    def tags(self, image: str) -> list[str]:
        """Every tag of `image`'s repository, in the registry's order, all pages followed."""
        ref = Reference.parse(image)
        query = f"?n={self.page_size}" if self.page_size else ""
        url = f"{self.base_url(ref.registry)}/v2/{ref.name}/tags/list{query}"
        tags: list[str] = []
        seen: set[str] = set()
        token: str | None = None
        budget = _Budget(self._where(ref), time.monotonic() + self.total_timeout, self.max_total_bytes)
        for _ in range(self.max_pages):
            if url in seen:
                raise UnavailableError(f"{self._where(ref)}: its Link header loops back to {http.redact(url)}")
            seen.add(url)
            status, headers, body = self._get(ref, url, token, budget)
            if status == 401:
                # A token that stopped working (expired between pages) is fetched anew, once.
                token = self._token(ref, headers.get("WWW-Authenticate", ""), budget, reuse=token is None)
                status, headers, body = self._get(ref, url, token, budget)
                if status == 401:
                    raise UnavailableError(
                        f"{self._where(ref)}: refused the anonymous token (HTTP 401): "
                        "a private repository needs credentials this command does not use"
                    )
            self._check_status(ref, status, body)
            tags.extend(self._page_tags(ref, body))
            next_url = self._next_page(headers.get("Link"), url)
            if next_url is None:
                return tags
            if urllib.parse.urlsplit(next_url)[:2] != urllib.parse.urlsplit(url)[:2]:
                # The token is for this registry only: never follow it to another host.
                raise UnavailableError(
                    f"{self._where(ref)}: its Link header leads to another host: {http.redact(next_url)}"
                )
            url = next_url
        raise UnavailableError(f"{self._where(ref)}: more than {self.max_pages} pages of tags; giving up")

    # --- HTTP ---------------------------------------------------------------------------

    def _where(self, ref: Reference) -> str:
        return f"registry {ref.registry}, repository {ref.name}"

    def _get(self, ref: Reference, url: str, token: str | None, budget: _Budget) -> tuple[int, Message, bytes]:
        headers = {"Accept": _MEDIA_TYPES}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            answer = http.get(url, where=self._where(ref), timeout=budget.next_timeout(self.timeout), headers=headers)
        except UnavailableError:
            budget.check_spent()  # a request cut by the listing's budget says so, not "too slow"
            raise
        budget.spend(len(answer.body))
        return answer.status, answer.headers, answer.body

    def _token(self, ref: Reference, challenge: str, budget: _Budget, reuse: bool = True) -> str:
        scheme, _, params_text = challenge.strip().partition(" ")
        if scheme.lower() != "bearer":
            shown = challenge or "no WWW-Authenticate header"
            raise UnavailableError(
                f"{self._where(ref)}: asks for credentials ({shown}); "
                "only the anonymous bearer-token handshake is supported"
            )
        params = {k.lower(): quoted or bare for k, quoted, bare in _AUTH_PARAM.findall(params_text)}
        realm = params.get("realm")
        if not realm or urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise UnavailableError(
                f"{self._where(ref)}: its bearer challenge has no usable realm: {http.redact_text(challenge)[:200]!r}"
            )
        service = params.get("service", "")
        scope = params.get("scope") or f"repository:{ref.name}:pull"
        key = (realm, service, scope)
        if reuse and key in self._tokens:
            return self._tokens[key]
        query = urllib.parse.urlencode({k: v for k, v in (("service", service), ("scope", scope)) if v})
        url = f"{realm}{'&' if '?' in realm else '?'}{query}"
        status, _, body = self._get(ref, url, None, budget)
        if status != 200:
            raise UnavailableError(f"{self._where(ref)}: token realm {http.redact(realm)} answered HTTP {status}")
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            raise UnavailableError(
                f"{self._where(ref)}: token realm {http.redact(realm)} answered something that is not JSON"
            ) from None
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise UnavailableError(
                f"{self._where(ref)}: token realm {http.redact(realm)} answered JSON without a token"
            )
        self._tokens[key] = token
        return token

    def _check_status(self, ref: Reference, status: int, body: bytes) -> None:
        if status == 200:
            return
        detail = _registry_errors(body)
        if status == 404:
            raise UnavailableError(f"{self._where(ref)}: repository not found (HTTP 404{detail})")
        raise UnavailableError(f"{self._where(ref)}: HTTP {status} listing tags{detail}")

    def _page_tags(self, ref: Reference, body: bytes) -> list[str]:
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            sample = body[:60].decode("utf-8", "replace")
            raise UnavailableError(
                f"{self._where(ref)}: answered something that is not a JSON tags list: {sample!r}"
            ) from None
        if not isinstance(answer, dict) or "tags" not in answer:
            raise UnavailableError(f"{self._where(ref)}: answered JSON without a 'tags' list")
        tags = answer["tags"]
        if tags is None:  # distribution answers null for a repository whose tags were all deleted
            return []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise UnavailableError(f"{self._where(ref)}: its 'tags' is not a list of strings")
        return tags

    def _next_page(self, link: str | None, current: str) -> str | None:
        if not link:
            return None
        match = _LINK_NEXT.search(link)
        # The Link target is usually relative ("/v2/<name>/tags/list?n=2&last=b").
        return urllib.parse.urljoin(current, match.group(1)) if match else None


@dataclass
class _Budget:
    """What one repository's listing may still spend, over all its pages and token requests."""

    where: str
    deadline: float
    bytes_left: int

    def next_timeout(self, timeout: float) -> float:
        """The next request's timeout: the time left, capped by the per-request timeout. (Its body
        stays capped by http.MAX_BODY: a listing reads at most its budget plus one answer.)"""
        self.check_spent()
        return min(timeout, self.deadline - time.monotonic())

    def spend(self, size: int) -> None:
        self.bytes_left -= size
        self.check_spent()

    def check_spent(self) -> None:
        if self.bytes_left <= 0:
            raise UnavailableError(f"{self.where}: the tag pages add up to more than the listing's byte budget")
        if time.monotonic() >= self.deadline:
            raise UnavailableError(f"{self.where}: listing the tags took longer than the listing's time budget")


def _registry_errors(body: bytes) -> str:
    """The registry's own error codes (`NAME_UNKNOWN: repository name not known`), if any."""
    try:
        errors = json.loads(body).get("errors") or []
        text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, TypeError, RecursionError):
        return ""
    text = http.redact_text(text)[:300]
    return f": {text}" if text else ""
