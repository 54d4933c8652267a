from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import client, conf
from ...tags import encode


class Command(BaseCommand):
    help = (
        "Purges the edgecache worker now: URLs (paths are made absolute with EDGECACHE['SITE_URL']), "
        "path or URL prefixes, tags, or everything. Soft purges serve matching entries stale once more "
        "while one refresh goes to the origin. Prints the worker's answer per target."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", action="append", default=[], help="a URL or path (repeatable)")
        parser.add_argument("--prefix", action="append", default=[], help="a path or URL prefix (repeatable)")
        parser.add_argument("--tag", action="append", default=[], help="a tag, as your code names it: encoded as pages are tagged (repeatable)")
        parser.add_argument("--all", action="store_true", help="everything the worker stores")
        soft = parser.add_mutually_exclusive_group()
        soft.add_argument("--soft", action="store_true", default=None, help="soft purge (default: EDGECACHE['SOFT'])")
        soft.add_argument("--hard", dest="soft", action="store_false", help="hard purge")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["url"] or options["prefix"] or options["tag"] or options["all"]):
            raise CommandError("nothing to purge: give --url, --prefix, --tag or --all")
        soft = conf.get().soft if options["soft"] is None else options["soft"]
        prefix = conf.get().tag_prefix
        try:
            answers = client.purge(
                urls=options["url"],
                prefixes=options["prefix"],
                tags=[encode(prefix + t) for t in options["tag"]],
                all=options["all"],
                soft=soft,
            )
        except client.EdgecacheError as error:
            raise CommandError(str(error)) from error
        for answer in answers:
            for result in answer.get("results", []):
                self.stdout.write(f"{result.get('type')} {result.get('target')}: {result.get('effect')}")
            if answer.get("all"):
                self.stdout.write("everything: purged")
        self.stdout.write(self.style.SUCCESS(f"{len(answers)} purge request(s) sent ({'soft' if soft else 'hard'})"))
        if options["verbosity"] > 1:
            self.stdout.write(json.dumps(answers, indent=2))
