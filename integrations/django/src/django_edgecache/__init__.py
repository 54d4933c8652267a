"""django-edgecache: drive the edgecache worker from Django views, models and templates.

    from django_edgecache import edge_cache, never_edge_cache, tag, register, purge
"""

from __future__ import annotations

from typing import Any

__all__ = ["edge_cache", "never_edge_cache", "EdgeCacheMixin", "tag", "register", "purge", "purge_queryset", "paused"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the package does not import Django's models before apps load.
    if name in ("edge_cache", "never_edge_cache", "EdgeCacheMixin"):
        from . import decorators

        return getattr(decorators, name)
    if name == "tag":
        from .tags import tag

        return tag
    if name in ("register", "purge_queryset", "paused"):
        from . import purging

        return getattr(purging, name)
    if name == "purge":
        from .client import purge

        return purge
    raise AttributeError(name)
