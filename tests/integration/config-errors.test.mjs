// A broken configuration: every request answered with a bare 500 that shows the public
// nothing, the broken rule named in the log (a password never), and the origin never asked.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup } from "../support/fixture.mjs";

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
      assert.match(logged[0], /EDGECACHE\.routes\[1\]\.ttl: 10 s is below Workers KV's 60 s minimum TTL/);
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
});
