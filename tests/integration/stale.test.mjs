// Serving stale: stale-while-revalidate answers at once and refreshes once in the background;
// stale-if-error answers when the origin fails with a 5xx, a reset or a hang, and a 504
// when nothing stale may be used; both also from a route's defaults. Staleness is produced
// with the origin's `Age` header: `max-age=1` with `Age: 2` arrives one second stale.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

describe("stale-while-revalidate", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory", "cache"] } });

  it("answers stale at once and refreshes exactly once in the background", async () => {
    origin.on("/swr", async (record, n) => {
      if (n > 1) await new Promise((r) => setTimeout(r, 500));
      return n === 1
        ? { headers: { "cache-control": "max-age=1, stale-while-revalidate=60", age: "2" }, body: "swr #1" }
        : { headers: { "cache-control": "max-age=60" }, body: `swr #${n}` };
    });
    await worker.fetchStored("/swr");
    const burst = await Promise.all(Array.from({ length: 5 }, () => worker.fetch("/swr")));
    for (const got of burst) {
      assert.equal(got.body, "swr #1", "the stale body is served without waiting for the origin");
      assert.match(got.cacheStatus, /; hit; ttl=-\d+; detail=stale-while-revalidate$/);
    }
    for (let i = 0; i < 100 && !(await worker.fetch("/swr")).body.startsWith("swr #2"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const fresh = await worker.fetch("/swr");
    assert.equal(fresh.body, "swr #2");
    assert.match(fresh.cacheStatus, /; hit; ttl=(59|60);/);
    assert.equal(origin.count("/swr", "GET"), 2, "one fetch and one background refresh");
  });

  it("uses a route's stale_while_revalidate when the response names none", async () => {
    const { worker: routed } = await setup({ origin, config: { backends: ["memory"], routes: [{ path: "/**", stale_while_revalidate: 60 }] } });
    try {
      origin.on("/swr-route", (record, n) => ({ headers: { "cache-control": "max-age=1", age: "2" }, body: `route #${n}` }));
      await routed.fetchStored("/swr-route");
      const stale = await routed.fetch("/swr-route");
      assert.equal(stale.body, "route #1");
      assert.match(stale.cacheStatus, /detail=stale-while-revalidate/);
    } finally {
      await routed.dispose();
    }
  });
});

describe("stale-if-error", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"], origin_timeout_ms: 300 } });

  const staleFirst = (path, failure) => {
    origin.onRaw(path, (req, res, record, n) => {
      if (n === 1) {
        res.writeHead(200, { "cache-control": "max-age=1, stale-if-error=60", age: "2", "content-length": 9 });
        res.end(`${path.slice(1, 9).padEnd(8, ".")}!`);
      } else {
        failure(res);
      }
    });
  };

  it("serves the stale entry when the origin answers 5xx", async () => {
    staleFirst("/sie-5xx", (res) => {
      res.writeHead(503, { "content-length": 4 });
      res.end("down");
    });
    await worker.fetchStored("/sie-5xx");
    const got = await worker.fetch("/sie-5xx");
    assert.equal(got.status, 200);
    assert.equal(got.body, "sie-5xx.!");
    assert.equal(got.cacheStatus, "edgecache; fwd=stale; fwd-status=503; detail=stale-if-error");
  });

  it("serves the stale entry when the origin resets the connection", async () => {
    staleFirst("/sie-reset", (res) => res.socket.destroy());
    await worker.fetchStored("/sie-reset");
    const got = await worker.fetch("/sie-reset");
    assert.equal(got.status, 200);
    assert.equal(got.cacheStatus, "edgecache; fwd=stale; detail=stale-if-error");
  });

  it("serves the stale entry when the origin hangs past the timeout", async () => {
    staleFirst("/sie-hang", () => {});
    await worker.fetchStored("/sie-hang");
    const started = Date.now();
    const got = await worker.fetch("/sie-hang");
    assert.equal(got.status, 200);
    assert.equal(got.cacheStatus, "edgecache; fwd=stale; detail=stale-if-error");
    assert.ok(Date.now() - started < 5000, "the timeout, not the origin, decides when");
  });

  it("answers 504 when the origin hangs and nothing stale may be used", async () => {
    origin.onRaw("/hang", () => {});
    const got = await worker.fetch("/hang");
    assert.equal(got.status, 504);
    assert.equal(got.cacheStatus, "edgecache; fwd=miss; detail=origin-timeout");
    assert.match(got.body, /did not answer within 300 ms/);
  });

  it("uses a route's stale_if_error when the response names none", async () => {
    const { worker: routed } = await setup({ origin, config: { backends: ["memory"], routes: [{ path: "/**", stale_if_error: 60 }] } });
    try {
      origin.on("/sie-route", (record, n) => (n === 1 ? { headers: { "cache-control": "max-age=1", age: "2" }, body: "kept" } : { status: 500, body: "error" }));
      await routed.fetchStored("/sie-route");
      const got = await routed.fetch("/sie-route");
      assert.equal(got.body, "kept");
      assert.match(got.cacheStatus, /detail=stale-if-error/);
    } finally {
      await routed.dispose();
    }
  });
});
