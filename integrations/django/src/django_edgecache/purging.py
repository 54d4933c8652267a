"""Purges after commit: what a registered model's save, delete or many-to-many change sends.

Every change inside one transaction joins one :class:`Batch`, sent once by
``transaction.on_commit`` (as few requests as the API's 100 items of each kind allow: one for
an ordinary save); a rolled-back transaction drops its callback, so nothing is sent. Sending
never raises into the editor's request: a purge that still fails after ``RETRIES`` tries is
logged, counted in :data:`counters` and kept in the database (:class:`FailedPurge`) for
``manage.py edgecache_replay``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from . import client, conf
from .tags import instance_tag, model_tag, tags_of

logger = logging.getLogger("django_edgecache")

#: Purge requests sent, failed (kept for replay) and refused (a target the worker would never
#: take), since the process started.
counters: dict[str, int] = {"sent": 0, "failed": 0, "refused": 0}
_lock = threading.Lock()

TagsFor = Callable[[Any], Iterable[str]]
_registry: dict[type[models.Model], dict[str, Any]] = {}


def targets(obj: models.Model) -> client.Purge:
    """What a change of ``obj`` purges: its instance tag, its model's tag, the tags its
    ``edgecache_tags()`` gives, and the URLs its registration's ``urls`` gives."""
    options = _registry.get(type(obj)) or _registry.get(obj._meta.concrete_model or type(obj)) or {}
    tags = [model_tag(obj), *tags_of(obj)]
    extra = options.get("tags")
    if extra:
        tags += [t for item in extra(obj) for t in tags_of(item)]
    urls_of = options.get("urls")
    urls = list(urls_of(obj)) if urls_of else []
    return client.Purge(tags=list(dict.fromkeys(tags)), urls=urls)


class Batch:
    """The purges of one transaction, sent once when it commits."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.purge = client.Purge(soft=conf.get().soft)

    def __call__(self) -> None:
        if conf.get().send == "thread":
            threading.Thread(target=deliver, args=(self.purge,), daemon=True).start()
        else:
            deliver(self.purge)


def _pending(using: str) -> Batch | None:
    """The batch whose on_commit callback is still waiting on this connection, if any."""
    connection = transaction.get_connection(using)
    for entry in reversed(connection.run_on_commit):
        callback = entry[1]
        if isinstance(callback, Batch):
            return callback
    return None


_paused = threading.local()


@contextmanager
def paused() -> Iterator[None]:
    """Within it, this thread's model changes purge nothing (loading fixtures or demo data
    into a site whose pages the edge does not hold yet). Purge yourself afterwards if needed."""
    before = getattr(_paused, "on", False)
    _paused.on = True
    try:
        yield
    finally:
        _paused.on = before


def schedule(purge: client.Purge, using: str = DEFAULT_DB_ALIAS) -> None:
    """Adds ``purge`` to this transaction's batch (sent on commit; at once outside one)."""
    if getattr(_paused, "on", False):
        return
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        batch = Batch(using)
        batch.purge.add(purge)
        batch()
        return
    pending = _pending(using)
    if pending is None:
        pending = Batch(using)
        transaction.on_commit(pending, using=using)
    pending.purge.add(purge)


def deliver(purge: client.Purge) -> bool:
    """Sends ``purge`` now; never raises. False when it failed (then logged and kept)."""
    if purge.empty():
        return True
    clear_django_caches()
    try:
        client.send(purge)
    except client.InvalidTarget as error:
        with _lock:
            counters["refused"] += 1
        logger.error("edgecache: purge refused, not sent: %s", error)
        return False
    except Exception as error:  # noqa: BLE001 - the editor's request must not fail
        with _lock:
            counters["failed"] += 1
        logger.error("edgecache: purge failed, kept for `manage.py edgecache_replay`: %s", error)
        _keep(purge, str(error))
        return False
    with _lock:
        counters["sent"] += 1
    return True


def clear_django_caches() -> None:
    """Clears the Django caches named in ``DJANGO_CACHES`` (pages cached there too)."""
    from django.core.cache import caches

    for alias in conf.get().django_caches:
        try:
            caches[alias].clear()
        except Exception as error:  # noqa: BLE001
            logger.error("edgecache: could not clear Django's cache %r: %s", alias, error)


def _keep(purge: client.Purge, error: str) -> None:
    from .models import FailedPurge

    try:
        FailedPurge.objects.create(body=purge.body(), error=error[:1000])
    except Exception as db_error:  # noqa: BLE001
        logger.error("edgecache: could not keep the failed purge %s: %s", purge.body(), db_error)


def replay() -> tuple[int, int]:
    """Sends every kept purge again, oldest first, in as few requests as the API allows;
    deletes those sent. Returns (sent, still failing)."""
    from .models import FailedPurge

    kept = list(FailedPurge.objects.order_by("id"))
    if not kept:
        return 0, 0
    by_softness: dict[bool, tuple[client.Purge, list[int]]] = {}
    for row in kept:
        purge = client.Purge.from_body(row.body)
        merged, ids = by_softness.setdefault(purge.soft, (client.Purge(soft=purge.soft), []))
        merged.add(purge)
        ids.append(row.pk)
    sent = failing = 0
    for merged, ids in by_softness.values():
        try:
            client.send(merged)
        except client.EdgecacheError as error:
            failing += len(ids)
            FailedPurge.objects.filter(pk__in=ids).update(error=str(error)[:1000], attempts=models.F("attempts") + 1)
            continue
        FailedPurge.objects.filter(pk__in=ids).delete()
        sent += len(ids)
    return sent, failing


def _on_save(sender: type[models.Model], instance: models.Model, using: str, **_: Any) -> None:
    schedule(targets(instance), using)


def _on_delete(sender: type[models.Model], instance: models.Model, using: str, **_: Any) -> None:
    schedule(targets(instance), using)


def _related_pks(through: type[models.Model], instance: models.Model, model: type[models.Model]) -> set[Any]:
    """The pks of ``model`` objects that ``through`` links to ``instance`` (before a clear)."""
    for owner in (type(instance), model):
        for m2m in owner._meta.many_to_many:
            if not isinstance(m2m, models.ManyToManyField) or m2m.remote_field.through is not through:
                continue
            forward = isinstance(instance, m2m.model)
            source, target = (
                (m2m.m2m_field_name(), m2m.m2m_reverse_field_name())
                if forward
                else (m2m.m2m_reverse_field_name(), m2m.m2m_field_name())
            )
            return set(through._default_manager.filter(**{source: instance.pk}).values_list(target, flat=True))
    return set()


def _on_m2m(sender: Any, instance: models.Model, action: str, model: type[models.Model], pk_set: set[Any] | None, using: str, **_: Any) -> None:
    if action == "pre_clear":
        # After the clear the links are gone: remember whom they named.
        instance._edgecache_cleared = _related_pks(sender, instance, model)  # type: ignore[attr-defined]
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = getattr(instance, "_edgecache_cleared", set())
    purge = targets(instance) if is_registered(type(instance)) else client.Purge()
    if is_registered(model):
        purge.tags.append(model_tag(model))
        for pk in pk_set or ():
            purge.tags.append(instance_tag(model(pk=pk)))
    if purge.tags or purge.urls:
        purge.tags = list(dict.fromkeys(purge.tags))
        schedule(purge, using)


def register(
    model: type[models.Model],
    *,
    tags: TagsFor | None = None,
    urls: Callable[[Any], Iterable[str]] | None = None,
) -> type[models.Model]:
    """Purges what shows ``model``'s objects whenever one is saved, deleted or has a
    many-to-many relation changed, after the transaction commits.

    ``tags(obj)`` adds tags (strings, instances, models) beyond the instance's and the
    model's; ``urls(obj)`` adds URLs or paths. Usable as a class decorator.
    """
    _registry[model] = {"tags": tags, "urls": urls}
    uid = f"django_edgecache:{model._meta.label_lower}"
    post_save.connect(_on_save, sender=model, dispatch_uid=uid + ":save", weak=False)
    post_delete.connect(_on_delete, sender=model, dispatch_uid=uid + ":delete", weak=False)
    for m2m in model._meta.many_to_many:
        through = getattr(m2m.remote_field, "through", None)
        if through is not None:
            m2m_changed.connect(_on_m2m, sender=through, dispatch_uid=f"{uid}:m2m:{m2m.name}", weak=False)
    return model


def registered() -> list[type[models.Model]]:
    return list(_registry)


def is_registered(model: type[models.Model]) -> bool:
    return model in _registry


def purge_queryset(queryset: models.QuerySet[Any], using: str | None = None) -> None:
    """After ``queryset.update(...)`` (which sends no signals): purges every object of it and
    its model's tag, after commit, in as few requests as the API allows."""
    purge = client.Purge(tags=[model_tag(queryset.model)])
    for obj in queryset.only("pk"):
        purge.tags.append(instance_tag(obj))
    schedule(purge, using or queryset.db)
