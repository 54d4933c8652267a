"""The worker's admin API: ``POST <admin_path>/purge`` and ``GET <admin_path>/stats``.

A purge request takes up to 100 URLs, 100 prefixes and 100 tags at once (``MAX_ITEMS`` in
core/src/control/registry.rs); :func:`batches` splits larger purges into as few requests as
that allows. Every target is checked here against the worker's own rules before anything is
sent, so a bad one is refused with a clear error instead of failing a whole request.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.utils.encoding import iri_to_uri

from . import conf
from .tags import MAX_TAG_BYTES

logger = logging.getLogger("django_edgecache")

MAX_URL_BYTES = 2048


class EdgecacheError(Exception):
    """The admin API could not be asked, or refused."""


class InvalidTarget(EdgecacheError, ValueError):
    """A purge target the worker would refuse (too long, relative, a bad tag)."""


class Unavailable(EdgecacheError):
    """The worker could not be reached or answered 5xx (worth sending again later)."""


@dataclass
class Purge:
    """What one purge asks for. Targets are kept in order, without repeats."""

    urls: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    all: bool = False
    soft: bool = False

    def empty(self) -> bool:
        return not (self.urls or self.prefixes or self.tags or self.all)

    def add(self, other: Purge) -> None:
        for mine, theirs in ((self.urls, other.urls), (self.prefixes, other.prefixes), (self.tags, other.tags)):
            for item in theirs:
                if item not in mine:
                    mine.append(item)
        self.all = self.all or other.all

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.urls:
            body["urls"] = self.urls
        if self.prefixes:
            body["prefixes"] = self.prefixes
        if self.tags:
            body["tags"] = self.tags
        if self.all:
            body["all"] = True
        if self.soft:
            body["soft"] = True
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Purge:
        return cls(
            urls=list(body.get("urls", [])),
            prefixes=list(body.get("prefixes", [])),
            tags=list(body.get("tags", [])),
            all=bool(body.get("all", False)),
            soft=bool(body.get("soft", False)),
        )


def absolute_url(url: str, site_url: str | None = None) -> str:
    """``url`` as the worker's purge API wants it: absolute, ASCII (an IRI's non-ASCII
    characters percent-encoded as UTF-8), at most 2,048 bytes; else :class:`InvalidTarget`."""
    if url.startswith("/"):
        url = (site_url or conf.get().site_url).rstrip("/") + url
    url = iri_to_uri(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidTarget(f"{url!r} is not an absolute http(s) URL or a path")
    if len(url.encode("ascii")) > MAX_URL_BYTES:
        raise InvalidTarget(f"a URL of {len(url)} bytes is longer than the worker's {MAX_URL_BYTES}: purge its tag or a prefix instead")
    return url


def check_tag(tag: str) -> str:
    if not tag or len(tag.encode("utf-8")) > MAX_TAG_BYTES or not all(33 <= ord(c) < 127 and c != "," for c in tag):
        raise InvalidTarget(
            f"tag {tag[:80]!r}{'…' if len(tag) > 80 else ''} is not 1 to {MAX_TAG_BYTES} bytes of printable ASCII "
            "without spaces or commas: make it with django_edgecache.tags.encode()"
        )
    return tag


def check_prefix(prefix: str) -> str:
    if prefix.startswith("/"):
        prefix = iri_to_uri(prefix)
        if len(prefix) > MAX_URL_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in prefix):
            raise InvalidTarget(f"{prefix[:80]!r} is not a path prefix of at most {MAX_URL_BYTES} bytes")
        return prefix
    return absolute_url(prefix)


def checked(purge: Purge) -> Purge:
    """``purge`` with every target checked (and URLs made absolute)."""
    return Purge(
        urls=list(dict.fromkeys(absolute_url(u) for u in purge.urls)),
        prefixes=list(dict.fromkeys(check_prefix(p) for p in purge.prefixes)),
        tags=list(dict.fromkeys(check_tag(t) for t in purge.tags)),
        all=purge.all,
        soft=purge.soft,
    )


def batches(purge: Purge, size: int) -> Iterator[Purge]:
    """``purge`` as requests of at most ``size`` items of each kind: ceil(max(kind) / size)
    requests, each carrying every kind that has items left."""
    if purge.all:
        yield Purge(all=True, soft=purge.soft)
        return
    longest = max(len(purge.urls), len(purge.prefixes), len(purge.tags))
    for start in range(0, longest, size):
        yield Purge(
            urls=purge.urls[start : start + size],
            prefixes=purge.prefixes[start : start + size],
            tags=purge.tags[start : start + size],
            soft=purge.soft,
        )


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One admin API call; :class:`Unavailable` for what is worth retrying."""
    settings = conf.get()
    if not settings.token:
        raise EdgecacheError(f"no admin token: set EDGECACHE['TOKEN'] or the environment variable {settings.token_env}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(settings.api + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {settings.token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            return dict(json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as error:
        text = error.read()[:500].decode("utf-8", "replace")
        if error.code >= 500 or error.code == 429:
            raise Unavailable(f"{method} {path}: {error.code} {text}") from None
        raise EdgecacheError(f"{method} {path}: {error.code} {text}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        raise Unavailable(f"{method} {path}: {getattr(error, 'reason', error)}") from None


def send(purge: Purge) -> list[dict[str, Any]]:
    """Sends ``purge`` (checked, batched), each request tried ``RETRIES`` times with
    exponential backoff on errors worth retrying. Returns the API's answers."""
    settings = conf.get()
    answers = []
    for batch in batches(checked(purge), settings.batch_size):
        delay = settings.backoff
        for attempt in range(1, settings.retries + 1):
            try:
                answers.append(_call("POST", "/purge", batch.body()))
                break
            except Unavailable:
                if attempt == settings.retries:
                    raise
                time.sleep(delay)
                delay *= 2
    return answers


def stats() -> dict[str, Any]:
    """``GET <admin_path>/stats``."""
    return _call("GET", "/stats")


def purge(
    urls: Iterable[str] = (),
    prefixes: Iterable[str] = (),
    tags: Iterable[str] = (),
    all: bool = False,
    soft: bool | None = None,
) -> list[dict[str, Any]]:
    """Purges now (not after commit): URLs (paths are made absolute with ``SITE_URL``),
    path or URL prefixes, tags (as given: use :func:`django_edgecache.tags.encode` for tags
    made from data), or everything. Raises :class:`EdgecacheError`."""
    return send(
        Purge(
            urls=list(urls),
            prefixes=list(prefixes),
            tags=list(tags),
            all=all,
            soft=conf.get().soft if soft is None else soft,
        )
    )
