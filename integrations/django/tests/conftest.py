"""Fixtures: the test project served by a real threaded server (pytest-django's live_server)
and the real built worker (build/index.js on workerd, through tests/support/serve.mjs) in
front of it, with the routes `manage.py edgecache_routes` prints for the project."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVE = ROOT / "tests" / "support" / "serve.mjs"
TOKEN = "test-admin-token"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    @property
    def cache_status(self) -> str:
        return self.headers.get("cache-status", "")

    @property
    def hit(self) -> bool:
        return "; hit" in self.cache_status


@dataclass
class Visitor:
    """A client with its own cookie jar."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)

    def fetch(self, path: str, method: str = "GET", body: str | None = None, headers: dict[str, str] | None = None) -> Answer:
        parts = urlsplit(self.base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        connection.close()
        for header in response.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return Answer(response.status, response.headers, text)


class Worker:
    def __init__(self, url: str, process: subprocess.Popen[str]) -> None:
        self.url = url
        self.process = process

    def visitor(self) -> Visitor:
        return Visitor(self.url)

    def fetch(self, path: str, **kwargs: Any) -> Answer:
        return self.visitor().fetch(path, **kwargs)

    def stored(self, path: str, timeout: float = 5.0, **kwargs: Any) -> Answer:
        """Waits until ``path`` is answered from storage (the worker stores after answering),
        probing with HEAD so the origin's GET counts stay exact."""
        deadline = time.monotonic() + timeout
        while True:
            probe = self.fetch(path, method="HEAD", **kwargs)
            if probe.hit:
                return probe
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} was not stored within {timeout} s: {probe.cache_status}")
            time.sleep(0.02)

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        return self.fetch(
            "/_edgecache" + path,
            method=method,
            body=json.dumps(body) if body is not None else None,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )


def node() -> str:
    found = os.environ.get("NODE") or shutil.which("node")
    if not found:
        pytest.fail("no node on PATH: run through `make test-django`, which puts the project's Node first")
    return found


def start_worker(origin: str, config: dict[str, Any]) -> Worker:
    if not (ROOT / "build" / "index.js").exists():
        pytest.fail("build/index.js is missing: `make build` (make test-django builds it first)")
    log = tempfile.NamedTemporaryFile("w", prefix="edgecache-worker-", suffix=".log", delete=False)
    options = {"origin": origin, "config": config, "bindings": {"ADMIN_TOKEN": TOKEN}}
    process = subprocess.Popen(
        [node(), str(SERVE), json.dumps(options)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        log.close()
        pytest.fail(f"the worker did not start:\n{Path(log.name).read_text()[-3000:]}")
    worker = Worker(json.loads(line)["url"], process)
    worker.log = log.name  # type: ignore[attr-defined]
    return worker


def stop_worker(worker: Worker) -> None:
    process = worker.process
    if process.poll() is None:
        process.terminate()  # this PID only
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def site_config() -> dict[str, Any]:
    from django_edgecache import routes

    rules = [routes.rule(f) for f in routes.found() if f.path]
    return {"key_prefix": "djtest", "backends": ["memory", "cache"], "routes": rules, **routes.site_settings()}


@pytest.fixture(scope="session")
def worker(live_server: Any) -> Any:
    running = start_worker(live_server.url, site_config())
    yield running
    stop_worker(running)


@pytest.fixture()
def edge(worker: Worker, settings: Any, transactional_db: Any) -> Worker:
    """The worker in front of the live server, emptied (a hard purge of everything), and the
    package pointed at it."""
    from blog import recording

    settings.EDGECACHE = {**settings.EDGECACHE, "URL": worker.url}
    # The public origin browsers post from (in production: the site's own address).
    settings.CSRF_TRUSTED_ORIGINS = [worker.url]
    answer = worker.admin("POST", "/purge", {"all": True})
    assert answer.status == 200, answer.body
    recording.requests.clear()
    return worker


def pytest_report_header(config: Any) -> str:
    import django

    return f"django-edgecache tests: Django {django.get_version()}, Python {sys.version.split()[0]}"
