"""Tags: what names a page's content, in the form the worker accepts.

The worker keeps tags of 1 to 1,024 bytes of printable ASCII without spaces or commas
(``check_tag`` in core/src/config/fields.rs), at most 64 per stored response, and refuses a
purge request with any other tag. Tags made from model fields can hold anything, so every tag
goes through :func:`encode`: characters outside a safe set are percent-encoded (UTF-8), and a
tag that is still too long keeps its start and ends with a digest of the whole, so two
different long tags never meet. The page and the purge compute the same string, so what a page
was tagged with is what a save purges.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from django.db import models

from . import conf

logger = logging.getLogger("django_edgecache")

#: Longest tag the worker accepts, in bytes.
MAX_TAG_BYTES = 1024
#: Tags longer than this are shortened with a digest (well inside the worker's limit, so that
#: 64 of them still make a reasonable header).
LONG_TAG = 200
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/@!$&'()*+;=")


class TagError(ValueError):
    """A tag that cannot be made (an empty one)."""


def encode(tag: str) -> str:
    """``tag`` as the worker accepts it: printable ASCII, no space or comma, 1 to 200 bytes."""
    if not isinstance(tag, str) or tag == "":
        raise TagError(f"a tag must be a non-empty string, not {tag!r}")
    out = "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in tag)
    if len(out) > LONG_TAG:
        digest = hashlib.sha256(tag.encode("utf-8")).hexdigest()[:32]
        head = out[: LONG_TAG - 34]
        cut = head.rfind("%", len(head) - 2)
        out = (head[:cut] if cut >= 0 else head) + "~h" + digest
    return out


def model_tag(model: type[models.Model] | models.Model) -> str:
    """The tag of every page that lists a model's objects: ``blog.post``."""
    meta = model._meta
    return encode(f"{conf.get().tag_prefix}{meta.label_lower}")


def instance_tag(obj: models.Model) -> str:
    """The tag of every page that shows one object: ``blog.post:42``."""
    return encode(f"{conf.get().tag_prefix}{obj._meta.label_lower}:{obj.pk}")


def tags_of(thing: Any) -> list[str]:
    """Tags for a string (encoded), a model instance, a model class, or a queryset (its model)."""
    if isinstance(thing, str):
        return [encode(conf.get().tag_prefix + thing)]
    if isinstance(thing, models.Model):
        own = getattr(thing, "edgecache_tags", None)
        extra = [encode(conf.get().tag_prefix + t) for t in own()] if callable(own) else []
        return [instance_tag(thing), *extra]
    if isinstance(thing, type) and issubclass(thing, models.Model):
        return [model_tag(thing)]
    if isinstance(thing, models.QuerySet):
        return [model_tag(thing.model)]
    raise TagError(f"cannot tag {thing!r}: give a string, a model instance, a model or a queryset")


class Collector:
    """The tags gathered while one response is built."""

    def __init__(self) -> None:
        self.tags: dict[str, None] = {}
        # instance tag -> its model's tag, for folding when there are too many.
        self.folds: dict[str, str] = {}

    def add(self, thing: Any) -> None:
        if isinstance(thing, models.Model) and not isinstance(thing, type):
            fold = model_tag(thing)
            for tag in tags_of(thing):
                self.tags.setdefault(tag)
                self.folds[tag] = fold
        else:
            for tag in tags_of(thing):
                self.tags.setdefault(tag)


_current: contextvars.ContextVar[Collector | None] = contextvars.ContextVar("edgecache_tags", default=None)


def tag(*things: Any) -> None:
    """Tags the response being built with ``things`` (strings, instances, models, querysets).

    Needs ``django_edgecache.middleware.EdgecacheMiddleware``; outside a request it does nothing.
    """
    collector = _current.get()
    if collector is None:
        return
    for thing in things:
        collector.add(thing)


def start() -> tuple[Collector, contextvars.Token[Collector | None]]:
    collector = Collector()
    return collector, _current.set(collector)


def stop(token: contextvars.Token[Collector | None]) -> None:
    _current.reset(token)


def current() -> Collector | None:
    return _current.get()


def fit(tags: Iterable[str], folds: dict[str, str], limit: int) -> list[str]:
    """At most ``limit`` tags: the instance tags of the model with the most of them are folded
    into that model's tag (which every save of the model purges), then the next model's, until
    they fit, so a page is purged too often, never too seldom."""
    kept = list(dict.fromkeys(tags))
    groups: dict[str, int] = {}
    for tag in kept:
        if tag in folds and folds[tag] != tag:
            groups[folds[tag]] = groups.get(folds[tag], 0) + 1
    folded_models: set[str] = set()
    for model in sorted(groups, key=lambda m: -groups[m]):
        if len(kept) <= limit:
            break
        folded_models.add(model)
        kept = list(dict.fromkeys(folds[t] if folds.get(t) == model else t for t in kept))
    if len(kept) > limit:
        raise TagError(
            f"{len(kept)} tags after folding instance tags into model tags: more than the "
            f"worker keeps ({limit}); tag the page with fewer, broader tags"
        )
    if folded_models:
        logger.info("edgecache: instance tags of %s folded into their model tags", ", ".join(sorted(folded_models)))
    return kept


def header_tags(value: str | None) -> list[str]:
    """Tags already in a ``Cache-Tag`` field."""
    return [t.strip() for t in (value or "").split(",") if t.strip()]
