// Storage that fails: a missing or broken KV binding, KV that refuses writes or reads (over
// quota), a Cache API that refuses puts or reads or writes slowly. Requests fall through to
// the origin or to the tiers that work, nothing is half-written, and nothing answers 500.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
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

describe("storage faults", () => {
  const { origin } = withOrigin();

  it("a hard purge names the tier it could not remove the entry from, the inspector the tier it could not read; the entry is gone all the same", async () => {
    const token = "test-token-0123456789";
    const { worker } = await setup({ origin, entry: FAULTY_ENTRY, bindings: { ADMIN_TOKEN: token, FAULTS: JSON.stringify({ kv: { put: true, get: true } }) }, config: { backends: ["memory", "kv"] } });
    const admin = (route, init = {}) => worker.fetch(`/_edgecache${route}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
    try {
      await worker.fetch("/purged-here");
      await worker.stored("/purged-here");
      assert.match((await worker.fetch("/purged-here")).cacheStatus, /; hit; .*detail=memory/);
      const got = await admin("/purge", { method: "POST", body: JSON.stringify({ urls: ["http://edge.test/purged-here"] }), headers: { "content-type": "application/json" } });
      assert.equal(got.status, 200, got.body);
      const answer = JSON.parse(got.body);
      assert.deepEqual(answer.not_deleted.map((e) => [e.backend, e.operation]), [["kv", "delete"]]);
      assert.match(answer.not_deleted[0].error, /^kv delete: .*limit exceeded/);
      const after = await worker.fetch("/purged-here");
      assert.equal(after.status, 200);
      assert.match(after.cacheStatus, /fwd=miss/, "the purge is in effect, whatever KV did");
      const inspected = JSON.parse((await admin(`/inspect?url=${encodeURIComponent("http://edge.test/purged-here")}`)).body);
      assert.ok(inspected.errors.some((e) => /^kv read: .*limit exceeded/.test(e)), JSON.stringify(inspected.errors));
    } finally {
      await worker.dispose();
    }
  });

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
