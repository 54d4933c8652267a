"""{% edge_include %}: the same HTML inline and assembled by the worker; one fragment fetch
for many pages; the worker advertises ESI on ESI routes only."""

from __future__ import annotations

import pytest
from blog import recording
from django.test import Client
from helpers import post

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_page_reads_the_same_inline_and_assembled(edge):
    post("Side one")
    post("Side two")
    inline = Client().get("/pages/home/").content.decode()
    assert "<esi:include" not in inline and "Side two" in inline
    assembled = edge.fetch("/pages/home/")
    assert assembled.status == 200
    assert assembled.body == inline
    assert "/fragments/sidebar/" in assembled.headers.get("edgecache-fragments", "")
    shell = recording.last("/pages/home/")
    assert shell["headers"]["surrogate-capability"] == 'edgecache="Surrogate/1.0 ESI/1.0"'


def test_the_fragment_is_fetched_once_for_many_pages(edge):
    post("Shared")
    for name in ("a", "b", "c"):
        edge.fetch(f"/pages/{name}/")
        edge.stored("/fragments/sidebar/")
    for name in ("a", "b", "c"):
        assert "Shared" in edge.fetch(f"/pages/{name}/").body
    assert recording.count("/fragments/sidebar/") == 1
    assert recording.count("/pages/a/") == 1


def test_a_route_without_esi_is_not_told_esi(edge):
    post("Plain")
    edge.fetch("/plain/")
    assert recording.last("/plain/")["headers"]["surrogate-capability"] == 'edgecache="Surrogate/1.0"'


def test_saving_a_post_refreshes_the_fragment_on_every_page(edge):
    first = post("Old title")
    for name in ("a", "b"):
        edge.fetch(f"/pages/{name}/")
    edge.stored("/fragments/sidebar/")
    first.title = "New title"
    first.save()
    for name in ("a", "b"):
        assert "New title" in edge.fetch(f"/pages/{name}/").body
    assert recording.count("/fragments/sidebar/") == 2
