// Bad days: storage that fails, an origin that is down or breaks mid-body, a broken
// configuration, a forwarding loop. Each has a clear result; none is a 500 from a crash.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { setup, withOrigin, withWorker } from "../support/fixture.mjs";

describe("storage failures fall through to the origin", () => {
  const { origin } = withOrigin();

  it("serves from the origin when the KV binding is missing", async () => {
    const { worker } = await setup({ origin, kvNamespaces: [], config: { backends: ["kv"] } });
    try {
      for (const n of [1, 2]) {
        const got = await worker.fetch("/no-kv");
        assert.equal(got.status, 200);
        assert.equal(got.body, `/no-kv #${n}`);
        assert.equal(got.cacheStatus, "edgecache; fwd=miss; fwd-status=200; detail=storage-error");
      }
      assert.ok(worker.logs.some((l) => l.includes("EDGECACHE_KV")), "the missing binding is logged");
    } finally {
      await worker.dispose();
    }
  });

  it("keeps the working tiers when one tier fails on every call", async () => {
    // A binding of the wrong type: every KV call throws inside the runtime.
    const { worker } = await setup({ origin, kvNamespaces: [], bindings: { EDGECACHE_KV: { not: "a namespace" } }, config: { backends: ["memory", "kv"] } });
    try {
      const first = await worker.fetch("/half");
      assert.equal(first.status, 200);
      await worker.stored("/half");
      const second = await worker.fetch("/half");
      assert.match(second.cacheStatus, /; hit; .*detail=memory/);
      assert.equal(origin.count("/half", "GET"), 1);
      assert.ok(worker.logs.some((l) => l.includes("store-failed") || l.includes('"errors":["')), "the KV failures are logged");
    } finally {
      await worker.dispose();
    }
  });
});

describe("origin failures", () => {
  it("answers 502, uncached, when the origin refuses connections", async () => {
    const closed = net.createServer();
    await new Promise((r) => closed.listen(0, "127.0.0.1", r));
    const { port } = closed.address();
    await new Promise((r) => closed.close(r));
    const { worker } = await setup({ origin: { url: `http://127.0.0.1:${port}` }, config: { backends: ["memory"] } });
    try {
      const got = await worker.fetch("/down");
      assert.equal(got.status, 502);
      assert.match(got.body, /origin could not be reached/);
      assert.equal(got.headers.get("cache-control"), "no-store");
      assert.equal(got.cacheStatus, "edgecache; fwd=miss; detail=origin-unreachable");
      const post = await worker.fetch("/down", { method: "POST", body: "x" });
      assert.equal(post.status, 502);
    } finally {
      await worker.dispose();
    }
  });

  it("never stores a body the origin breaks off mid-stream", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory", "cache"] } });
    origin.onRaw("/reset", (req, res, record, n) => {
      if (n === 1) {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": "1000" });
        res.write("x".repeat(100));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": "1000" });
        res.end("y".repeat(1000));
      }
    });
    try {
      // Over real HTTP (dispatchFetch would hide the framing), the client sees the break.
      const broken = await new Promise((resolve) => {
        http.get(new URL("/reset", worker.url), (res) => {
          let bytes = 0;
          res.on("data", (chunk) => (bytes += chunk.length));
          res.on("end", () => resolve({ bytes, length: res.headers["content-length"], error: null }));
          res.on("error", (error) => resolve({ bytes, length: res.headers["content-length"], error }));
        });
      });
      assert.equal(broken.length, "1000", "the origin's Content-Length is kept");
      assert.ok(broken.error || broken.bytes < 1000, "the client can tell the body is short");
      await new Promise((r) => setTimeout(r, 200));
      const next = await worker.fetch("/reset");
      assert.equal(next.body, "y".repeat(1000));
      assert.match(next.cacheStatus, /fwd=miss/);
      assert.equal(origin.count("/reset", "GET"), 2);
    } finally {
      await dispose();
    }
  });
});

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

describe("loops", () => {
  it("stops a request that edgecache itself sent", async () => {
    const { origin, worker, dispose } = await setup();
    try {
      const got = await worker.fetch("/", { headers: { "x-edgecache-hop": "1" } });
      assert.equal(got.status, 508);
      assert.match(got.body, /forwarding loop/);
      assert.equal(origin.requests.length, 0);
    } finally {
      await dispose();
    }
  });
});

describe("conditional requests", () => {
  // The no-cache test below refreshes an entry stored moments ago, which by default is
  // answered from storage (client_refresh_interval; tested in hostile-world.test.mjs).
  const { origin, worker } = withWorker({ config: { backends: ["memory"], client_refresh_interval: 0 } });
  before(() => {
    origin.on("/tagged", { headers: { "cache-control": "max-age=60", etag: '"v1"', "last-modified": "Sun, 06 Nov 1994 08:49:37 GMT", "content-type": "text/plain" }, body: "tagged body" });
  });

  it("answers a matching If-None-Match on a miss with 304 and still stores the full response", async () => {
    const got = await worker.fetch("/tagged", { headers: { "if-none-match": '"v1"' } });
    assert.equal(got.status, 304);
    assert.equal(got.body, "");
    assert.equal(origin.last("/tagged").headers["if-none-match"], undefined, "validators are not sent on");
    await worker.stored("/tagged");
    const full = await worker.fetch("/tagged");
    assert.equal(full.status, 200);
    assert.equal(full.body, "tagged body");
  });

  it("answers validators from a fresh entry with 304, weakly compared", async () => {
    // fetch() adds Cache-Control: no-cache to conditional requests unless one is given.
    const plain = { "cache-control": "no-transform" };
    const weak = await worker.fetch("/tagged", { headers: { ...plain, "if-none-match": 'W/"v1"' } });
    assert.equal(weak.status, 304);
    assert.equal(weak.headers.get("etag"), '"v1"');
    assert.equal(weak.headers.get("content-type"), null, "a 304 carries no content headers");
    assert.match(weak.cacheStatus, /; hit;/);
    const since = await worker.fetch("/tagged", { headers: { ...plain, "if-modified-since": "Sun, 06 Nov 1994 08:49:37 GMT" } });
    assert.equal(since.status, 304);
    const other = await worker.fetch("/tagged", { headers: { ...plain, "if-none-match": '"v2"' } });
    assert.equal(other.status, 200);
    assert.equal(other.body, "tagged body");
    assert.equal(origin.count("/tagged", "GET"), 1);
  });

  it("goes to the origin when the request says no-cache, and refreshes the entry", async () => {
    const got = await worker.fetch("/tagged", { headers: { "cache-control": "no-cache" } });
    assert.equal(got.cacheStatus, "edgecache; fwd=request; fwd-status=200; stored");
    assert.equal(origin.count("/tagged", "GET"), 2);
  });
});
