"""Small helpers shared by the tests."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from blog.models import Post


def inspect(worker: Any, path: str, **headers: str) -> dict[str, Any]:
    """What the worker holds for ``path`` (its admin API's /inspect), the first tier holding it."""
    query = "url=" + quote(worker.url + path, safe="")
    for name, value in headers.items():
        query += "&header=" + quote(f"{name}:{value}", safe="")
    answer = worker.admin("GET", "/inspect?" + query)
    assert answer.status == 200, answer.body
    data = json.loads(answer.body)
    present = [t for t in data["tiers"] if t.get("present") and t.get("purge_standing") == "valid"]
    return present[0] if present else {}


def post(title: str = "First", **fields: Any) -> Post:
    return Post.objects.create(title=title, **fields)
