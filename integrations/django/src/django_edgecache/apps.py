from __future__ import annotations

from django.apps import AppConfig


class EdgecacheConfig(AppConfig):
    name = "django_edgecache"
    verbose_name = "edgecache"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import autotag, checks  # noqa: F401  (registers the system checks)

        autotag.connect()
