"""Purges that could not be sent, kept for ``manage.py edgecache_replay``."""

from __future__ import annotations

from django.db import models


class FailedPurge(models.Model):
    """One purge request body (as the admin API takes it) that failed after every retry."""

    body = models.JSONField()
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"purge {self.body} ({self.error})"
