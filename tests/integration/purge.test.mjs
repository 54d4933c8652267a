// The admin API: authentication, purge by URL, prefix, tag and everything (hard and soft),
// on every backend; the purge log, stats and key inspection. Purges across locations, and
// the control plane that records them, are control-plane.test.mjs's.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

const TOKEN = "test-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

function admin(worker, route, init = {}) {
  return worker.fetch(`/_edgecache${route}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
}

async function purge(worker, body) {
  const got = await admin(worker, "/purge", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  assert.equal(got.status, 200, got.body);
  return JSON.parse(got.body);
}

describe("admin authentication", () => {
  const { worker } = withWorker({ origin: null, bindings: { ADMIN_TOKEN: TOKEN, ADMIN_TOKENS: "ci:ci-token" } });

  // Each case from its own address: failures are rate-limited per address (10 a minute).
  for (const [index, [name, headers]] of [
    ["no token", {}],
    ["an empty token", { authorization: "Bearer " }],
    ["a wrong token", { authorization: "Bearer nope" }],
    ["a token prefix", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ["the wrong scheme", { authorization: `Basic ${TOKEN}` }],
  ].entries()) {
    it(`refuses ${name} with a bare 401`, async () => {
      for (const route of ["/purge", "/stats", "/inspect?url=http://edge.test/", "/purges"]) {
        const got = await worker.fetch(`/_edgecache${route}`, {
          method: route === "/purge" ? "POST" : "GET",
          body: route === "/purge" ? "{}" : undefined,
          headers: { ...headers, "cf-connecting-ip": `192.0.2.${index + 1}` },
        });
        assert.equal(got.status, 401, route);
        assert.deepEqual(JSON.parse(got.body), { error: "unauthorized" });
        assert.equal(got.headers.get("cache-control"), "no-store");
      }
    });
  }

  it("accepts every configured token", async () => {
    assert.equal((await admin(worker, "/stats")).status, 200);
    assert.equal((await worker.fetch("/_edgecache/stats", { headers: { authorization: "Bearer ci-token" } })).status, 200);
  });

  it("refuses everything when no token is configured", async () => {
    const { worker: open, dispose } = await setup({ origin: null });
    try {
      assert.equal((await open.fetch("/_edgecache/stats", { headers: { authorization: "Bearer " } })).status, 401);
      assert.equal((await open.fetch("/_edgecache/stats", { headers: auth })).status, 401);
    } finally {
      await dispose();
    }
  });

  it("names what is wrong with a purge body", async () => {
    const cases = [
      ["not json", /the body is not a purge request/],
      ['{"url": ["x"]}', /unknown field `url`/],
      ["{}", /nothing to purge/],
      ['{"tags": ["a b"]}', /tags: tag "a b" must be printable ASCII/],
      ['{"tags": ["\\u0007"]}', /tags:/],
      ['{"urls": ["/relative"]}', /not an absolute http\(s\) URL/],
    ];
    for (const [body, message] of cases) {
      const got = await admin(worker, "/purge", { method: "POST", body });
      assert.equal(got.status, 400, body);
      assert.match(JSON.parse(got.body).error, message);
    }
    assert.equal((await admin(worker, "/purge")).status, 405);
    assert.equal((await admin(worker, "/nothing")).status, 404);
  });
});

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

describe("stats and inspection", () => {
  const { origin, worker } = withWorker({ bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory", "kv"], routes: [{ path: "/api/**", bypass: true }] } });
  before(() => {
    origin.on("/inspected", { headers: { "cache-control": "max-age=600", "cache-tag": "t1", vary: "Accept-Language" }, body: "inspected" });
  });

  it("counts hits, misses and bypasses as they happened", async () => {
    await worker.fetchStored("/counted");
    for (let i = 0; i < 3; i++) await worker.fetch("/counted");
    await worker.fetch("/api/x");
    await worker.fetch("/api/y");
    const stats = JSON.parse((await admin(worker, "/stats")).body);
    assert.equal(stats.total.misses, 1);
    assert.equal(stats.total.hits, 3);
    assert.equal(stats.total.bypasses, 2);
    assert.equal(stats.total.reasons["route-bypass"], 2);
    assert.equal(stats.total.hit_ratio, 0.75);
    assert.equal(stats.routes["/api/**"].bypasses, 2);
    assert.equal(stats.backends.memory.hits, 3);
    assert.ok(stats.total.bytes_from_cache > 0);
    assert.ok(stats.minutes.length >= 1);
  });

  it("shows the key, the tiers holding it, and its tags", async () => {
    await worker.fetchStored("/inspected", { headers: { "accept-language": "fr" } });
    const got = JSON.parse((await admin(worker, `/inspect?url=${encodeURIComponent("http://edge.test/inspected")}&header=Accept-Language:fr`)).body);
    assert.equal(got.url, "http://edge.test/inspected");
    assert.deepEqual(got.tiers.map((t) => [t.backend, t.present]), [["memory", true], ["kv", true]]);
    assert.match(got.tiers[0].key, /#accept-language=fr$/);
    assert.deepEqual(got.tiers[0].tags, ["t1"]);
    assert.equal(got.tiers[0].purge_standing, "valid");
    const other = JSON.parse((await admin(worker, `/inspect?url=${encodeURIComponent("http://edge.test/inspected")}&header=Accept-Language:de`)).body);
    assert.deepEqual(other.tiers.map((t) => t.present), [false, false]);
    assert.equal((await admin(worker, "/inspect")).status, 400);
  });
});
