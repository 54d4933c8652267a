"""manage.py edgecache_routes: the routes the decorated views imply, accepted by `make check`."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from conftest import ROOT

from django_edgecache import routes


def printed(*args: str) -> str:
    out = io.StringIO()
    call_command("edgecache_routes", *args, stdout=out)
    return out.getvalue()


def test_the_routes_follow_the_urlconf_and_the_decorators():
    assert printed().startswith('# In [vars.EDGECACHE]: bypass_cookies = ["sessionid"]\n')
    rules = routes.file_routes(printed())
    by_path = {r["path"]: r for r in rules}
    assert by_path["/posts/*/"] == {"path": "/posts/*/", "ttl": 300}
    assert by_path["/never/"] == {"path": "/never/", "bypass": True}
    assert by_path["/edgecache/csrf/"] == {"path": "/edgecache/csrf/", "bypass": True}
    assert by_path["/about/"]["vary_headers"] == ["accept-language"]
    assert by_path["/pages/*/"] == {"path": "/pages/*/", "ttl": 300, "esi": True, "esi_includes": ["/fragments/**"]}
    assert by_path["/cbv/posts/*/"]["ttl"] == 120
    assert "/plain/" not in by_path


def cargo() -> str:
    found = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    if not Path(found).exists():
        pytest.fail("cargo is needed to run edgecache-check (make check)")
    return found


def test_the_printed_routes_pass_make_check(tmp_path):
    wrangler = tmp_path / "wrangler.toml"
    wrangler.write_text((ROOT / "wrangler.toml").read_text() + "\n" + printed())
    result = subprocess.run(
        [cargo(), "run", "--quiet", "--features", "check", "--bin", "edgecache-check", "--", str(wrangler)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The check really reads them: a broken glob in the same place fails.
    broken = tmp_path / "broken.toml"
    broken.write_text(wrangler.read_text() + '\n[[vars.EDGECACHE.routes]]\npath = "no-slash"\n')
    failed = subprocess.run(
        [cargo(), "run", "--quiet", "--features", "check", "--bin", "edgecache-check", "--", str(broken)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert failed.returncode != 0


def test_diff_says_where_the_file_disagrees(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[vars.EDGECACHE]\nbypass_cookies = ["sessionid"]\n\n' + printed())
    assert "agrees with the code" in printed("--diff", str(good))
    bad = tmp_path / "bad.toml"
    bad.write_text(printed().replace("ttl = 120", "ttl = 30").replace('path = "/never/"\nbypass = true', 'path = "/never/"\nttl = 5'))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("edgecache_routes", "--diff", str(bad), stdout=out)
    notes = out.getvalue()
    assert "/cbv/posts/*/: ttl is 30 in the file" in notes
    assert "/never/: bypass is None in the file" in notes
    assert "bypass_cookies: the file's [vars.EDGECACHE] lacks ['sessionid']" in notes
