from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import client

COUNTS = ("hits", "stale", "misses", "bypasses")


def requests_of(counters: dict[str, Any]) -> int:
    return sum(int(counters.get(k, 0) or 0) for k in COUNTS)


def line(name: str, counters: dict[str, Any]) -> str:
    ratio = float(counters.get("hit_ratio", 0.0) or 0.0) * 100
    cells = " ".join(f"{int(counters.get(k, 0) or 0):>8}" for k in COUNTS)
    return f"{name[:48]:<48} {requests_of(counters):>8} {cells} {ratio:>8.1f}%"


class Command(BaseCommand):
    help = (
        "Prints the worker's requests, hits, stale answers, misses, bypasses and hit ratio (hits and "
        "stale answers over the requests that could be served from storage), in total, per route "
        "and per host, busiest first, from its stats API (GET <admin_path>/stats)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--window", choices=["hour", "day"], default="hour", help="the last hour (default) or day")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            stats = client.stats()
        except client.EdgecacheError as error:
            raise CommandError(str(error)) from error
        window = stats.get(options["window"]) or {}
        header = f"{'':<48} {'requests':>8} " + " ".join(f"{k:>8}" for k in COUNTS) + f" {'hit ratio':>9}"
        self.stdout.write(f"edgecache, the last {options['window']}")
        self.stdout.write(header)
        self.stdout.write(line("total", window.get("total") or {}))
        for kind, title in (("routes", "route"), ("hosts", "host")):
            rows: dict[str, dict[str, Any]] = window.get(kind) or {}
            self.stdout.write(f"\nper {title}")
            for name, counters in sorted(rows.items(), key=lambda item: -requests_of(item[1])):
                self.stdout.write(line(name or "(no rule)", counters))
