// Faults, part two (issue 7), beyond failures.test.mjs and freshness.test.mjs (which cover a
// refused connection's 502, a hang's 504 and stale-if-error on 5xx, reset and hang): a
// refused connection with a stale entry, 5xx passed through unstored, bodies broken off in
// every framing and in every tier, a body that stalls, KV that refuses writes or reads (over
// quota), and a Cache API that refuses puts. Each gives the documented answer, never a hang
// or a 500, and never stores a partial body: a later request goes to the origin and gets all.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { setup, withOrigin } from "../support/fixture.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An entry module that wraps the real worker and injects the storage faults named by the
 * FAULTS binding: `{"kv": {"put": true, "get": true}, "cache": {"put": true, "match": true}}`.
 * KV refuses as it does over quota; the Cache API as it does when a put cannot be stored.
 * `"cache": {"slowPut": ms}` makes every Cache API put take that much longer.
 */
const FAULTY_ENTRY = `
import Worker from "./index.js";
function faultyKv(kv, faults) {
  const refuse = (op) => Promise.reject(new Error("KV " + op + "() limit exceeded for the day."));
  return {
    get: (...a) => (faults.get ? refuse("get") : kv.get(...a)),
    getWithMetadata: (...a) => (faults.get ? refuse("get") : kv.getWithMetadata(...a)),
    put: (...a) => (faults.put ? refuse("put") : kv.put(...a)),
    list: (...a) => kv.list(...a),
    delete: (...a) => (faults.put ? refuse("delete") : kv.delete(...a)),
  };
}
let patched = false;
function faultyCache(faults) {
  if (patched) return;
  patched = true;
  const proto = Object.getPrototypeOf(caches.default);
  const put = proto.put;
  const match = proto.match;
  proto.put = function (...a) {
    if (faults.put) return Promise.reject(new Error("Cache API put failed: 413 Cache storage failed"));
    if (faults.slowPut) return new Promise((r) => setTimeout(r, faults.slowPut)).then(() => put.apply(this, a));
    return put.apply(this, a);
  };
  proto.match = function (...a) {
    return faults.match ? Promise.reject(new Error("Cache API match failed")) : match.apply(this, a);
  };
}
function faulty(env) {
  const faults = JSON.parse(env.FAULTS ?? "{}");
  if (faults.cache) faultyCache(faults.cache);
  return faults.kv ? { ...env, EDGECACHE_KV: faultyKv(env.EDGECACHE_KV, faults.kv) } : env;
}
// The built entry is a WorkerEntrypoint class (worker-build) or a plain { fetch } object.
export default typeof Worker === "function"
  ? class extends Worker {
      constructor(ctx, env) {
        super(ctx, faulty(env));
      }
    }
  : { fetch: (request, env, ctx) => Worker.fetch(request, faulty(env), ctx) };
`;

/** Fetches over real HTTP (dispatchFetch would hide the framing): bytes got, and any error. */
function httpGet(base, target) {
  return new Promise((resolve) => {
    const started = Date.now();
    const req = http.get(new URL(target, base), (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), error: null, ms: Date.now() - started }));
      res.on("error", (error) => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), error, ms: Date.now() - started }));
    });
    req.on("error", (error) => resolve({ status: 0, body: "", error, ms: Date.now() - started }));
  });
}

describe("origin faults", () => {
  it("serves a stale entry under stale-if-error when the origin then refuses connections, and 502 once it may not", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory"] } });
    origin.on("/sie-down", { headers: { "cache-control": "max-age=1, stale-if-error=60", age: "2" }, body: "kept" });
    origin.on("/strict-down", { headers: { "cache-control": "max-age=1, must-revalidate, stale-if-error=60", age: "2", etag: '"s"' }, body: "strict" });
    try {
      await worker.fetchStored("/sie-down");
      await worker.fetchStored("/strict-down");
      await origin.close(); // its port now refuses connections
      const stale = await worker.fetch("/sie-down");
      assert.equal(stale.status, 200);
      assert.equal(stale.body, "kept");
      assert.equal(stale.cacheStatus, "edgecache; fwd=stale; detail=stale-if-error");
      const strict = await worker.fetch("/strict-down");
      assert.equal(strict.status, 502);
      assert.equal(strict.headers.get("cache-control"), "no-store");
      assert.equal(strict.cacheStatus, "edgecache; fwd=stale; detail=origin-unreachable");
      const miss = await worker.fetch("/never-stored");
      assert.equal(miss.status, 502);
    } finally {
      await dispose();
    }
  });

  it("passes a 5xx through without storing it when nothing stale may be used", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory", "cache"] } });
    origin.on("/five", (record, n) => (n === 1 ? { status: 503, headers: { "retry-after": "1" }, body: "busy" } : { headers: { "cache-control": "max-age=60" }, body: "back" }));
    try {
      const busy = await worker.fetch("/five");
      assert.equal(busy.status, 503);
      assert.equal(busy.body, "busy");
      assert.equal(busy.cacheStatus, "edgecache; fwd=miss; fwd-status=503; detail=uncacheable-status");
      const back = await worker.fetch("/five");
      assert.equal(back.status, 200);
      assert.equal(back.body, "back");
      assert.equal(origin.count("/five"), 2);
    } finally {
      await dispose();
    }
  });

  describe("bodies broken off mid-stream are stored in no tier", () => {
    const { origin } = withOrigin();
    let kvDir;
    before(() => {
      kvDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-faults-"));
    });
    after(() => fs.rmSync(kvDir, { recursive: true, force: true }));

    const full = "z".repeat(64 * 1024);
    const breaks = {
      "a chunked body reset": (res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "transfer-encoding": "chunked" });
        res.write("x".repeat(5000));
        setTimeout(() => res.socket.destroy(), 30);
      },
      "a chunked body closed without its last chunk": (res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "transfer-encoding": "chunked" });
        res.write("x".repeat(5000));
        setTimeout(() => res.socket.end(), 30);
      },
      "a Content-Length body closed cleanly short of its length": (res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
        res.write("x".repeat(1000));
        setTimeout(() => res.socket.end(), 30);
      },
    };
    for (const [name, broken] of Object.entries(breaks)) {
      it(name, async () => {
        const target = `/broken-${name.replace(/\W+/g, "-")}`;
        origin.onRaw(target, (req, res, record, n) => {
          if (n === 1) return broken(res);
          res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
          res.end(full);
        });
        const { worker } = await setup({ origin, kvPersist: kvDir, config: { backends: ["memory", "cache", "kv"] } });
        try {
          const first = await httpGet(worker.url, target);
          assert.equal(first.status, 200);
          assert.ok(first.error || first.body.length < full.length, "the client can tell the body is short");
          await sleep(300);
          assert.ok(worker.logs.some((l) => l.includes('"not-stored"') && l.includes('"body-error"')), "the break is logged");
          assert.ok(!worker.logs.some((l) => l.includes('"edgecache":"stored"') && l.includes(target)), "nothing was written");
          const next = await worker.fetch(target);
          assert.equal(next.body, full);
          assert.match(next.cacheStatus, /fwd=miss/);
          assert.equal(origin.count(target), 2);
          await worker.stored(target);
          assert.equal((await worker.fetch(target)).body, full, "the whole body is what is stored");
        } finally {
          await worker.dispose();
        }
      });
    }

    it("a client that hangs up mid-body: the stored copy is the origin's whole body, or nothing", async () => {
      const target = "/client-gone";
      const big = "w".repeat(256 * 1024);
      origin.onRaw(target, (req, res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(big.length) });
        let sent = 0;
        const tick = () => {
          if (sent >= big.length) return res.end();
          res.write(big.slice(sent, sent + 16 * 1024));
          sent += 16 * 1024;
          setTimeout(tick, 10);
        };
        tick();
      });
      const { worker } = await setup({ origin, kvPersist: kvDir, config: { backends: ["memory", "cache", "kv"] } });
      try {
        await new Promise((resolve) => {
          const req = http.get(new URL(target, worker.url), (res) => {
            res.once("data", () => {
              req.destroy();
              resolve();
            });
          });
          req.on("error", () => resolve());
        });
        await sleep(800);
        const next = await httpGet(worker.url, target);
        assert.equal(next.status, 200);
        assert.equal(next.body.length, big.length);
        assert.equal(next.body, big);
        if (next.headers["cache-status"].includes("; hit;")) assert.equal(origin.count(target), 1);
      } finally {
        await worker.dispose();
      }
    });

    it("a body that stalls: waiting requests give up after origin_timeout_ms, and only a whole body is kept", async () => {
      const target = "/stall";
      origin.onRaw(target, (req, res, record, n) => {
        if (n === 1) {
          res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
          res.write("x".repeat(100));
          setTimeout(() => res.socket.destroy(), 2500);
          return;
        }
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
        res.end(full);
      });
      const { worker } = await setup({ origin, config: { backends: ["memory"], origin_timeout_ms: 400 } });
      try {
        const stalled = httpGet(worker.url, target);
        await sleep(150);
        const waiter = await httpGet(worker.url, target);
        assert.equal(waiter.status, 200);
        assert.equal(waiter.body, full);
        assert.ok(waiter.ms < 2000, `the second request waited ${waiter.ms} ms, bounded by origin_timeout_ms, not the stall`);
        const first = await stalled;
        assert.ok(first.error || first.body.length < full.length);
        await sleep(200);
        const after = await httpGet(worker.url, target);
        assert.equal(after.body, full);
        assert.match(after.headers["cache-status"], /; hit;/, "the waiter's whole body was stored, the stalled one not");
        assert.equal(origin.count(target), 2);
      } finally {
        await worker.dispose();
      }
    });
  });
});

describe("storage faults", () => {
  const { origin } = withOrigin();

  it("KV refusing every write (over quota): answers from the origin, the memory tier still serves, nothing half-written", async () => {
    const kvDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-quota-"));
    const { worker } = await setup({ origin, kvPersist: kvDir, entry: FAULTY_ENTRY, bindings: { FAULTS: JSON.stringify({ kv: { put: true } }) }, config: { backends: ["memory", "kv"] } });
    const { worker: kvOnly } = await setup({ origin, kvPersist: kvDir, entry: FAULTY_ENTRY, bindings: { FAULTS: JSON.stringify({ kv: { put: true } }) }, config: { backends: ["kv"] } });
    try {
      const first = await worker.fetch("/quota");
      assert.equal(first.status, 200);
      assert.equal(first.body, "/quota #1");
      await worker.stored("/quota");
      assert.match((await worker.fetch("/quota")).cacheStatus, /; hit; .*detail=memory/);
      assert.ok(worker.logs.some((l) => l.includes('"store-failed"') && l.includes("limit exceeded")), "the refusal is logged");
      const line = worker.logs.find((l) => l.includes('"edgecache":"stored"') && l.includes("/quota"));
      assert.deepEqual(JSON.parse(line).tiers, ["memory"]);
      for (const n of [2, 3]) {
        const got = await kvOnly.fetch("/quota");
        assert.equal(got.status, 200);
        assert.equal(got.body, `/quota #${n}`, "KV holds nothing for it");
        assert.match(got.cacheStatus, /fwd=miss/);
        await sleep(100);
      }
      for (const l of [...worker.logs, ...kvOnly.logs]) assert.doesNotMatch(l, /"status":500/);
    } finally {
      await worker.dispose();
      await kvOnly.dispose();
      fs.rmSync(kvDir, { recursive: true, force: true });
    }
  });

  it("KV refusing reads: falls through to the origin, and the purge API says what failed instead of a 500", async () => {
    const { worker } = await setup({ origin, entry: FAULTY_ENTRY, bindings: { ADMIN_TOKEN: "secret", FAULTS: JSON.stringify({ kv: { get: true } }) }, config: { backends: ["kv"] } });
    try {
      for (const n of [1, 2]) {
        const got = await worker.fetch("/kv-read");
        assert.equal(got.status, 200);
        assert.equal(got.body, `/kv-read #${n}`);
      }
      const stats = await worker.fetch("/_edgecache/stats", { headers: { authorization: "Bearer secret" } });
      assert.notEqual(stats.status, 500, stats.body);
    } finally {
      await worker.dispose();
    }
  });

  it("the Cache API refusing puts and reads: answers from the origin, every time, with the full body", async () => {
    const { worker } = await setup({ origin, entry: FAULTY_ENTRY, bindings: { FAULTS: JSON.stringify({ cache: { put: true, match: true } }) }, config: { backends: ["cache"] } });
    try {
      for (const n of [1, 2, 3]) {
        const got = await worker.fetch("/cache-refuses");
        assert.equal(got.status, 200);
        assert.equal(got.body, `/cache-refuses #${n}`);
        assert.match(got.cacheStatus, /fwd=miss/);
        await sleep(100);
      }
      assert.ok(worker.logs.some((l) => l.includes('"store-failed"') && l.includes("Cache API put failed")), "the refusal is logged");
    } finally {
      await worker.dispose();
    }
  });

  it("a slow Cache API write: a request arriving meanwhile gets the entry just revalidated, not a second revalidation", async () => {
    const { worker } = await setup({ origin, entry: FAULTY_ENTRY, bindings: { FAULTS: JSON.stringify({ cache: { slowPut: 400 } }) }, config: { backends: ["cache"] } });
    const plain = { "cache-control": "no-transform" };
    try {
      origin.on("/slow-write", (record, n) =>
        record.headers["if-none-match"] === '"w"'
          ? { status: 304, headers: { etag: '"w"', "cache-control": "max-age=60" } }
          : { headers: { etag: '"w"', "cache-control": "max-age=1", age: "2" }, body: `slow-write #${n}` },
      );
      await worker.fetchStored("/slow-write");
      const revalidated = await worker.fetch("/slow-write", { headers: plain });
      assert.match(revalidated.cacheStatus, /fwd=stale; fwd-status=304/);
      const next = await worker.fetch("/slow-write", { headers: plain });
      assert.equal(next.body, "slow-write #1");
      assert.match(next.cacheStatus, /; (hit|collapsed)/, next.cacheStatus);
      assert.equal(origin.count("/slow-write", "GET"), 2, "one fetch, one revalidation");
    } finally {
      await worker.dispose();
    }
  });

  it("the Cache API refusing puts only: the tier above still serves", async () => {
    const { worker } = await setup({ origin, entry: FAULTY_ENTRY, bindings: { FAULTS: JSON.stringify({ cache: { put: true } }) }, config: { backends: ["memory", "cache"] } });
    try {
      assert.equal((await worker.fetch("/cache-put-refused")).status, 200);
      await worker.stored("/cache-put-refused");
      const hit = await worker.fetch("/cache-put-refused");
      assert.match(hit.cacheStatus, /; hit; .*detail=memory/);
      assert.equal(origin.count("/cache-put-refused"), 1);
    } finally {
      await worker.dispose();
    }
  });
});
