"""edgecache_purge and edgecache_stats against the real worker."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from helpers import post

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_edgecache_purge_purges_urls_prefixes_and_tags(edge):
    one = post("One")
    for path in (f"/posts/{one.pk}/", "/about/", "/plain/"):
        edge.fetch(path)
        edge.stored(path)
    out = run("edgecache_purge", "--url", f"/posts/{one.pk}/", "--prefix", "/plain", "--tag", "about")
    assert f"url {edge.url}/posts/{one.pk}/: purged" in out
    assert "prefix /plain: purged" in out and "tag about: purged" in out
    assert not any(edge.fetch(p).hit for p in (f"/posts/{one.pk}/", "/about/", "/plain/"))


def test_edgecache_purge_all_soft_serves_stale_once_while_refreshing(edge):
    edge.fetch("/plain/")
    edge.stored("/plain/")
    assert "(soft)" in run("edgecache_purge", "--all", "--soft")
    answer = edge.fetch("/plain/")
    assert answer.status == 200 and "detail=soft-purged" in answer.cache_status


def test_edgecache_purge_says_what_is_wrong(edge):
    with pytest.raises(CommandError, match="nothing to purge"):
        run("edgecache_purge")
    with pytest.raises(CommandError, match="longer than the worker's 2048"):
        run("edgecache_purge", "--url", "/" + "x" * 3000)


def test_edgecache_stats_prints_the_hit_ratio_per_route_and_host(edge):
    one = post("One")
    edge.fetch(f"/posts/{one.pk}/")
    edge.stored(f"/posts/{one.pk}/")
    for _ in range(3):
        assert edge.fetch(f"/posts/{one.pk}/").hit
    out = run("edgecache_stats")
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    route = lines["/posts/*/"]
    # requests, hits, stale, misses, bypasses, ratio: at least the 3 hits and the miss.
    assert int(route[2]) >= 3 and int(route[4]) >= 1
    assert "127.0.0.1" in out
