from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import client


def _ratio(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:5.1f}%"


class Command(BaseCommand):
    help = "Prints the worker's hit ratio and requests per route and per host, from its stats API (last hour or day)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--window", choices=["hour", "day"], default="hour")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            stats = client.stats()
        except client.EdgecacheError as error:
            raise CommandError(str(error)) from error
        window = stats.get(options["window"], {})
        total = window.get("total", {})
        self.stdout.write(f"last {options['window']}: {total.get('requests', 0)} requests, hit ratio {_ratio(total.get('hit_ratio'))}")
        for kind in ("routes", "hosts"):
            rows = window.get(kind, [])
            if isinstance(rows, dict):
                rows = [{"name": name, **row} for name, row in rows.items()]
            self.stdout.write(f"\n{kind[:-1]:<40} {'requests':>9} {'hits':>7} {'hit ratio':>9}")
            for row in sorted(rows, key=lambda r: -int(r.get("requests", 0) or 0)):
                name = row.get("name") or row.get("route") or row.get("host") or "?"
                self.stdout.write(f"{str(name)[:40]:<40} {row.get('requests', 0):>9} {row.get('hits', row.get('hit', 0)):>7} {_ratio(row.get('hit_ratio')):>9}")
