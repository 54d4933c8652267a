"""System checks (``manage.py check``; the worker's reachability with ``--deploy``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.middleware.cache import CacheMiddleware, UpdateCacheMiddleware

from . import conf


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    try:
        settings = conf.get()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="edgecache.E001")]
    problems: list[Any] = []
    for name, value in (("URL", settings.url), ("SITE_URL", settings.site_url)):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
            problems.append(
                Error(
                    f"EDGECACHE['{name}'] = {value!r} is not a scheme and host (e.g. https://example.com)",
                    id="edgecache.E002",
                )
            )
    if not settings.admin_path.startswith("/"):
        problems.append(Error("EDGECACHE['ADMIN_PATH'] must start with /", id="edgecache.E003"))
    if not settings.token:
        problems.append(
            Warning(
                "No edgecache admin token: purges will fail (and be kept for edgecache_replay).",
                hint=f"Set the environment variable {settings.token_env} (or EDGECACHE['TOKEN']).",
                id="edgecache.W001",
            )
        )
    if "django_edgecache.middleware.EdgecacheMiddleware" not in getattr(django_settings, "MIDDLEWARE", []):
        problems.append(
            Warning(
                "django_edgecache.middleware.EdgecacheMiddleware is not in MIDDLEWARE: "
                "edgecache.tag() and {% edge_include %}'s ESI mode do nothing.",
                id="edgecache.W002",
            )
        )
    return problems


@register(Tags.compatibility, deploy=True)
def check_worker_reachable(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Only with ``--deploy``: asks the worker's stats API once."""
    from . import client

    try:
        settings = conf.get()
    except ImproperlyConfigured:
        return []
    if not settings.token:
        return []
    try:
        client.stats()
    except client.EdgecacheError as error:
        return [Warning(f"The edgecache worker at {settings.api} could not be asked: {error}", id="edgecache.W003")]
    return []


def _django_cache_alias(view: Any) -> str | None:
    """The cache alias of Django's ``cache_page`` around ``view``, if any: its
    ``CacheMiddleware`` is held in the closures of the wrapper ``cache_page`` makes (and of
    the helpers that wrapper calls), found along ``__wrapped__``."""
    seen: set[int] = set()
    todo = [view]
    while todo:
        fn = todo.pop()
        if fn is None or id(fn) in seen or len(seen) > 200:
            continue
        seen.add(id(fn))
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                contents = cell.cell_contents
            except ValueError:
                continue
            if isinstance(contents, CacheMiddleware):
                return str(contents.cache_alias)
            if callable(contents) and hasattr(contents, "__closure__"):
                todo.append(contents)
        todo.append(getattr(fn, "__wrapped__", None))
    return None


@register()
def check_one_cache(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """A view cached at the edge and by Django's page cache shows an edit only when both are
    purged: warn unless the cache alias is one the package clears with every purge."""
    from . import routes

    try:
        settings = conf.get()
    except ImproperlyConfigured:
        return []
    problems: list[Any] = []
    middleware = getattr(django_settings, "MIDDLEWARE", [])
    site_wide = any(m.endswith(("UpdateCacheMiddleware", "FetchFromCacheMiddleware")) for m in middleware)
    site_alias = getattr(django_settings, "CACHE_MIDDLEWARE_ALIAS", "default")
    if site_wide and site_alias not in settings.django_caches:
        problems.append(
            Warning(
                "Django's site-wide cache middleware and edgecache both cache pages: after a purge "
                "Django's copy is still served.",
                hint=f"Remove {UpdateCacheMiddleware.__name__}/FetchFromCacheMiddleware (the worker is "
                f"the page cache), or add {site_alias!r} to EDGECACHE['DJANGO_CACHES'] so every purge clears it.",
                id="edgecache.W004",
            )
        )
    try:
        found = routes.found()
    except Exception:  # noqa: BLE001 - a broken URLconf is reported by Django's own checks
        return problems
    for item in found:
        if item.policy.never:
            continue
        from django.urls import get_resolver

        for callback in _callbacks(get_resolver(), item.view):
            alias = _django_cache_alias(callback)
            if alias is not None and alias not in settings.django_caches:
                problems.append(
                    Warning(
                        f"{item.view} ({item.path}) is cached by Django's cache_page (cache {alias!r}) and at "
                        "the edge: a purge leaves Django's copy, which the worker then stores again.",
                        hint=f"Drop cache_page (edge_cache replaces it), or add {alias!r} to "
                        "EDGECACHE['DJANGO_CACHES'] so every purge clears it too.",
                        id="edgecache.W005",
                    )
                )
    return problems


def _callbacks(resolver: Any, view: str) -> list[Any]:
    from .routes import _walk

    out = []
    for _, callback in _walk(resolver, ""):
        name = f"{getattr(callback, '__module__', '?')}.{getattr(callback, '__qualname__', repr(callback))}"
        if name == view:
            out.append(callback)
    return out
