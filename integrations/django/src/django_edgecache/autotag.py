"""``EDGECACHE["AUTO_TAG"]``: every instance of a registered model that a request loads
(``DetailView.get_object``, ``get_object_or_404``, a queryset) tags its response."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_init

from . import conf, purging, tags


def _loaded(sender: Any, instance: Any, **_: Any) -> None:
    collector = tags.current()
    if collector is None or instance.pk is None or not purging.is_registered(sender):
        return
    if conf.get().auto_tag:
        collector.add(instance)


def connect() -> None:
    post_init.connect(_loaded, dispatch_uid="django_edgecache:autotag", weak=False)
