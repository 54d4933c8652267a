"""The package's settings: one dict, ``settings.EDGECACHE``, read through :func:`get`.

Every key is optional; the defaults are those of :data:`DEFAULTS`. The admin token is read from
the environment variable named by ``TOKEN_ENV`` unless ``TOKEN`` is given, and is never logged
or shown (its ``repr`` is masked).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

#: The settings and their defaults (README: "Settings").
DEFAULTS: dict[str, Any] = {
    # The worker's public base URL, where its admin API lives (``<URL><ADMIN_PATH>/purge``).
    "URL": "http://127.0.0.1:8787",
    # The worker's ``admin_path``.
    "ADMIN_PATH": "/_edgecache",
    # The admin token; None: read from the environment variable TOKEN_ENV.
    "TOKEN": None,
    "TOKEN_ENV": "EDGECACHE_ADMIN_TOKEN",
    # The site's public scheme and host, for absolute URLs in URL purges; None: URL.
    "SITE_URL": None,
    # Seconds to wait for one admin API call.
    "TIMEOUT": 3.0,
    # Tries per purge request (the first included), and the first pause between them (doubled
    # after each failure).
    "RETRIES": 3,
    "BACKOFF": 0.25,
    # Purges are soft (served stale once more while one refresh goes to the origin) unless asked.
    "SOFT": False,
    # "sync": purges are sent in on_commit, before the response; "thread": in a daemon thread.
    "SEND": "sync",
    # Items of one kind per purge request (the API's limit is 100).
    "BATCH_SIZE": 100,
    # The response field that carries the edge lifetime: edgecache's own (removed before the
    # client), or "Cloudflare-CDN-Cache-Control" / "CDN-Cache-Control" / "Surrogate-Control".
    "FIELD": "Edgecache-Cache-Control",
    # Tags per response that the worker keeps (its MAX_TAGS); more are folded into model tags.
    "MAX_TAGS": 64,
    # Tag every instance of a registered model that a request loads (DetailView,
    # get_object_or_404, querysets) with its instance tag.
    "AUTO_TAG": False,
    # Django cache aliases cleared with every purge this package sends (for pages that are
    # also in Django's own page cache: cache_page(cache=alias)).
    "DJANGO_CACHES": [],
    # Prepended to every tag the package makes (a deployment's namespace).
    "TAG_PREFIX": "",
}

FIELDS = (
    "Edgecache-Cache-Control",
    "Cloudflare-CDN-Cache-Control",
    "CDN-Cache-Control",
    "Surrogate-Control",
)


class _Secret(str):
    """A string whose repr never shows it (so a token cannot reach a log by accident)."""

    def __repr__(self) -> str:
        return "'***'" if self else "''"


@dataclass(frozen=True)
class Settings:
    url: str
    admin_path: str
    token: str | None = field(repr=False)
    token_env: str
    site_url: str
    timeout: float
    retries: int
    backoff: float
    soft: bool
    send: str
    batch_size: int
    field: str
    max_tags: int
    auto_tag: bool
    tag_prefix: str
    django_caches: tuple[str, ...]

    @property
    def api(self) -> str:
        """The admin API's base, e.g. ``http://127.0.0.1:8787/_edgecache``."""
        return self.url.rstrip("/") + "/" + self.admin_path.strip("/")


def get() -> Settings:
    """The settings, from ``settings.EDGECACHE`` over :data:`DEFAULTS`."""
    given: dict[str, Any] = dict(getattr(django_settings, "EDGECACHE", {}) or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ImproperlyConfigured(f"EDGECACHE: unknown setting(s) {', '.join(unknown)}")
    values = {**DEFAULTS, **given}
    token = values["TOKEN"]
    if token is None:
        token = os.environ.get(values["TOKEN_ENV"]) or None
    if values["FIELD"] not in FIELDS:
        raise ImproperlyConfigured(f"EDGECACHE['FIELD'] must be one of {', '.join(FIELDS)}")
    if values["SEND"] not in ("sync", "thread"):
        raise ImproperlyConfigured("EDGECACHE['SEND'] must be 'sync' or 'thread'")
    if not 1 <= int(values["BATCH_SIZE"]) <= 100:
        raise ImproperlyConfigured("EDGECACHE['BATCH_SIZE'] must be 1 to 100 (the API's limit)")
    return Settings(
        url=str(values["URL"]),
        admin_path=str(values["ADMIN_PATH"]),
        token=_Secret(token) if token else None,
        token_env=str(values["TOKEN_ENV"]),
        site_url=str(values["SITE_URL"] or values["URL"]).rstrip("/"),
        timeout=float(values["TIMEOUT"]),
        retries=max(1, int(values["RETRIES"])),
        backoff=float(values["BACKOFF"]),
        soft=bool(values["SOFT"]),
        send=str(values["SEND"]),
        batch_size=int(values["BATCH_SIZE"]),
        field=str(values["FIELD"]),
        max_tags=int(values["MAX_TAGS"]),
        auto_tag=bool(values["AUTO_TAG"]),
        tag_prefix=str(values["TAG_PREFIX"]),
        django_caches=tuple(values["DJANGO_CACHES"]),
    )
