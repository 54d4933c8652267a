from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import routes


class Command(BaseCommand):
    help = (
        "Prints the [[vars.EDGECACHE.routes]] that the views decorated with edge_cache / "
        "never_edge_cache (or using EdgeCacheMixin) imply, in URLconf order, for wrangler.toml. "
        "With --diff FILE, says where that file's routes disagree with the code instead (exit 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--diff", metavar="WRANGLER_TOML", help="compare with this file's routes")
        parser.add_argument("--env", help="the [env.NAME] of the file to compare, or to print for")
        parser.add_argument("--json", action="store_true", help="print the routes as one line of JSON")
        parser.add_argument(
            "--policy", action="store_true", help="with --json: the policy object (bypass_cookies and routes), for EDGECACHE given as a JSON string"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        found = routes.found()
        unexpressed = [f for f in found if not f.path]
        for item in unexpressed:
            self.stderr.write(f"{item.view}: its URL pattern has no glob form (a regex); write its route by hand")
        rules = [routes.rule(f) for f in found if f.path]
        if options["diff"]:
            try:
                text = Path(options["diff"]).read_text()
                policy = routes.file_policy(text, options["env"])
                file = list(policy.get("routes", []))
            except (OSError, ValueError) as error:
                raise CommandError(f"{options['diff']}: {error}") from error
            notes = routes.site_diff(policy) + routes.diff(rules, file)
            for note in notes:
                self.stdout.write(note)
            if notes:
                raise CommandError(f"{len(notes)} difference(s) between the code and {options['diff']}")
            self.stdout.write(f"{options['diff']} agrees with the code ({len(rules)} routes)")
            return
        if options["json"]:
            import json

            self.stdout.write(json.dumps({**routes.site_settings(), "routes": rules} if options["policy"] else rules))
            return
        table = f"env.{options['env']}.vars.EDGECACHE.routes" if options["env"] else "vars.EDGECACHE.routes"
        self.stdout.write(routes.to_toml(rules, table), ending="")
