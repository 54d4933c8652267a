"""Adds the tags a response gathered while it was built, and tells views whether the request
came through an edgecache route that assembles ESI."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from . import conf, tags
from .decorators import says_no

logger = logging.getLogger("django_edgecache")

# `edgecache="Surrogate/1.0 ESI/1.0"` (Edge Architecture Specification §3): the worker sends it,
# naming itself, and lists ESI/1.0 on routes with `esi = true`. On requests whose answer may be
# stored the worker drops a client's own field, so only the route decides.
_CAPABILITY = re.compile(r'(?:^|,)\s*edgecache\s*=\s*"([^"]*)"')


def via_esi(request: HttpRequest) -> bool:
    """The request came through an edgecache route that assembles ESI."""
    field = request.META.get("HTTP_SURROGATE_CAPABILITY", "")
    return any("ESI/1.0" in caps.split() for caps in _CAPABILITY.findall(field))


class EdgecacheMiddleware:
    """Put it near the top of ``MIDDLEWARE`` (after ``SecurityMiddleware``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.edgecache_esi = via_esi(request)  # type: ignore[attr-defined]
        collector, token = tags.start()
        try:
            response = self.get_response(request)
        finally:
            tags.stop(token)
        finish(request, response, collector)
        return response


def finish(request: HttpRequest, response: HttpResponseBase, collector: tags.Collector) -> None:
    settings = conf.get()
    policy = getattr(response, "_edgecache_policy", None)
    if policy is not None and not policy.never and response.has_header(settings.field) and says_no(response):
        # never_cache (or cache_control(private=True)) applied outside edge_cache: it wins.
        del response[settings.field]
    gathered = tags.header_tags(response.get("Cache-Tag")) + list(collector.tags)
    if gathered:
        try:
            response["Cache-Tag"] = ",".join(tags.fit(gathered, collector.folds, settings.max_tags))
        except tags.TagError as error:
            # Stored with tags dropped, it could never be purged: not stored at all.
            logger.error("edgecache: %s %s not stored at the edge: %s", request.method, request.path, error)
            response[settings.field] = "no-store"
            del response["Cache-Tag"]
    if response.has_header(settings.field) and response.cookies and "no-store" not in response[settings.field]:
        logger.warning(
            "edgecache: %s sets cookies (%s): the worker never stores a response with Set-Cookie%s",
            request.path,
            ", ".join(response.cookies),
            " (use {% edge_csrf_token %} instead of {% csrf_token %})" if "csrftoken" in response.cookies else "",
        )
