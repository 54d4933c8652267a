"""The worker's route rules that the decorated views imply, and where a wrangler.toml differs."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from .decorators import EdgePolicy, policy_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

_CONVERTER = re.compile(r"<(?:(?P<kind>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass
class Found:
    path: str
    view: str
    policy: EdgePolicy


def glob_of(route: str) -> str | None:
    """A Django ``path()`` route as the worker's path glob: ``<slug:s>`` is ``*`` (one
    segment), ``<path:p>`` ``**``. None when a converter shares a segment with text the glob
    could not express."""

    def convert(match: re.Match[str]) -> str:
        return "**" if match.group("kind") == "path" else "*"

    glob = _CONVERTER.sub(convert, route)
    return "/" + glob.lstrip("/")


def _regex_glob(regex: str) -> str | None:
    """A plain ``re_path`` (literal text only, ``^`` and ``$``) as a glob; None otherwise."""
    body = regex.lstrip("^").rstrip("$").replace("\\/", "/").replace("\\.", ".").replace("\\-", "-")
    return None if re.search(r"[\\()\[\]{}?*+|.^$]", body.replace(".", "")) else body


def _walk(resolver: URLResolver, prefix: str) -> Iterator[tuple[str | None, Any]]:
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            part: str | None = str(pattern._route)  # type: ignore[attr-defined]
        elif isinstance(pattern, RegexPattern):
            part = _regex_glob(str(pattern._regex))  # type: ignore[attr-defined]
        else:  # LocalePrefixPattern and others
            part = None
        here = None if part is None else prefix + _CONVERTER.sub(lambda m: "**" if m.group("kind") == "path" else "*", part)
        if isinstance(entry, URLResolver):
            if here is not None:
                yield from _walk(entry, here)
        elif isinstance(entry, URLPattern):
            yield here, entry.callback


def found() -> list[Found]:
    """Every URL pattern whose view has an edge policy, in resolution order."""
    out = []
    for path, callback in _walk(get_resolver(), ""):
        policy = policy_of(callback)
        if policy is None:
            continue
        name = getattr(callback, "__qualname__", repr(callback))
        view = f"{getattr(callback, '__module__', '?')}.{name}"
        if path is None:
            out.append(Found(path="", view=view, policy=policy))
        else:
            out.append(Found(path="/" + path.lstrip("/"), view=view, policy=policy))
    return out


def rule(found_route: Found) -> dict[str, Any]:
    """The route rule for one decorated view (only the fields it sets)."""
    policy = found_route.policy
    rule: dict[str, Any] = {"path": found_route.path}
    if policy.never:
        rule["bypass"] = True
        return rule
    if policy.ttl is not None:
        rule["ttl"] = int(policy.ttl)
    if policy.browser_ttl is not None:
        rule["browser_ttl"] = int(policy.browser_ttl)
    if policy.stale_while_revalidate:
        rule["stale_while_revalidate"] = int(policy.stale_while_revalidate)
    if policy.stale_if_error:
        rule["stale_if_error"] = int(policy.stale_if_error)
    if policy.vary_cookies:
        rule["vary_cookies"] = list(policy.vary_cookies)
    if policy.vary_headers:
        rule["vary_headers"] = list(policy.vary_headers)
    if policy.esi:
        rule["esi"] = True
        if policy.esi_includes:
            rule["esi_includes"] = list(policy.esi_includes)
    return rule


def site_settings() -> dict[str, Any]:
    """Top-level ``EDGECACHE`` settings the site implies: ``bypass_cookies`` with Django's
    session cookie, so a logged-in visitor's requests go to Django as sent and nothing they
    get is stored."""
    from django.conf import settings

    return {"bypass_cookies": [settings.SESSION_COOKIE_NAME]}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(rules: list[dict[str, Any]], table: str = "vars.EDGECACHE.routes") -> str:
    site = table.rsplit(".", 1)[0]
    blocks = [f"# In [{site}]: " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in site_settings().items())]
    for item in rules:
        lines = [f"[[{table}]]"] + [f"{key} = {_toml_value(value)}" for key, value in item.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def file_policy(text: str, env: str | None = None) -> dict[str, Any]:
    """The ``EDGECACHE`` policy of a wrangler.toml (of ``[env.<env>]`` when given), a table or
    a string of JSON."""
    import json

    data = tomllib.loads(text)
    if env:
        data = data.get("env", {}).get(env, {})
    policy = data.get("vars", {}).get("EDGECACHE", {})
    if isinstance(policy, str):
        policy = json.loads(policy)
    return dict(policy)


def file_routes(text: str, env: str | None = None) -> list[dict[str, Any]]:
    """The routes of a wrangler.toml's policy."""
    return list(file_policy(text, env).get("routes", []))


def diff(code: list[dict[str, Any]], file: list[dict[str, Any]]) -> list[str]:
    """Where the file's routes disagree with the code's, one sentence each."""
    notes = []
    by_path = {r.get("path"): (i, r) for i, r in enumerate(file)}
    for want in code:
        path = want["path"]
        if path not in by_path:
            notes.append(f"{path}: in the code, not in the file")
            continue
        index, have = by_path[path]
        for key, value in want.items():
            if have.get(key) != value:
                notes.append(f"{path}: {key} is {have.get(key)!r} in the file (routes[{index}]), {value!r} in the code")
        for key in ("ttl", "bypass", "esi", "vary_cookies", "vary_headers"):
            if key in have and key not in want:
                notes.append(f"{path}: {key} = {have[key]!r} in the file (routes[{index}]), not in the code")
    code_paths = [r["path"] for r in code]
    return notes + _order(code_paths, file)


def site_diff(file_policy: dict[str, Any]) -> list[str]:
    """Where the file's top-level settings lack what the site implies."""
    notes = []
    for key, value in site_settings().items():
        have = file_policy.get(key)
        missing = [v for v in value if v not in (have or [])]
        if missing:
            notes.append(f"{key}: the file's [vars.EDGECACHE] lacks {missing!r} (Django's session cookie: logged-in visitors would get shared pages)")
    return notes


def _order(code_paths: list[str], file: list[dict[str, Any]]) -> list[str]:
    notes = []
    file_order = [r.get("path") for r in file if r.get("path") in code_paths]
    if file_order != [p for p in code_paths if p in file_order]:
        notes.append("the file lists these routes in another order than the URLconf (first match wins)")
    return notes
