// Purging through the admin API on every backend: by URL (every variant), prefix, path on any
// host, tag (Cache-Tag, Surrogate-Key, route tags) and everything, hard and soft; the purge
// log; a route's tags added after an entry was stored (the worker restarted on the same
// storage with the new configuration) still reach that entry. Purges across locations, and the control plane that records them, are
// control-plane.test.mjs's.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setup, withOrigin, withWorker } from "../support/fixture.mjs";
import { purge as adminPurge } from "../support/admin.mjs";

const TOKEN = "test-token-0123456789";

const auth = { authorization: `Bearer ${TOKEN}` };

function admin(worker, route, init = {}) {
  return worker.fetch(`/_edgecache${route}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
}

const purge = (worker, body) => adminPurge(worker, TOKEN, body);

for (const backends of [["memory"], ["cache"], ["kv"]]) {
  describe(`purging (${backends[0]})`, () => {
    const { origin, worker } = withWorker({
      bindings: { ADMIN_TOKEN: TOKEN },
      config: { backends, routes: [{ path: "/routed/**", tags: ["from-route"], ttl: 600 }] },
    });
    before(() => {
      origin.on("/tagged/a", (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": "product-1, catalog" }, body: `a #${n}` }));
      origin.on("/tagged/b", (record, n) => ({ headers: { "cache-control": "max-age=600", "surrogate-key": "product-2 catalog" }, body: `b #${n}` }));
    });

    async function cache(target) {
      await worker.fetchStored(target);
      assert.match((await worker.fetch(target)).cacheStatus, /; hit;/, `${target} is stored`);
    }
    const isMiss = async (target) => /fwd=miss/.test((await worker.fetch(target)).cacheStatus);

    it("purges a URL, every variant of it, at once", async () => {
      await cache("/page?b=2&a=1");
      const result = await purge(worker, { urls: ["http://edge.test/page?a=1&b=2"] });
      assert.deepEqual(result.results, [{ type: "url", target: "http://edge.test/page?a=1&b=2", effect: "purged" }]);
      assert.deepEqual(result.not_deleted, [], "no tier failed (an unbound backend no route names is not one)");
      assert.ok(await isMiss("/page?b=2&a=1"), "the query is normalised as keys are");
    });

    it("purges by prefix, by path on any host or by URL", async () => {
      await cache("/blog/one");
      await cache("/blog/two");
      await cache("/shop/one");
      await purge(worker, { prefixes: ["/blog/"] });
      assert.ok(await isMiss("/blog/one"));
      assert.ok(await isMiss("/blog/two"));
      assert.ok(!(await isMiss("/shop/one")));
      await purge(worker, { prefixes: ["http://edge.test/shop/"] });
      assert.ok(await isMiss("/shop/one"));
    });

    it("purges by tag from Cache-Tag, Surrogate-Key and route rules, and hides tag headers", async () => {
      await cache("/tagged/a");
      await cache("/tagged/b");
      await cache("/routed/x");
      const a = await worker.fetch("/tagged/a");
      assert.equal(a.headers.get("cache-tag"), null, "tags are stripped from what clients see");
      await purge(worker, { tags: ["product-1"] });
      assert.ok(await isMiss("/tagged/a"));
      assert.ok(!(await isMiss("/tagged/b")));
      await purge(worker, { tags: ["catalog", "from-route"] });
      assert.ok(await isMiss("/tagged/b"));
      assert.ok(await isMiss("/routed/x"));
    });

    it("purges everything in one step", async () => {
      await cache("/all/1");
      await cache("/all/2");
      const result = await purge(worker, { all: true });
      assert.deepEqual(result.results, [{ type: "all", effect: "purged" }]);
      assert.ok(await isMiss("/all/1"));
      assert.ok(await isMiss("/all/2"));
    });

    it("soft-purges: the next request is served stale while one refresh goes to the origin", async () => {
      origin.on("/soft", async (record, n) => {
        if (n > 1) await new Promise((r) => setTimeout(r, 100));
        return { headers: { "cache-control": "max-age=600" }, body: `soft #${n}` };
      });
      await cache("/soft");
      await purge(worker, { urls: ["http://edge.test/soft"], soft: true });
      const stale = await worker.fetch("/soft");
      assert.equal(stale.body, "soft #1");
      assert.match(stale.cacheStatus, /; hit; ttl=\d+; detail=soft-purged$/);
      for (let i = 0; i < 100 && (await worker.fetch("/soft")).body !== "soft #2"; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const fresh = await worker.fetch("/soft");
      assert.equal(fresh.body, "soft #2");
      assert.match(fresh.cacheStatus, /; hit;.*detail=/);
      assert.equal(origin.count("/soft", "GET"), 2, "exactly one refresh");
    });

    it("keeps a purge log with the token's label", async () => {
      await purge(worker, { tags: ["logged"] });
      let log;
      for (let i = 0; i < 50; i++) {
        log = JSON.parse((await admin(worker, "/purges")).body).purges;
        if (log.some((e) => e.tags.includes("logged"))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const entry = log.find((e) => e.tags.includes("logged"));
      assert.equal(entry.token, "admin");
      assert.equal(entry.soft, false);
      assert.ok(entry.at > 0);
    });
  });
}

describe("route tags added after an entry was stored", () => {
  const { origin } = withOrigin();
  let dir;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "edgecache-route-tags-"));
    origin.on("/docs/page", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `page #${n}` }));
    origin.on("/other/page", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `other #${n}` }));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const backends of [["cache"], ["kv"]]) {
    it(`lets a tag purge reach entries stored before the route had the tag (${backends[0]})`, async () => {
      const version = backends[0] === "cache" ? 1 : 2;
      const start = (routes) => setup({ origin, persist: dir, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends, version, routes } });
      const before = origin.count("/docs/page", "GET");
      const { worker: untagged } = await start([{ path: "/docs/**", ttl: 600 }]);
      await untagged.fetchStored("/docs/page");
      await untagged.fetchStored("/other/page");
      await untagged.dispose();

      const { worker: tagged } = await start([{ path: "/docs/**", ttl: 600, tags: ["docs"] }]);
      try {
        assert.match((await tagged.fetch("/docs/page")).cacheStatus, /; hit;/, "the entry outlived the restart");
        const result = await purge(tagged, { tags: ["docs"] });
        assert.deepEqual(result.results, [{ type: "tag", target: "docs", effect: "purged" }]);
        const after = await tagged.fetch("/docs/page");
        assert.match(after.cacheStatus, /fwd=miss/, "the purge reached the entry stored before the route had the tag");
        assert.equal(origin.count("/docs/page", "GET"), before + 2);
        assert.match((await tagged.fetch("/other/page")).cacheStatus, /; hit;/, "an entry of another route is left alone");
      } finally {
        await tagged.dispose();
      }
    });
  }
});
