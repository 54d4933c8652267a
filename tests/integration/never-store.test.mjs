// Everything RFC 9111 (and edgecache's own privacy rule) says a shared cache must never
// store: each case is asked for twice and must reach the origin twice.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

const cases = [
  { name: "Cache-Control: no-store", reason: "no-store", response: { headers: { "cache-control": "no-store, max-age=60" } } },
  { name: "Cache-Control: private", reason: "private", response: { headers: { "cache-control": "private, max-age=60" } } },
  { name: "Set-Cookie", reason: "set-cookie", response: { headers: { "cache-control": "public, max-age=60", "set-cookie": "session=abc" } } },
  { name: "Vary: *", reason: "vary-star", response: { headers: { "cache-control": "max-age=60", vary: "*" } } },
  { name: "Cache-Control: no-cache", reason: "no-cache", response: { headers: { "cache-control": "no-cache, max-age=60" } } },
  { name: "max-age=0", reason: "stale-on-arrival", response: { headers: { "cache-control": "max-age=0" } } },
  { name: "Expires in the past", reason: "stale-on-arrival", response: { headers: { expires: "Thu, 01 Jan 1970 00:00:00 GMT" } } },
  { name: "a 500 without explicit freshness", reason: "uncacheable-status", response: { status: 500, headers: {} } },
  { name: "a 302 without explicit freshness", reason: "uncacheable-status", response: { status: 302, headers: { location: "/x" } } },
  { name: "206 Partial Content", reason: "partial-content", response: { status: 206, headers: { "cache-control": "max-age=60", "content-range": "bytes 0-1/10" }, body: "ab" } },
  { name: "a request with Cache-Control: no-store", reason: "request-no-store", request: { headers: { "cache-control": "no-store" } }, response: { headers: { "cache-control": "max-age=60" } } },
  { name: "a request with Authorization", reason: "authorization", request: { headers: { authorization: "Bearer secret" } }, response: { headers: { "cache-control": "max-age=60" } } },
  { name: "a response without freshness to a request with a Cookie", reason: "cookie-without-freshness", request: { headers: { cookie: "session=alice" } }, response: { headers: {} } },
  { name: "a body over max_body_bytes (Content-Length)", reason: "too-large", response: { headers: { "cache-control": "max-age=60" }, body: "x".repeat(2048) } },
];

for (const backends of [["memory"], ["cache"], ["kv"]]) {
  describe(`never stored (${backends[0]})`, () => {
    const { origin, worker } = withWorker({ config: { backends, max_body_bytes: 1024 } });

    for (const [i, c] of cases.entries()) {
      it(`does not store ${c.name}`, async () => {
        const path = `/case${i}`;
        origin.on(path, (record, n) => ({ status: 200, body: `${path} #${n}`, ...c.response }));
        for (const n of [1, 2]) {
          const got = await worker.fetch(path, c.request ?? {});
          assert.equal(got.status, c.response.status ?? 200);
          assert.match(got.cacheStatus, new RegExp(`^edgecache; fwd=miss; fwd-status=\\d+; detail=${c.reason}$`));
          if (!c.response.body) assert.equal(got.body, `${path} #${n}`, "each answer comes from the origin");
        }
        assert.equal(origin.count(path, "GET"), 2);
      });
    }

    it("stores an authorized response the origin marks public", async () => {
      origin.on("/auth-public", { headers: { "cache-control": "public, max-age=60" } });
      const init = { headers: { authorization: "Bearer a" } };
      assert.match((await worker.fetch("/auth-public", init)).cacheStatus, /; stored$/);
      await worker.stored("/auth-public", init);
      assert.match((await worker.fetch("/auth-public", init)).cacheStatus, /; hit;/);
      assert.equal(origin.count("/auth-public", "GET"), 1);
    });

    it("streams a chunked body over the limit through whole, and does not store it", async () => {
      const big = "y".repeat(4096);
      origin.onRaw("/chunked", (req, res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "transfer-encoding": "chunked" });
        res.write(big.slice(0, 2000));
        setTimeout(() => res.end(big.slice(2000)), 20);
      });
      const first = await worker.fetch("/chunked");
      assert.equal(first.body, big, "the client gets every byte");
      await new Promise((r) => setTimeout(r, 200));
      const second = await worker.fetch("/chunked");
      assert.equal(second.body, big);
      assert.match(second.cacheStatus, /fwd=miss/);
      assert.equal(origin.count("/chunked", "GET"), 2);
      assert.ok(worker.logs.some((l) => l.includes('"reason":"too-large"')), "the abandoned store is logged");
    });
  });
}
