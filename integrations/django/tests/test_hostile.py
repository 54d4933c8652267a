"""Tags and URLs made from what editors type: commas, spaces, non-ASCII, 2,000 characters.
Sent within the purge API's and Cache-Tag's limits, or refused with a clear error."""

from __future__ import annotations

import pytest
from blog import recording
from helpers import inspect, post

from django_edgecache import client, tags

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = [
    "Café, Bar & Grill",
    "a b,c\td",
    "日本語のカテゴリ",
    "x" * 2000,
    "É, " * 700,
    "%41,%2C",
]


def test_a_page_tagged_from_hostile_fields_is_stored_with_every_tag_and_purged_by_a_save(edge):
    made = [post(f"P{i}", category=name) for i, name in enumerate(HOSTILE)]
    for p in made:
        edge.fetch(f"/posts/{p.pk}/")
    held = {}
    for p in made:
        edge.stored(f"/posts/{p.pk}/")
        held[p.pk] = inspect(edge, f"/posts/{p.pk}/")["tags"]
    for p, name in zip(made, HOSTILE):
        want = tags.encode("category:" + name)
        assert want in held[p.pk], "the worker kept the tag: none was dropped"
        assert len(want) <= 200 and all(33 <= ord(c) < 127 and c != "," for c in want)
    # Two categories that differ only after their first 200 characters keep distinct tags.
    assert tags.encode("x" * 2000) != tags.encode("x" * 1999 + "y")
    # Purging one category's tag through the API purges its page alone.
    client.purge(tags=[tags.encode("category:" + HOSTILE[0])])
    assert not edge.fetch(f"/posts/{made[0].pk}/").hit
    assert edge.fetch(f"/posts/{made[1].pk}/").hit
    # A save sends the same encoded tag.
    made[3].body = "edited"
    made[3].save()
    page = edge.fetch(f"/posts/{made[3].pk}/")
    assert not page.hit and "edited" in page.body
    assert recording.count(f"/posts/{made[3].pk}/") == 2


def test_urls_with_spaces_and_non_ascii_are_encoded_and_accepted(edge):
    answers = client.purge(urls=["/blog/café au lait/", "/日本/?q=a b"])
    results = answers[0]["results"]
    assert [r["effect"] for r in results] == ["purged", "purged"]
    assert results[0]["target"].endswith("/blog/caf%C3%A9%20au%20lait/")


def test_a_url_longer_than_the_api_takes_is_refused_with_a_clear_error(edge):
    with pytest.raises(client.InvalidTarget, match="longer than the worker's 2048"):
        client.purge(urls=["/" + "a" * 2100])


def test_a_raw_tag_with_a_comma_is_refused_not_sent(edge):
    with pytest.raises(client.InvalidTarget, match="printable ASCII without spaces or commas"):
        client.purge(tags=["a,b"])


def test_a_page_with_more_tags_than_the_worker_keeps_folds_them_into_the_model_tag(edge):
    from blog.models import Post, Tag

    news = Tag.objects.create(name="many")
    for i in range(80):
        post(f"M{i}").tags.add(news)
    assert Post.objects.count() == 80
    edge.fetch(f"/tags/{news.pk}/")
    edge.stored(f"/tags/{news.pk}/")
    held = inspect(edge, f"/tags/{news.pk}/")["tags"]
    assert held == [f"blog.tag:{news.pk}", "blog.post"]
