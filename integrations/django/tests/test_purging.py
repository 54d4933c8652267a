"""Registered models purge exactly the pages tagged with them, after commit, through the real
worker; a worker that is down or failing never fails the editor's save."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from blog import recording
from blog.models import Post, Tag
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from django_edgecache import purging
from django_edgecache.models import FailedPurge
from helpers import post

pytestmark = pytest.mark.django_db(transaction=True)


def warm(edge, *paths):
    for path in paths:
        edge.fetch(path)
        edge.stored(path)


def hits(edge, *paths):
    return {path: edge.fetch(path).hit for path in paths}


@pytest.fixture()
def sent(monkeypatch):
    """The purge requests the package sends (and still sends them)."""
    calls = []
    real = purging.client._call

    def spy(method, path, body=None):
        if path == "/purge":
            calls.append(body)
        return real(method, path, body)

    monkeypatch.setattr(purging.client, "_call", spy)
    return calls


def test_saving_a_post_purges_its_page_and_the_list_and_nothing_else(edge, sent):
    one, two = post("One"), post("Two")
    warm(edge, "/", f"/posts/{one.pk}/", f"/posts/{two.pk}/", "/about/")
    sent.clear()
    one.title = "One, edited"
    one.save()
    assert len(sent) == 1, "one save is one purge request"
    assert sent[0]["tags"] == ["blog.post", f"blog.post:{one.pk}"]
    page = edge.fetch(f"/posts/{one.pk}/")
    assert not page.hit and "One, edited" in page.body
    listed = edge.fetch("/")
    assert not listed.hit and "One, edited" in listed.body
    assert hits(edge, f"/posts/{two.pk}/", "/about/") == {f"/posts/{two.pk}/": True, "/about/": True}


def test_deleting_a_post_purges_its_page(edge):
    one, two = post("One"), post("Two")
    warm(edge, f"/posts/{one.pk}/", f"/posts/{two.pk}/")
    one.delete()
    assert edge.fetch(f"/posts/{one.pk}/").status == 404
    assert edge.fetch(f"/posts/{two.pk}/").hit


def test_changing_a_many_to_many_relation_purges_both_sides(edge, sent):
    one, two = post("One"), post("Two")
    news, other = Tag.objects.create(name="news"), Tag.objects.create(name="other")
    paths = (f"/posts/{one.pk}/", f"/posts/{two.pk}/", f"/tags/{news.pk}/", f"/tags/{other.pk}/")
    warm(edge, *paths)
    sent.clear()
    with transaction.atomic():
        one.tags.add(news)
    assert len(sent) == 1
    page = edge.fetch(f"/tags/{news.pk}/")
    assert not page.hit and "One" in page.body
    assert not edge.fetch(f"/posts/{one.pk}/").hit
    assert hits(edge, f"/posts/{two.pk}/", f"/tags/{other.pk}/") == {f"/posts/{two.pk}/": True, f"/tags/{other.pk}/": True}
    warm(edge, *paths)
    one.tags.clear()
    cleared = edge.fetch(f"/tags/{news.pk}/")
    assert not cleared.hit and "One" not in cleared.body
    assert edge.fetch(f"/tags/{other.pk}/").hit


def test_a_transaction_is_one_purge_request_sent_after_commit(edge, sent):
    posts = [post(f"P{i}") for i in range(3)]
    warm(edge, *(f"/posts/{p.pk}/" for p in posts))
    sent.clear()
    with transaction.atomic():
        for p in posts:
            p.title += " edited"
            p.save()
        assert sent == [], "nothing is sent before the commit"
        assert all(edge.fetch(f"/posts/{p.pk}/").hit for p in posts)
    assert len(sent) == 1 and len(sent[0]["tags"]) == 4
    assert not any(edge.fetch(f"/posts/{p.pk}/").hit for p in posts)


def test_a_rolled_back_save_purges_nothing(edge, sent):
    one = post("Kept")
    warm(edge, f"/posts/{one.pk}/", "/")
    sent.clear()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            one.title = "Never saved"
            one.save()
            raise RuntimeError("rolled back")
    assert sent == []
    assert hits(edge, f"/posts/{one.pk}/", "/") == {f"/posts/{one.pk}/": True, "/": True}
    # The next transaction sends only its own purge.
    post("Another")
    assert sent == [{"tags": ["blog.post", f"blog.post:{Post.objects.get(title='Another').pk}"]}]


def test_more_than_a_hundred_objects_are_purged_in_as_few_requests_as_the_api_allows(edge, sent):
    with transaction.atomic():
        Post.objects.bulk_create([Post(title=f"B{i}") for i in range(250)])
        purging.purge_queryset(Post.objects.all())
    # 251 tags (250 instances and the model): 100 per request.
    assert [len(body["tags"]) for body in sent] == [100, 100, 51]


def editor():
    User.objects.create_superuser("editor", "e@example.com", "pw-editor-12345")
    client = Client()
    assert client.login(username="editor", password="pw-editor-12345")
    return client


def test_the_worker_down_the_save_succeeds_is_logged_and_replayed_later(edge, settings, caplog):
    one = post("Before")
    warm(edge, f"/posts/{one.pk}/")
    settings.EDGECACHE = {**settings.EDGECACHE, "URL": "http://127.0.0.1:9"}  # nothing listens there
    client = editor()
    with caplog.at_level(logging.ERROR, logger="django_edgecache"):
        answer = client.post(f"/admin/blog/post/{one.pk}/change/", {"title": "After", "body": "", "category": ""})
    assert answer.status_code == 302, "the editor's save succeeds"
    assert Post.objects.get(pk=one.pk).title == "After"
    assert any("purge failed" in r.getMessage() for r in caplog.records)
    assert FailedPurge.objects.count() == 1
    assert edge.fetch(f"/posts/{one.pk}/").hit, "the edge still has the old page"
    settings.EDGECACHE = {**settings.EDGECACHE, "URL": edge.url}
    call_command("edgecache_replay")
    assert FailedPurge.objects.count() == 0
    page = edge.fetch(f"/posts/{one.pk}/")
    assert not page.hit and "After" in page.body


class Failing(BaseHTTPRequestHandler):
    asked = 0

    def do_POST(self):  # noqa: N802
        Failing.asked += 1
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok":false,"recorded":false}')

    def log_message(self, *args):
        pass


def test_a_worker_answering_503_is_retried_with_backoff_then_kept(edge, settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.EDGECACHE = {**settings.EDGECACHE, "URL": f"http://127.0.0.1:{server.server_port}", "RETRIES": 3}
        Failing.asked = 0
        post("Saved anyway")
        assert Failing.asked == 3
        assert FailedPurge.objects.count() == 1 and "503" in FailedPurge.objects.get().error
        assert purging.counters["failed"] >= 1
    finally:
        server.shutdown()
        server.server_close()
    settings.EDGECACHE = {**settings.EDGECACHE, "URL": edge.url}
    call_command("edgecache_replay")
    assert FailedPurge.objects.count() == 0


def test_the_page_cache_named_in_django_caches_is_cleared_with_every_purge(edge, settings):
    from django.core.cache import caches

    settings.EDGECACHE = {**settings.EDGECACHE, "DJANGO_CACHES": ["pages"]}
    caches["pages"].set("k", "v")
    post("x")
    assert caches["pages"].get("k") is None
    assert recording  # the module is used by the fixtures


def test_changes_made_while_paused_purge_nothing(edge, sent):
    import django_edgecache

    with django_edgecache.paused():
        post("Loaded from a fixture")
    assert sent == []
    post("Saved by an editor")
    assert len(sent) == 1
