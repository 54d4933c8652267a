"""A page with a CSRF form is cached for everyone; each visitor gets a token of their own."""

from __future__ import annotations

import json

import pytest
from blog import recording

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_page_with_a_csrf_form_is_a_hit_for_the_second_visitor(edge):
    first = edge.visitor().fetch("/contact/")
    assert first.status == 200 and "set-cookie" not in first.headers
    assert 'name="csrfmiddlewaretoken"' in first.body
    edge.stored("/contact/")
    second = edge.visitor().fetch("/contact/")
    assert second.hit and second.body == first.body
    assert recording.count("/contact/") == 1


def test_each_visitor_gets_a_token_of_their_own_and_the_post_succeeds(edge):
    tokens = []
    for name in ("ada", "bob"):
        visitor = edge.visitor()
        page = visitor.fetch("/contact/")
        assert 'fetch("/edgecache/csrf/"' in page.body
        answer = visitor.fetch("/edgecache/csrf/")
        assert answer.status == 200 and not answer.hit
        assert "no-store" in answer.headers["cache-control"]
        token = json.loads(answer.body)["token"]
        tokens.append((visitor.cookies["csrftoken"], token))
        sent = visitor.fetch(
            "/contact/",
            method="POST",
            body=f"csrfmiddlewaretoken={token}&name={name}",
            headers={"Origin": edge.url, "Referer": edge.url + "/contact/"},
        )
        assert sent.status == 200 and sent.body == f"thanks {name}"
    assert tokens[0][0] != tokens[1][0], "each visitor has their own CSRF cookie"
    assert recording.count("/edgecache/csrf/") == 2


def test_a_post_without_the_token_is_refused(edge):
    visitor = edge.visitor()
    visitor.fetch("/edgecache/csrf/")
    refused = visitor.fetch("/contact/", method="POST", body="name=eve", headers={"Origin": edge.url, "Referer": edge.url + "/contact/"})
    assert refused.status == 403
