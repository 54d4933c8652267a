// Every backend and tier order: a cacheable response stored and answered from storage (HEAD,
// If-None-Match, a large body, a 204, a Range, the Age it came with, expiry); a lower tier's
// hit copied into the tiers above; storage that outlives the isolate, and a version bump that
// makes all of it unreachable. What the client gets (status, body, Age, Cache-Status) and how
// often the origin is asked.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setup, withOrigin, withWorker } from "../support/fixture.mjs";

const tierOrders = [["memory"], ["cache"], ["kv"], ["memory", "cache", "kv"], ["kv", "memory"]];

for (const backends of tierOrders) {
  describe(`backends ${backends.join(" → ")}`, () => {
    const { origin, worker } = withWorker({ config: { backends } });

    it("stores a cacheable response and answers the next request from storage", async () => {
      const first = await worker.fetch("/page");
      assert.equal(first.status, 200);
      assert.equal(first.body, "/page #1");
      assert.equal(first.cacheStatus, "edgecache; fwd=miss; fwd-status=200; stored");

      await worker.stored("/page");
      const second = await worker.fetch("/page");
      assert.equal(second.body, "/page #1");
      assert.match(second.cacheStatus, new RegExp(`^edgecache; hit; ttl=(59|60); detail=${backends[0]}$`));
      assert.ok(Number(second.headers.get("age")) <= 1, "a fresh entry is about 0 s old");
      assert.equal(second.headers.get("content-type"), "text/plain");
      assert.equal(origin.count("/page", "GET"), 1, "the origin saw one GET");
    });

    it("answers HEAD from the GET entry without a body", async () => {
      await worker.fetch("/head");
      await worker.stored("/head");
      const head = await worker.fetch("/head", { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.body, "");
      assert.match(head.cacheStatus, /; hit;/);
      assert.equal(origin.count("/head", "GET"), 1);
    });

    it("answers a matching If-None-Match from storage with a 304 and no body", async () => {
      origin.on("/tagged-page", { headers: { "cache-control": "max-age=60", etag: '"v1"' }, body: "tagged" });
      await worker.fetch("/tagged-page");
      await worker.stored("/tagged-page");
      // An explicit Cache-Control, or fetch() adds `no-cache` to a conditional request.
      const conditional = await worker.fetch("/tagged-page", { headers: { "cache-control": "no-transform", "if-none-match": '"v1"' } });
      assert.equal(conditional.status, 304);
      assert.equal(conditional.body, "");
      assert.match(conditional.cacheStatus, /; hit;/);
      const full = await worker.fetch("/tagged-page");
      assert.equal(full.body, "tagged", "the entry is whole after a 304 was answered from it");
      assert.equal(origin.count("/tagged-page", "GET"), 1);
    });

    it("serves a large body intact, byte for byte", async () => {
      // 1.5 MiB that differ along their length, so a body cut short or reordered shows.
      const big = Array.from({ length: 24_576 }, (_, i) => `${String(i).padStart(8, "0")}${"x".repeat(56)}`).join("");
      origin.on("/big", { headers: { "cache-control": "max-age=60", "content-type": "application/octet-stream" }, body: big });
      assert.equal((await worker.fetch("/big")).body.length, big.length);
      await worker.stored("/big");
      for (let i = 0; i < 2; i++) {
        const hit = await worker.fetch("/big");
        assert.match(hit.cacheStatus, /; hit;/);
        assert.equal(hit.body.length, big.length);
        assert.ok(hit.body === big, "the stored body comes back unchanged");
      }
      const part = await worker.fetch("/big", { headers: { range: "bytes=1000000-1000127" } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get("content-range"), `bytes 1000000-1000127/${big.length}`);
      assert.ok(part.body === big.slice(1000000, 1000128), "the part is cut from the stored bytes");
      assert.equal(origin.count("/big", "GET"), 1);
    });

    it("stores and serves a 204 without a body", async () => {
      origin.on("/empty", { status: 204, headers: { "cache-control": "max-age=60" } });
      const first = await worker.fetch("/empty");
      assert.equal(first.status, 204);
      assert.equal(first.body, "");
      await worker.stored("/empty");
      const hit = await worker.fetch("/empty");
      assert.equal(hit.status, 204);
      assert.equal(hit.body, "");
      assert.match(hit.cacheStatus, /; hit;/);
      const post = await worker.fetch("/empty", { method: "POST", body: "x" });
      assert.equal(post.status, 204, "a pass-through keeps a status without a body");
      assert.equal(origin.count("/empty", "GET"), 1);
    });

    it("answers a single Range from the stored response with a 206, and If-Range only for its own ETag", async () => {
      origin.on("/ranged", { headers: { "cache-control": "max-age=60", etag: '"r1"', "x-stored": "yes" }, body: "0123456789A" });
      const first = await worker.fetch("/ranged", { headers: { range: "bytes=0-1" } });
      assert.match(first.cacheStatus, /fwd=miss; fwd-status=200; stored/, "a Range miss answered with the whole response stores it");
      await worker.stored("/ranged");
      const cases = [
        ["bytes=0-1", 206, "01", "bytes 0-1/11"],
        ["bytes=1-", 206, "123456789A", "bytes 1-10/11"],
        ["bytes=-1", 206, "A", "bytes 10-10/11"],
        ["bytes=20-", 416, "", "bytes */11"],
        ["bytes=0-1, 4-5", 200, "0123456789A", null],
      ];
      for (const [range, status, body, contentRange] of cases) {
        const got = await worker.fetch("/ranged", { headers: { range } });
        assert.equal(got.status, status, range);
        assert.equal(got.body, body, range);
        assert.equal(got.headers.get("content-range"), contentRange, range);
        assert.match(got.cacheStatus, /; hit;/, range);
        if (status === 206) assert.equal(got.headers.get("x-stored"), "yes", "a part carries the stored fields");
      }
      // An explicit Cache-Control, or fetch() adds `no-cache` to a request with If-Range.
      const same = await worker.fetch("/ranged", { headers: { range: "bytes=2-3", "if-range": '"r1"', "cache-control": "no-transform" } });
      assert.equal(same.status, 206);
      assert.equal(same.body, "23");
      const changed = await worker.fetch("/ranged", { headers: { range: "bytes=2-3", "if-range": '"r0"', "cache-control": "no-transform" } });
      assert.equal(changed.status, 200, "If-Range names another version: the whole response");
      assert.equal(changed.body, "0123456789A");
      assert.equal(origin.count("/ranged", "GET"), 1, "the Range miss fetched the whole response once");
    });

    it("reports the Age the response already had at the origin", async () => {
      origin.on("/aged", { headers: { "cache-control": "max-age=100", age: "40" }, body: "aged" });
      await worker.fetch("/aged");
      await worker.stored("/aged");
      const hit = await worker.fetch("/aged");
      const age = Number(hit.headers.get("age"));
      assert.ok(age >= 40 && age <= 41, `Age ${age} counts the origin's 40 s`);
      const ttl = Number(/ttl=(-?\d+)/.exec(hit.cacheStatus)[1]);
      assert.ok(ttl >= 59 && ttl <= 60, `ttl ${ttl} is 100 - 40`);
    });

    it("refetches once the entry is stale", async () => {
      origin.on("/short", (record, n) => ({ headers: { "cache-control": "max-age=2" }, body: `short #${n}` }));
      assert.equal((await worker.fetch("/short")).body, "short #1");
      await worker.stored("/short");
      assert.equal((await worker.fetch("/short")).body, "short #1");
      await new Promise((r) => setTimeout(r, 2100));
      const stale = await worker.fetch("/short");
      assert.equal(stale.body, "short #2");
      // Memory and the Cache API drop it on expiry; KV keeps it its 60 s minimum.
      assert.match(stale.cacheStatus, /fwd=(miss|stale)/);
      assert.equal(origin.count("/short", "GET"), 2);
    });
  });
}

describe("tiers", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory", "kv"] } });

  it("copies a lower tier's hit into the tiers above it", async () => {
    // Put an entry in KV only, through a worker whose only tier is KV, sharing the namespace.
    await worker.fetch("/promote");
    await worker.stored("/promote");
    const kv = await worker.mf.getKVNamespace("EDGECACHE_KV");
    const keys = (await kv.list()).keys.map((k) => k.name);
    assert.ok(keys.includes(":1:http://edge.test/promote"), `KV holds the rendered key: ${keys}`);
    assert.equal(origin.count("/promote", "GET"), 1);
  });
});

describe("versions", () => {
  const { origin } = withOrigin();
  let dir;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "edgecache-versions-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes every stored entry unreachable when the version is bumped", async () => {
    const { worker: v1 } = await setup({ origin, persist: dir, config: { backends: ["cache", "kv"], version: 1 } });
    await v1.fetch("/versioned");
    await v1.stored("/versioned");
    await v1.dispose();

    const { worker: again } = await setup({ origin, persist: dir, config: { backends: ["cache", "kv"], version: 1 } });
    assert.match((await again.fetch("/versioned")).cacheStatus, /; hit; .*detail=cache/, "storage outlives the isolate");
    await again.dispose();

    const { worker: v2 } = await setup({ origin, persist: dir, config: { backends: ["cache", "kv"], version: 2 } });
    const bumped = await v2.fetch("/versioned");
    assert.equal(bumped.body, "/versioned #2");
    assert.match(bumped.cacheStatus, /fwd=miss/);
    await v2.dispose();
    assert.equal(origin.count("/versioned", "GET"), 2);
  });

  it("fills the faster tiers from a slower tier's hit", async () => {
    const { worker: kvOnly } = await setup({ origin, persist: dir, config: { backends: ["kv"], version: 3 } });
    await kvOnly.fetch("/promoted");
    await kvOnly.stored("/promoted");
    await kvOnly.dispose();

    const { worker: tiered } = await setup({ origin, persist: dir, config: { backends: ["memory", "cache", "kv"], version: 3 } });
    assert.match((await tiered.fetch("/promoted")).cacheStatus, /detail=kv$/);
    for (let i = 0; i < 100; i++) {
      const got = await tiered.fetch("/promoted");
      if (got.cacheStatus.endsWith("detail=memory")) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match((await tiered.fetch("/promoted")).cacheStatus, /detail=memory$/);
    await tiered.dispose();
    assert.equal(origin.count("/promoted", "GET"), 1);
  });
});
