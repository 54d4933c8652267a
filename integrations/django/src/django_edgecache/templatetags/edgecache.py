"""``{% load edgecache %}``: ``{% edge_include %}`` and ``{% edge_csrf_token %}``."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.http import HttpRequest
from django.template.response import SimpleTemplateResponse
from django.urls import NoReverseMatch, resolve, reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from .. import tags

register = template.Library()


def _path(target: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if target.startswith("/"):
        return target
    try:
        return reverse(target, args=args, kwargs=kwargs)
    except NoReverseMatch as error:
        raise template.TemplateSyntaxError(f"edge_include: {error}") from error


def render_inline(request: HttpRequest, path: str) -> str:
    """The fragment's view called in this request, as ESI would fetch it; its tags join the
    page's (the page now shows what the fragment shows)."""
    parts = urlsplit(path)
    match = resolve(parts.path)
    sub = copy.copy(request)
    sub.path = sub.path_info = parts.path
    sub.method = "GET"
    sub.META = {**request.META, "PATH_INFO": parts.path, "QUERY_STRING": parts.query, "REQUEST_METHOD": "GET"}
    sub.GET = request.GET.__class__(parts.query)
    sub.resolver_match = match
    response = match.func(sub, *match.args, **match.kwargs)
    if isinstance(response, SimpleTemplateResponse):
        response.render()
    if response.status_code >= 400:
        raise template.TemplateSyntaxError(f"edge_include {path}: the fragment answered {response.status_code}")
    collector = tags.current()
    if collector is not None:
        for tag in tags.header_tags(response.get("Cache-Tag")):
            collector.tags.setdefault(tag)
    return str(response.content.decode(response.charset))


@register.simple_tag(takes_context=True)
def edge_include(context: template.Context, target: str, *args: Any, onerror: str = "", **kwargs: Any) -> SafeString:
    """``{% edge_include "sidebar" %}`` or ``{% edge_include "/fragments/sidebar/" %}``: an
    ``<esi:include>`` when the request came through an edgecache route that assembles ESI
    (the fragment then has its own lifetime and tags, from its view's decorators), else the
    fragment rendered in place, so the page reads the same with or without the worker."""
    request = context.get("request")
    if request is None:
        raise template.TemplateSyntaxError("edge_include needs the request context processor")
    path = _path(target, args, kwargs)
    if getattr(request, "edgecache_esi", False):
        extra = format_html(' onerror="{}"', onerror) if onerror else ""
        return format_html('<esi:include src="{}"{}/>', path, extra)
    return mark_safe(render_inline(request, path))


SCRIPT = (
    "<script>(function(s){var i=s.previousElementSibling;"
    'fetch("URL",{credentials:"same-origin",cache:"no-store"})'
    ".then(function(r){return r.json()}).then(function(d){i.value=d.token})"
    "})(document.currentScript)</script>"
)


@register.simple_tag
def edge_csrf_token() -> SafeString:
    """Like ``{% csrf_token %}`` on a page cached for everyone: an empty hidden input, filled
    by a small script from this visitor's own token (``django_edgecache.urls``' ``csrf``
    view, which sets the cookie). The page itself never calls ``get_token``, so it has no
    ``Set-Cookie`` and the worker can store it."""
    url = escape(reverse("django_edgecache:csrf"))
    return mark_safe('<input type="hidden" name="csrfmiddlewaretoken" value="">' + SCRIPT.replace("URL", url))
