"""The package's pure parts, without the worker."""

from __future__ import annotations

import re

import pytest
from django.core.checks import run_checks
from django.http import HttpResponse
from django.test import RequestFactory
from django.views.decorators.cache import cache_control, cache_page, never_cache
from django.views.decorators.vary import vary_on_headers

from django_edgecache.middleware import EdgecacheMiddleware
from django_edgecache import client, conf, edge_cache, never_edge_cache, tags


def test_an_encoded_tag_is_printable_ascii_without_commas_or_spaces():
    for raw in ["a,b c", "Café", "\x00\x7f", "x" * 5000, "%2C"]:
        encoded = tags.encode(raw)
        assert 1 <= len(encoded) <= tags.LONG_TAG
        assert all(33 <= ord(c) < 127 and c != "," for c in encoded)
    assert tags.encode("blog.post:42") == "blog.post:42"
    assert tags.encode("%2C") != tags.encode(",")
    with pytest.raises(tags.TagError):
        tags.encode("")


def test_a_long_tag_never_ends_in_half_an_escape():
    encoded = tags.encode("é" * 300)
    head = encoded.split("~h")[0]
    assert re.fullmatch(r"(%[0-9A-F]{2})+", head), head


def test_batches_carry_at_most_a_hundred_of_each_kind():
    purge = client.Purge(urls=[f"https://e.com/{i}" for i in range(150)], tags=[f"t{i}" for i in range(30)])
    sizes = [(len(b.urls), len(b.tags)) for b in client.batches(purge, 100)]
    assert sizes == [(100, 30), (50, 0)]
    assert [b.body() for b in client.batches(client.Purge(all=True, tags=["x"]), 100)] == [{"all": True}]


def call(view, method="get"):
    return view(getattr(RequestFactory(), method)("/"))


def test_edge_cache_sets_the_edge_lifetime_apart_from_the_browsers():
    response = call(edge_cache(60, tags=["news"], stale_while_revalidate=30)(lambda r: HttpResponse("x")))
    assert response["Edgecache-Cache-Control"] == "max-age=60, stale-while-revalidate=30"
    assert response["Cache-Tag"] == "news"
    assert not response.has_header("Cache-Control")


def test_edge_cache_composes_with_cache_page_without_contradicting_it():
    response = call(edge_cache(600)(cache_page(30)(lambda r: HttpResponse("x"))))
    assert response["Edgecache-Cache-Control"] == "max-age=600"
    assert response["Cache-Control"] == "max-age=30", "browsers are told what cache_page says"


def test_never_cache_wins_over_edge_cache_in_either_order():
    for view in (edge_cache(600)(never_cache(lambda r: HttpResponse("x"))), never_cache(edge_cache(600)(lambda r: HttpResponse("x")))):
        response = call(EdgecacheMiddleware(view))
        assert "private" in response["Cache-Control"]
        assert response.get("Edgecache-Cache-Control") is None


def test_a_private_response_gets_no_edge_lifetime():
    response = call(edge_cache(600)(cache_control(private=True)(lambda r: HttpResponse("x"))))
    assert response.get("Edgecache-Cache-Control") is None


def test_vary_on_headers_and_edge_cache_vary_add_up():
    response = call(edge_cache(60, vary_headers=["Accept-Language"])(vary_on_headers("X-Device")(lambda r: HttpResponse("x"))))
    assert {v.strip().lower() for v in response["Vary"].split(",")} == {"x-device", "accept-language"}


def test_a_server_error_gets_no_edge_lifetime():
    response = call(edge_cache(600)(lambda r: HttpResponse("x", status=500)))
    assert response.get("Edgecache-Cache-Control") is None


def test_never_edge_cache_says_no_store_to_the_edge_and_private_to_others():
    response = call(never_edge_cache(lambda r: HttpResponse("x")))
    assert response["Edgecache-Cache-Control"] == "no-store" and "private" in response["Cache-Control"]


def test_the_targeted_field_can_be_cloudflares(settings):
    settings.EDGECACHE = {**settings.EDGECACHE, "FIELD": "Cloudflare-CDN-Cache-Control"}
    response = call(edge_cache(60)(lambda r: HttpResponse("x")))
    assert response["Cloudflare-CDN-Cache-Control"] == "max-age=60"


def test_the_token_is_never_shown(settings, monkeypatch):
    settings.EDGECACHE = {"TOKEN": None}
    monkeypatch.setenv("EDGECACHE_ADMIN_TOKEN", "s3cret-token")
    got = conf.get()
    assert got.token == "s3cret-token"
    assert "s3cret" not in repr(got) and "s3cret" not in repr(got.token)


def ids(**kwargs):
    return {m.id for m in run_checks(**kwargs) if m.id and m.id.startswith("edgecache.")}


def test_checks_report_a_missing_token_and_a_malformed_url(settings, monkeypatch):
    monkeypatch.delenv("EDGECACHE_ADMIN_TOKEN", raising=False)
    settings.EDGECACHE = {"URL": "127.0.0.1:8787/x"}
    assert {"edgecache.W001", "edgecache.E002"} <= ids()


def test_the_unreachable_worker_is_checked_only_with_deploy(settings):
    settings.EDGECACHE = {"URL": "http://127.0.0.1:9", "TOKEN": "t", "RETRIES": 1}
    assert "edgecache.W003" not in ids()
    assert "edgecache.W003" in ids(include_deployment_checks=True)


def test_a_view_cached_by_django_and_the_edge_is_warned_about_unless_purged_together(settings):
    assert "edgecache.W005" in ids()
    settings.EDGECACHE = {**settings.EDGECACHE, "DJANGO_CACHES": ["pages"]}
    assert "edgecache.W005" not in ids()


def test_site_wide_cache_middleware_is_warned_about(settings):
    settings.MIDDLEWARE = ["django.middleware.cache.UpdateCacheMiddleware", *settings.MIDDLEWARE, "django.middleware.cache.FetchFromCacheMiddleware"]
    assert "edgecache.W004" in ids()


def test_unknown_settings_are_an_error(settings):
    settings.EDGECACHE = {"TOKN": "x"}
    assert "edgecache.E001" in ids()


def test_too_many_tags_fold_the_largest_model_first_and_keep_the_rest():
    folds = {f"blog.post:{i}": "blog.post" for i in range(70)} | {"blog.tag:1": "blog.tag"}
    got = tags.fit(["about", "blog.tag:1", *(f"blog.post:{i}" for i in range(70))], folds, 64)
    assert got == ["about", "blog.tag:1", "blog.post"]
    assert tags.fit(["a", "b"], {}, 64) == ["a", "b"]
    with pytest.raises(tags.TagError, match="more than the worker keeps"):
        tags.fit([f"t{i}" for i in range(65)], {}, 64)


def test_edge_cache_works_on_async_views():
    import asyncio

    from asgiref.sync import iscoroutinefunction

    async def view(request):
        return HttpResponse("x")

    wrapped = edge_cache(60)(view)
    assert iscoroutinefunction(wrapped)
    response = asyncio.run(wrapped(RequestFactory().get("/")))
    assert response["Edgecache-Cache-Control"] == "max-age=60"
