// Validation: a stale entry revalidated with its ETag or Last-Modified and kept on 304, on
// every backend; no-cache and must-revalidate; a HEAD that revalidates the stored GET; and a
// client's own If-None-Match and If-Modified-Since answered with 304. Staleness is produced
// with the origin's `Age` header rather than by waiting: `max-age=1` with `Age: 2`
// arrives one second stale.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

// fetch() adds Cache-Control: no-cache to conditional requests unless one is given.
const plain = { "cache-control": "no-transform" };

for (const backends of [["memory"], ["cache"], ["kv"]]) {
  describe(`revalidation (${backends[0]})`, () => {
    const { origin, worker } = withWorker({ config: { backends } });

    it("revalidates a stale entry with its validators and keeps the body on 304", async () => {
      origin.on("/etag", (record, n) =>
        record.headers["if-none-match"] === '"v1"'
          ? { status: 304, headers: { etag: '"v1"', "cache-control": "max-age=60", "x-refreshed": "yes" } }
          : { headers: { etag: '"v1"', "cache-control": "max-age=1", age: "2", "x-refreshed": "no" }, body: `etag body #${n}` },
      );
      const first = await worker.fetchStored("/etag");
      assert.equal(first.body, "etag body #1");
      assert.match(first.cacheStatus, /fwd=miss; fwd-status=200; stored/, "stale on arrival, but kept for revalidation");

      const revalidated = await worker.fetch("/etag");
      assert.equal(revalidated.status, 200);
      assert.equal(revalidated.body, "etag body #1", "the stored body is served");
      assert.equal(revalidated.headers.get("x-refreshed"), "yes", "the 304's fields replace the stored ones");
      assert.equal(origin.last("/etag").headers["if-none-match"], '"v1"');

      const hit = await worker.fetch("/etag");
      assert.match(hit.cacheStatus, /; hit; ttl=(59|60);/, "the 304's max-age=60 now applies");
      assert.ok(Number(hit.headers.get("age")) <= 1, "Age restarts from the 304");
      assert.equal(origin.count("/etag", "GET"), 2);
    });

    it("revalidates with If-Modified-Since when there is no ETag", async () => {
      const modified = "Sun, 06 Nov 1994 08:49:37 GMT";
      origin.on("/lm", (record, n) =>
        record.headers["if-modified-since"] === modified
          ? { status: 304, headers: { "cache-control": "max-age=60" } }
          : { headers: { "last-modified": modified, "cache-control": "max-age=1", age: "2" }, body: `lm #${n}` },
      );
      await worker.fetchStored("/lm");
      const second = await worker.fetch("/lm");
      assert.equal(second.body, "lm #1");
      assert.equal(second.cacheStatus, "edgecache; fwd=stale; fwd-status=304; stored");
    });

    it("asks again without validators when a 304 names another response, and never answers a 304 to a client that asked for none", async () => {
      // RFC 9111 §4.3.4: a 304 whose strong validator matches no stored response updates none.
      // An origin that answers 304 whatever it is asked (the HTTP cache test suite's does, in
      // 304-etag-update-response-ETag) is asked again without validators, and its
      // second 304 gives this client the stored body with its fields; nothing is kept.
      origin.on("/other-etag", (record, n) =>
        n === 1
          ? { headers: { etag: '"a"', "cache-control": "max-age=1", age: "2", "x-field": "first" }, body: "the stored body" }
          : { status: 304, headers: { etag: '"b"', "x-field": "second" } },
      );
      await worker.fetchStored("/other-etag");
      const got = await worker.fetch("/other-etag", { headers: plain });
      assert.equal(got.status, 200, "a client without validators never gets a 304");
      assert.equal(got.body, "the stored body");
      assert.equal(got.headers.get("etag"), '"b"');
      assert.equal(got.headers.get("x-field"), "second");
      assert.equal(got.cacheStatus, "edgecache; fwd=stale; fwd-status=304; detail=validator-mismatch");
      const asked = origin.requests.filter((r) => r.path === "/other-etag");
      assert.deepEqual(asked.map((r) => r.headers["if-none-match"]), [undefined, '"a"', undefined], "revalidated, then asked again without validators");
      const again = await worker.fetch("/other-etag", { headers: plain });
      assert.equal(again.body, "the stored body");
      assert.equal(again.headers.get("etag"), '"b"');
      assert.match(again.cacheStatus, /detail=validator-mismatch/, "nothing was kept: the stored entry is revalidated again");
    });

    it("refetches in full when the origin's answer has changed", async () => {
      origin.on("/changed", (record, n) => ({ headers: { etag: `"v${n}"`, "cache-control": "max-age=1", age: n === 1 ? "2" : "0" }, body: `changed #${n}` }));
      await worker.fetchStored("/changed");
      const second = await worker.fetch("/changed");
      assert.equal(second.body, "changed #2");
      assert.equal(second.cacheStatus, "edgecache; fwd=stale; fwd-status=200; stored");
    });
  });
}

describe("no-cache and must-revalidate", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"], stale_if_error: 60 } });

  it("revalidates a no-cache response on every use, and serves the stored body on 304", async () => {
    origin.on("/nc", (record, n) =>
      record.headers["if-none-match"] ? { status: 304, headers: { etag: '"nc"', "cache-control": "no-cache" } } : { headers: { etag: '"nc"', "cache-control": "no-cache" }, body: `nc #${n}` },
    );
    await worker.fetchStored("/nc");
    for (let i = 0; i < 3; i++) {
      const got = await worker.fetch("/nc");
      assert.equal(got.body, "nc #1");
      assert.equal(got.cacheStatus, "edgecache; fwd=stale; fwd-status=304; stored");
    }
    assert.equal(origin.count("/nc", "GET"), 4, "one fetch and three revalidations");
  });

  it("never serves a must-revalidate response stale, even when the origin fails", async () => {
    origin.on("/strict", (record, n) =>
      n === 1 ? { headers: { "cache-control": "max-age=1, must-revalidate", etag: '"s"', age: "2" }, body: "strict" } : { status: 503, body: "down" },
    );
    await worker.fetchStored("/strict");
    const failed = await worker.fetch("/strict");
    assert.equal(failed.status, 503, "the origin's error, not the stale entry");
    const stale = await worker.fetch("/strict", { headers: { "cache-control": "max-stale" } });
    assert.equal(stale.status, 503, "max-stale cannot override must-revalidate");
  });
});

describe("HEAD and revalidation", () => {
  it("revalidates a stale GET entry for a HEAD request and answers without a body", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory"] } });
    origin.on("/hr", (record, n) =>
      record.headers["if-none-match"]
        ? { status: 304, headers: { etag: '"h"', "cache-control": "max-age=60", "x-version": "2" } }
        : { headers: { etag: '"h"', "cache-control": "max-age=1", age: "2", "x-version": "1" }, body: "head body" },
    );
    try {
      await worker.fetchStored("/hr");
      const head = await worker.fetch("/hr", { method: "HEAD", headers: plain });
      assert.equal(head.body, "");
      assert.equal(head.headers.get("x-version"), "2");
      assert.equal(origin.last("/hr").method, "GET", "the stored GET is what is revalidated");
      const get = await worker.fetch("/hr");
      assert.equal(get.body, "head body");
      assert.match(get.cacheStatus, /; hit;/);
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
