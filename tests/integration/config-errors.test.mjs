// A broken configuration: every request answered with a bare 500 that shows the public
// nothing, every broken rule named in the log (a password never), and the origin never asked;
// under make dev (EDGECACHE_DEV=1, a loopback host) the errors on the error page; and
// `make check CONFIG=file` naming every problem of another file.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setup } from "../support/fixture.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("configuration errors", () => {
  const configErrors = (worker) => worker.logs.filter((l) => l.includes('"edgecache":"config-error"'));

  it("answers every request with a bare 500, names the broken rule in the log, and never asks the origin", async () => {
    const { origin, worker, dispose } = await setup({
      config: { routes: [{ path: "/" }, { path: "/kv/**", backends: ["kv"], ttl: 10 }] },
      bindings: { ADMIN_TOKEN: "t" },
    });
    try {
      for (const target of ["/", "/kv/x", "/_edgecache/stats"]) {
        const got = await worker.fetch(target, { headers: { authorization: "Bearer t" } });
        assert.equal(got.status, 500);
        assert.equal(got.body, "edgecache: internal configuration error\n");
        assert.equal(got.cacheStatus, "edgecache; fwd=bypass; detail=config-error");
      }
      assert.equal(origin.requests.length, 0);
      const logged = configErrors(worker);
      assert.equal(logged.length, 3, "one line per request");
      assert.match(logged[0], /EDGECACHE\.routes\[\\"\/kv\/\*\*\\"\]\.ttl: 10 s is below Workers KV's 60 s minimum TTL/, "the route is named by its path");
      assert.match(logged[0], /make check/);
    } finally {
      await dispose();
    }
  });

  it("rejects an ORIGIN that is not a bare http(s) URL, saying why in the log only", async () => {
    const { worker } = await setup({ origin: null, bindings: { ORIGIN: "ftp://files.test" } });
    try {
      const got = await worker.fetch("/");
      assert.equal(got.status, 500);
      assert.doesNotMatch(got.body, /ORIGIN|ftp|files\.test/);
      assert.match(configErrors(worker).join("\n"), /ORIGIN: \\"ftp:\/\/files.test\\" must be an http:\/\/ or https:\/\/ URL/);
    } finally {
      await worker.dispose();
    }
  });

  it("shows the public none of the details, and the log all of them but a password", async () => {
    for (const [bindings, config, expected] of [
      [{}, { key_prefix: "a:b", routes: [{ path: "/private-area/**" }] }, /key_prefix/],
      [{ ORIGIN: "https://user:s3cret-pass@origin.test/private-area" }, {}, /ORIGIN: \\"https:\/\/\*@origin\.test\/private-area\\" must not have a path/],
    ]) {
      const { worker } = await setup({ origin: null, config, bindings });
      try {
        const got = await worker.fetch("/private-area/x");
        assert.equal(got.status, 500);
        for (const detail of ["key_prefix", "a:b", "EDGECACHE", "ORIGIN", "private-area", "wrangler", "make check", "origin.test", "s3cret"]) {
          assert.ok(!got.body.includes(detail), `${detail} in the body: ${got.body}`);
          assert.ok(!JSON.stringify([...got.headers]).includes(detail), `${detail} in a header`);
        }
        const logged = configErrors(worker).join("\n");
        assert.match(logged, expected);
        assert.match(logged, /make check/);
        assert.ok(!worker.logs.some((l) => l.includes("s3cret")), "the password is in no log line");
      } finally {
        await worker.dispose();
      }
    }
  });

  it("accepts the policy as a JSON string too", async () => {
    const { worker, dispose } = await setup({ config: JSON.stringify({ routes: [{ path: "/**", bypass: true }] }) });
    try {
      assert.match((await worker.fetch("/x")).cacheStatus, /detail=route-bypass/);
    } finally {
      await dispose();
    }
  });

  const BROKEN = {
    defualt_ttl: 60,
    routes: [
      { path: "/api/**", ttl: "1h" },
      { path: "/static/**", ttl: 86400, vary_cookie: ["lang"] },
    ],
  };
  const EXPECTED = [
    "EDGECACHE.defualt_ttl: unknown field; did you mean `default_ttl`?",
    'EDGECACHE.routes["/api/**"].ttl: takes seconds, a whole number; got the string "1h" (write 3600, no quotes)',
    'EDGECACHE.routes["/static/**"].vary_cookie: unknown field; did you mean `vary_cookies`?',
  ];

  it("logs every error at once, each with its field and its route's path, in the user's terms", async () => {
    const { origin, worker, dispose } = await setup({ config: BROKEN });
    try {
      const got = await worker.fetch("/static/x");
      assert.equal(got.status, 500);
      assert.equal(got.body, "edgecache: internal configuration error\n");
      const logged = JSON.parse(configErrors(worker)[0]);
      assert.deepEqual(logged.error.split("\n"), EXPECTED);
      assert.equal(origin.requests.length, 0);
    } finally {
      await dispose();
    }
  });

  it("shows the errors on the error page under make dev on 127.0.0.1, and to no one else", async () => {
    const { worker, dispose } = await setup({ config: BROKEN, bindings: { EDGECACHE_DEV: "1" } });
    try {
      for (const url of ["http://127.0.0.1:8787/static/x", "http://localhost/"]) {
        const local = await worker.fetch(url);
        assert.equal(local.status, 500);
        assert.match(local.cacheStatus, /detail=config-error/);
        for (const line of EXPECTED) assert.ok(local.body.includes(line), `${line} on ${url}'s page:\n${local.body}`);
        assert.match(local.body, /make check/);
      }
      for (const url of ["http://edge.test/static/x", "http://127.0.0.1.nip.io/x", "http://10.0.0.1/x"]) {
        const got = await worker.fetch(url);
        assert.equal(got.body, "edgecache: internal configuration error\n", `${url} is not the developer's machine`);
      }
    } finally {
      await dispose();
    }
    const { worker: deployed, dispose: stop } = await setup({ config: BROKEN });
    try {
      const got = await deployed.fetch("http://127.0.0.1/static/x");
      assert.equal(got.body, "edgecache: internal configuration error\n", "without EDGECACHE_DEV, a loopback host alone shows nothing");
    } finally {
      await stop();
    }
  });

  it("names every problem of another file with make check CONFIG=file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "edgecache-check-"));
    try {
      const file = path.join(dir, "broken.toml");
      await writeFile(
        file,
        [
          'name = "x"',
          "[vars]",
          'ORIGIN = "ftp://files.test"',
          "[vars.EDGECACHE]",
          "defualt_ttl = 60",
          "[[vars.EDGECACHE.routes]]",
          'path = "/api/**"',
          'ttl = "1h"',
          "[[vars.EDGECACHE.routes]]",
          'path = "/static/**"',
          "ttl = 86400",
          'vary_cookie = ["lang"]',
          "[[vars.EDGECACHE.routes]]",
          'path = "/blog/**"',
          "[[vars.EDGECACHE.routes]]",
          'path = "/blog/feed"',
          "",
        ].join("\n"),
      );
      const { code, stdout, stderr } = await new Promise((resolve) => {
        execFile("make", ["--no-print-directory", "check", `CONFIG=${file}`], { cwd: root }, (error, stdout, stderr) => resolve({ code: error?.code ?? 0, stdout, stderr }));
      });
      assert.notEqual(code, 0, "a broken file fails make check");
      const problems = stderr.split("\n").filter((l) => l.startsWith(`${file} [vars]: `) && !l.includes("note:")).map((l) => l.slice(`${file} [vars]: `.length));
      assert.deepEqual(problems.slice(0, 4), [...EXPECTED, 'ORIGIN: "ftp://files.test" must be an http:// or https:// URL with a host'], stderr);
      // What is valid of it is warned about at the same time: every mistake at once.
      assert.ok(
        problems.includes('warning: EDGECACHE.routes["/blog/feed"] never applies: routes["/blog/**"] comes first and matches every request it does (the first matching rule wins); move it above, or remove it'),
        stderr,
      );
      assert.ok(!stdout.includes("wrangler.toml"), "the file named, not wrangler.toml");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("warns with make check about rules that can never apply, naming both, and still passes", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "edgecache-check-"));
    try {
      const file = path.join(dir, "shadowed.toml");
      const wrangler = await readFile(path.join(root, "wrangler.toml"), "utf8");
      // The repository's own file (its bindings and migrations), with three route rules at the
      // top level, just before [env.demo].
      const routes = ['path = "/admin/**"\nbypass = true', 'path = "/admin/login"\nttl = 60', 'path = "/a%2fb"'];
      const tables = routes.map((r) => `[[vars.EDGECACHE.routes]]\n${r}\n`).join("");
      assert.match(wrangler, /^\[env\.demo\]$/m);
      await writeFile(file, wrangler.replace(/^\[env\.demo\]$/m, `${tables}\n[env.demo]`));
      const { code, stderr } = await new Promise((resolve) => {
        execFile("make", ["--no-print-directory", "check", `CONFIG=${file}`], { cwd: root }, (error, stdout, stderr) => resolve({ code: error?.code ?? 0, stdout, stderr }));
      });
      assert.equal(code, 0, stderr);
      const warnings = stderr.split("\n").filter((l) => l.startsWith(`${file} [vars]: warning: EDGECACHE.routes`));
      assert.deepEqual(
        warnings.map((l) => l.slice(`${file} [vars]: warning: `.length)),
        [
          'EDGECACHE.routes["/admin/login"] never applies: routes["/admin/**"] comes first and matches every request it does (the first matching rule wins); move it above, or remove it',
          'EDGECACHE.routes["/a%2fb"] never applies: paths are compared with escapes in upper case: write %2F',
        ],
        stderr,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
