// Origin offload in /stats (issue 22): the requests and bytes answered without an origin
// request, per route, host and tag, and the shield's share of them. What the stats count is
// checked against what the test's recording origin did NOT serve: every client request and
// body byte, less the requests and body bytes the origin answered.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup } from "../support/fixture.mjs";

const TOKEN = "offload-test-token";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The bodies the origin answers, by path: their lengths are what the bytes add up from. */
const BODIES = { "/off/big": "B".repeat(1000), "/off/small": "s".repeat(300), "/off/private": "p".repeat(200), "/off/flush": "f".repeat(10) };

function answer(origin) {
  origin.on(/^\/off\//, (record) => ({
    headers: { "content-type": "text/plain", "cache-control": record.path === "/off/private" ? "private" : "max-age=600" },
    body: BODIES[record.path],
  }));
}

const CONFIG = { purge_propagation_s: 0, routes: [{ path: "/off/**", tags: ["offload"] }] };

/** Client requests and body bytes, counted as they are made. */
function counting(fetchers) {
  const sent = { requests: 0, bytes: 0, shieldHits: 0 };
  const fetch = async (at, path) => {
    const got = await fetchers[at].fetch(path);
    assert.equal(got.status, 200, `${path}: ${got.cacheStatus}`);
    assert.equal(got.body, BODIES[path]);
    sent.requests++;
    sent.bytes += got.body.length;
    // The shield answered from its storage to this location's miss (a location's own hit of
    // what it got from the shield names the shield's hit too, before its own).
    if (/edgecache-shield; hit[^,]*, edgecache; fwd=/.test(got.cacheStatus)) sent.shieldHits++;
    return got;
  };
  return { sent, fetch };
}

/** What the origin served of `/off/`: requests and body bytes. */
function served(origin) {
  const asked = origin.requests.filter((r) => r.path.startsWith("/off/") && r.method === "GET");
  return { requests: asked.length, bytes: asked.reduce((n, r) => n + BODIES[r.path].length, 0) };
}

async function stats(location) {
  const got = await location.fetch("/_edgecache/stats", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(got.status, 200, got.body);
  return JSON.parse(got.body);
}

/** Each of `total`, the route, the host and the tag has `kept`, `kept_bytes`, `shield_kept`. */
function assertKept(window, host, expected, what) {
  const rows = { total: window.total, route: window.routes["/off/**"], host: window.hosts[host], tag: window.tags.offload };
  for (const [name, row] of Object.entries(rows)) {
    assert.ok(row, `${what}: no ${name} row`);
    assert.equal(row.kept, expected.kept, `${what}: ${name}'s requests kept from the origin`);
    assert.equal(row.kept_bytes, expected.keptBytes, `${what}: ${name}'s bytes kept from the origin`);
    // A count of nothing is left out of /stats.
    assert.equal(row.shield_kept ?? 0, expected.shieldKept, `${what}: ${name}'s requests kept by the shield`);
    assert.equal(row.shield_kept_bytes ?? 0, expected.shieldKeptBytes, `${what}: ${name}'s bytes kept by the shield`);
  }
}

describe("origin offload in the stats", () => {
  it("counts as kept from the origin exactly the requests and bytes the origin did not serve, without a shield", async () => {
    const { origin, worker, dispose } = await setup({ bindings: { ADMIN_TOKEN: TOKEN }, config: { ...CONFIG, backends: ["memory"] } });
    try {
      answer(origin);
      const { sent, fetch } = counting([worker]);
      for (const path of ["/off/big", "/off/small"]) {
        await worker.fetchStored(path);
        sent.requests++;
        sent.bytes += BODIES[path].length;
      }
      for (let i = 0; i < 4; i++) await fetch(0, "/off/big");
      for (let i = 0; i < 2; i++) await fetch(0, "/off/small");
      for (let i = 0; i < 3; i++) await fetch(0, "/off/private");
      // A HEAD answered from storage is kept from the origin, and sends no body.
      const head = await worker.fetch("/off/big", { method: "HEAD" });
      assert.match(head.cacheStatus, /; hit;/);
      sent.requests++;
      const origins = served(origin);
      assert.equal(origins.requests, 5, "two first requests and three private ones");
      const got = await stats(worker);
      const expected = { kept: sent.requests - origins.requests, keptBytes: sent.bytes - origins.bytes, shieldKept: 0, shieldKeptBytes: 0 };
      assert.deepEqual([expected.kept, expected.keptBytes], [7, 4 * 1000 + 2 * 300]);
      assertKept(got.hour, "edge.test", expected, "no shield");
      assert.equal(got.hour.total.offload, 7 / 12);
      assert.equal(got.hour.total.shield_share, 0);
    } finally {
      await dispose();
    }
  });

  it("counts a request under the tags its origin gave the entry (Cache-Tag), not only its route's", async () => {
    const { origin, worker, dispose } = await setup({ bindings: { ADMIN_TOKEN: TOKEN }, config: { ...CONFIG, backends: ["memory"] } });
    try {
      origin.on("/off/tagged", () => ({ headers: { "cache-control": "max-age=600", "cache-tag": "product-7,news" }, body: "t".repeat(100) }));
      await worker.fetchStored("/off/tagged");
      for (let i = 0; i < 3; i++) assert.match((await worker.fetch("/off/tagged")).cacheStatus, /; hit;/);
      assert.equal(origin.count("/off/tagged", "GET"), 1);
      const got = await stats(worker);
      for (const tag of ["product-7", "news", "offload"]) {
        const row = got.hour.tags[tag];
        assert.ok(row, `a row for ${tag}: ${JSON.stringify(Object.keys(got.hour.tags))}`);
        assert.equal(row.kept, 3, `${tag}: the three hits were kept from the origin`);
        assert.equal(row.kept_bytes, 300, `${tag}: and their bytes`);
        assert.equal(row.hits + row.misses, 4, `${tag}: the miss that stored the entry counts under it too`);
      }
    } finally {
      await dispose();
    }
  });

  it("attributes to the shield what it answered a location without the origin, and still adds up to what the origin did not serve", async () => {
    const { origin, deployment, dispose } = await setup({
      locations: { count: 2 },
      bindings: { ADMIN_TOKEN: TOKEN },
      config: { ...CONFIG, backends: ["memory", "kv"], shield: true },
    });
    try {
      answer(origin);
      const [a, b] = deployment.locations;
      const { sent, fetch } = counting([a, b]);
      // A miss at a goes through the shield to the origin; the same URL at b is a miss there,
      // answered by the shield from its storage; b's next request is b's own hit.
      for (const path of ["/off/big", "/off/small"]) {
        await fetch(0, path);
        await sleep(300);
        await fetch(1, path);
        await sleep(300);
        await fetch(1, path);
        await fetch(0, path);
      }
      await fetch(0, "/off/private");
      await fetch(1, "/off/private");
      assert.ok(sent.shieldHits >= 2, `the shield answered from its storage (${sent.shieldHits})`);
      // Each isolate (the shield's too) reports what it counted at most every 10 s, with its
      // next request: one more request at b, and one more miss through the shield, once due.
      await sleep(10_500);
      await fetch(1, "/off/big");
      await fetch(0, "/off/flush");
      const origins = served(origin);
      const expected = {
        kept: sent.requests - origins.requests,
        keptBytes: sent.bytes - origins.bytes,
        shieldKept: sent.shieldHits,
        shieldKeptBytes: sent.shieldHits === 2 ? 1000 + 300 : null,
      };
      assert.equal(origins.requests, 5, "big, small, flush once each; private from each location");
      let got;
      for (let tries = 0; tries < 50; tries++) {
        got = await stats(a);
        const t = got.hour.total;
        if ((t.shield_kept ?? 0) === expected.shieldKept && t.hits + t.stale + t.misses + t.bypasses === sent.requests) break;
        await sleep(100);
      }
      assertKept(got.hour, "edge.test", expected, "with the shield");
      assert.ok(got.hour.total.shield_share > 0 && got.hour.total.shield_share < 1);
      assert.equal(got.day.total.kept, expected.kept, "the day holds the hour");
    } finally {
      await dispose();
    }
  });
});
