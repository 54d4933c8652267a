from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import purging
from ...models import FailedPurge


class Command(BaseCommand):
    help = (
        "Sends again the purges that could not be sent when content changed (the worker was down "
        "or answered 5xx), merged into as few requests as the API allows; deletes those sent. "
        "Exits 1 when some still fail. Run it from cron, or after an outage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--list", action="store_true", help="only list what is waiting")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for row in FailedPurge.objects.all():
                self.stdout.write(f"#{row.pk} {row.created:%Y-%m-%d %H:%M:%S} tries={row.attempts} {row.body} ({row.error})")
            return
        sent, failing = purging.replay()
        self.stdout.write(f"{sent} kept purge(s) sent, {failing} still failing")
        if failing:
            raise CommandError(f"{failing} purge(s) could not be sent; they are kept")
