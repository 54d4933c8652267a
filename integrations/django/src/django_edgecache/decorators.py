"""View decorators and a mixin that say, in Django code, what the worker enforces.

``edge_cache(ttl)`` sends the edge's lifetime in a targeted field (RFC 9213; edgecache's own
``Edgecache-Cache-Control`` by default, see docs/caching.md, "Targeted fields"), which the worker
reads instead of ``Cache-Control`` for its own storage and removes before the client: what
browsers are told stays Django's (``cache_page``, ``patch_cache_control``). A response that
says ``private``, ``no-store`` or ``no-cache`` (``never_cache``, ``cache_control(private=True)``)
keeps saying it: no edge lifetime is added over it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import conf
from .tags import header_tags, tags_of

V = TypeVar("V", bound=Callable[..., Any])

#: Statuses given the edge lifetime (those RFC 9110 calls heuristically cacheable, less the
#: rare ones); a 500 is never kept for a page's lifetime.
EDGE_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 410})


@dataclass(frozen=True)
class EdgePolicy:
    """What a view says about the edge; read by the middleware, the checks and
    ``manage.py edgecache_routes``."""

    ttl: int | None = None
    tags: tuple[Any, ...] = ()
    vary_cookies: tuple[str, ...] = ()
    vary_headers: tuple[str, ...] = ()
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None
    browser_ttl: int | None = None
    esi: bool = False
    esi_includes: tuple[str, ...] = ()
    never: bool = False

    def field_value(self) -> str | None:
        if self.never:
            return "no-store"
        if self.ttl is None:
            return None
        parts = [f"max-age={int(self.ttl)}"]
        if self.stale_while_revalidate:
            parts.append(f"stale-while-revalidate={int(self.stale_while_revalidate)}")
        if self.stale_if_error:
            parts.append(f"stale-if-error={int(self.stale_if_error)}")
        return ", ".join(parts)


def says_no(response: HttpResponseBase) -> bool:
    directives = {d.split("=", 1)[0].strip().lower() for d in response.get("Cache-Control", "").split(",")}
    return bool(directives & {"private", "no-store", "no-cache"})


def apply(response: HttpResponseBase, policy: EdgePolicy) -> HttpResponseBase:
    """Writes ``policy`` into ``response``'s fields."""
    settings = conf.get()
    response._edgecache_policy = policy  # type: ignore[attr-defined]
    if policy.never:
        response[settings.field] = "no-store"
        patch_cache_control(response, private=True)
        return response
    value = policy.field_value()
    if value and response.status_code in EDGE_STATUSES and not says_no(response) and not response.has_header(settings.field):
        response[settings.field] = value
    if policy.tags:
        tags = header_tags(response.get("Cache-Tag"))
        for thing in policy.tags:
            tags += tags_of(thing)
        response["Cache-Tag"] = ",".join(dict.fromkeys(tags))
    if policy.vary_headers:
        patch_vary_headers(response, policy.vary_headers)
    if policy.vary_cookies:
        patch_vary_headers(response, ("Cookie",))
    return response


def policy_of(view: Any) -> EdgePolicy | None:
    """The policy a view (function, ``as_view()`` result or class) was given, if any."""
    policy = getattr(view, "_edgecache", None)
    if isinstance(policy, EdgePolicy):
        return policy
    view_class = getattr(view, "view_class", view if isinstance(view, type) else None)
    if view_class is not None:
        dispatch = getattr(view_class, "dispatch", None)
        policy = getattr(dispatch, "_edgecache", None)
        if isinstance(policy, EdgePolicy):
            return policy
        if isinstance(view_class, type) and issubclass(view_class, EdgeCacheMixin):
            return view_class.edge_policy()
    return None


def _decorate(policy: EdgePolicy) -> Callable[[V], V]:
    def decorator(view: V) -> V:
        if iscoroutinefunction(view):

            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return apply(await view(request, *args, **kwargs), policy)

            wrapper: Any = markcoroutinefunction(functools.wraps(view)(async_wrapper))
        else:

            def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return apply(view(request, *args, **kwargs), policy)

            wrapper = functools.wraps(view)(sync_wrapper)
        wrapper._edgecache = policy
        return wrapper  # type: ignore[no-any-return]

    return decorator


def edge_cache(
    ttl: int | None = None,
    *,
    tags: Iterable[Any] = (),
    vary_cookies: Iterable[str] = (),
    vary_headers: Iterable[str] = (),
    stale_while_revalidate: int | None = None,
    stale_if_error: int | None = None,
    browser_ttl: int | None = None,
    esi: bool = False,
    esi_includes: Iterable[str] = (),
) -> Callable[[V], V]:
    """Cache the view's responses at the edge for ``ttl`` seconds, tagged with ``tags``
    (strings, models, instances). ``vary_cookies``/``vary_headers`` name what the page
    depends on (the worker keys on them by name through the route ``edgecache_routes``
    prints); ``esi`` lets the route assemble ``{% edge_include %}`` fragments, of paths
    matching ``esi_includes`` globs. For CBVs: ``method_decorator(edge_cache(...),
    name="dispatch")`` or :class:`EdgeCacheMixin`."""
    if ttl is not None and ttl < 0:
        raise ValueError("ttl must be 0 or more seconds")
    return _decorate(
        EdgePolicy(
            ttl=ttl,
            tags=tuple(tags),
            vary_cookies=tuple(vary_cookies),
            vary_headers=tuple(h.lower() for h in vary_headers),
            stale_while_revalidate=stale_while_revalidate,
            stale_if_error=stale_if_error,
            browser_ttl=browser_ttl,
            esi=esi,
            esi_includes=tuple(esi_includes),
        )
    )


def never_edge_cache(view: V) -> V:
    """Never store the view's responses at the edge (the route ``edgecache_routes`` prints
    bypasses the cache), and mark them ``private`` for any other shared cache."""
    return _decorate(EdgePolicy(never=True))(view)


class EdgeCacheMixin:
    """For class-based views: ``edge_ttl``, ``edge_tags``, ``edge_vary_cookies``,
    ``edge_vary_headers``, ``edge_esi``, ``edge_esi_includes``, ``edge_never``."""

    edge_ttl: int | None = None
    edge_tags: tuple[Any, ...] = ()
    edge_vary_cookies: tuple[str, ...] = ()
    edge_vary_headers: tuple[str, ...] = ()
    edge_esi: bool = False
    edge_esi_includes: tuple[str, ...] = ()
    edge_never: bool = False

    @classmethod
    def edge_policy(cls) -> EdgePolicy:
        return EdgePolicy(
            ttl=cls.edge_ttl,
            tags=tuple(cls.edge_tags),
            vary_cookies=tuple(cls.edge_vary_cookies),
            vary_headers=tuple(h.lower() for h in cls.edge_vary_headers),
            esi=cls.edge_esi,
            esi_includes=tuple(cls.edge_esi_includes),
            never=cls.edge_never,
        )

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return apply(response, self.edge_policy())
