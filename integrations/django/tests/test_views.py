"""Views through the real worker: what is stored at the edge, with which tags and lifetime."""

from __future__ import annotations

import pytest
from blog import recording
from django.contrib.auth.models import User
from helpers import inspect, post

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_decorated_view_is_stored_at_the_edge_with_its_tags_and_lifetime(edge):
    first = post("Hello")
    answer = edge.fetch(f"/posts/{first.pk}/")
    assert answer.status == 200 and "Hello" in answer.body
    assert "fwd=miss" in answer.cache_status
    assert answer.headers.get("edgecache-cache-control") is None, "the targeted field is the edge's, not the client's"
    edge.stored(f"/posts/{first.pk}/")
    again = edge.fetch(f"/posts/{first.pk}/")
    assert again.hit and "Hello" in again.body
    assert recording.count(f"/posts/{first.pk}/") == 1
    held = inspect(edge, f"/posts/{first.pk}/")
    assert set(held["tags"]) == {f"blog.post:{first.pk}"}
    assert 290 <= held["ttl"] <= 300


def test_a_list_view_is_tagged_with_its_model(edge):
    post("One")
    edge.fetch("/")
    edge.stored("/")
    assert inspect(edge, "/")["tags"] == ["blog.post"]


def test_an_undecorated_view_follows_the_sites_rules(edge):
    answer = edge.fetch("/plain/")
    assert answer.status == 200
    edge.stored("/plain/")
    held = inspect(edge, "/plain/")
    # No lifetime of its own: the worker's default_ttl (600 s) applies, no tags.
    assert held["tags"] == [] and 590 <= held["ttl"] <= 600


def test_a_never_view_is_never_stored(edge):
    for _ in range(3):
        answer = edge.fetch("/never/")
        assert answer.status == 200 and not answer.hit
        assert "private" in answer.headers["cache-control"]
    assert recording.count("/never/") == 3
    assert inspect(edge, "/never/") == {}


def test_the_admin_is_never_shared(edge):
    for _ in range(2):
        answer = edge.fetch("/admin/login/")
        assert answer.status == 200 and not answer.hit
    assert recording.count("/admin/login/") == 2
    assert inspect(edge, "/admin/login/") == {}


def logged_in(edge, name):
    """A visitor logged in through the worker, as a browser would."""
    User.objects.create_user(name, password=f"pw-{name}-12345", is_staff=True)
    visitor = edge.visitor()
    login = visitor.fetch("/admin/login/")
    token = visitor.cookies["csrftoken"]
    form = f"username={name}&password=pw-{name}-12345&csrfmiddlewaretoken={token}"
    done = visitor.fetch("/admin/login/", method="POST", body=form, headers={"Origin": edge.url, "Referer": edge.url + "/admin/login/"})
    assert done.status == 302 and "sessionid" in visitor.cookies, (login.status, done.status, done.body[:300])
    return visitor


def test_a_logged_in_page_is_never_shared(edge):
    pages = []
    for name in ("ada", "bob"):
        visitor = logged_in(edge, name)
        pages.append(visitor.fetch("/account/"))
    assert pages[0].body == "account of ada" and pages[1].body == "account of bob"
    assert not any(p.hit for p in pages)
    assert inspect(edge, "/account/") == {}


def test_a_class_based_view_with_method_decorator_varies_on_the_header_it_names(edge):
    en = edge.fetch("/about/", headers={"Accept-Language": "en"})
    assert "accept-language" in en.headers.get("vary", "").lower()
    edge.stored("/about/", headers={"Accept-Language": "en"})
    assert edge.fetch("/about/", headers={"Accept-Language": "en"}).hit
    assert not edge.fetch("/about/", headers={"Accept-Language": "fr"}).hit
    assert recording.count("/about/") == 2
    assert inspect(edge, "/about/", **{"Accept-Language": "en"})["tags"] == ["about"]


def test_auto_tag_tags_what_a_detail_view_loaded(edge, settings):
    settings.EDGECACHE = {**settings.EDGECACHE, "AUTO_TAG": True}
    first = post("Auto")
    edge.fetch(f"/cbv/posts/{first.pk}/")
    edge.stored(f"/cbv/posts/{first.pk}/")
    held = inspect(edge, f"/cbv/posts/{first.pk}/")
    assert held["tags"] == [f"blog.post:{first.pk}"] and 110 <= held["ttl"] <= 120


def test_a_visitor_with_a_session_gets_their_own_page_and_anonymous_visitors_the_shared_one(edge):
    anonymous = edge.fetch("/hello/")
    assert anonymous.body == "hello guest"
    edge.stored("/hello/")
    ada = logged_in(edge, "ada")
    for _ in range(2):
        mine = ada.fetch("/hello/")
        assert mine.body == "hello ada" and "detail=bypass-cookie" in mine.cache_status
    again = edge.fetch("/hello/")
    assert again.hit and again.body == "hello guest"
    assert recording.count("/hello/") == 3


def test_a_visitor_with_a_session_gets_an_esi_page_whole(edge):
    post("Sidebar post")
    ada = logged_in(edge, "ada")
    page = ada.fetch("/pages/home/")
    assert page.status == 200 and "detail=bypass-cookie" in page.cache_status
    assert "<esi:include" not in page.body and "Sidebar post" in page.body
