// Bounded stats (issue 24, class 4): hosts are kept by traffic, not by arrival, in each
// isolate's report and in the control plane; what /stats answers and what the object keeps
// stay bounded however many names clients invent; names longer than a DNS name are cut.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

const TOKEN = "stats-bounds-token";
const auth = { authorization: `Bearer ${TOKEN}` };
/** stats::LIMITS: names kept per dimension, and bytes of them. */
const NAMES = 64;
const NAME_BYTES = 4096;
/** The longest name kept (a DNS name's, heavy.rs MAX_NAME_BYTES). */
const MAX_NAME = 253;

async function stats(worker) {
  const got = await worker.fetch("/_edgecache/stats", { headers: auth });
  assert.equal(got.status, 200, got.body);
  return { body: got.body, stats: JSON.parse(got.body) };
}

/** Sends `count` requests, `at once` at a time, `target(i)` for each. */
async function send(worker, count, target, atOnce = 16) {
  for (let i = 0; i < count; i += atOnce) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + atOnce); j++) batch.push(worker.fetch(target(j)));
    for (const got of await Promise.all(batch)) assert.ok(got.status < 500, `${got.status} ${got.body}`);
  }
}

const requests = (c) => c.hits + c.stale + c.misses + c.bypasses;
const bytes = (name) => Buffer.byteLength(name, "utf8");

function assertBounded(window, label) {
  const names = Object.keys(window.hosts).filter((n) => n !== "(other hosts)");
  assert.ok(names.length <= NAMES, `${label}: ${names.length} hosts named`);
  assert.ok(names.reduce((n, name) => n + bytes(name), 0) <= NAME_BYTES, `${label}: host names over ${NAME_BYTES} bytes`);
  for (const name of names) assert.ok(bytes(name) <= MAX_NAME, `${label}: a host name of ${bytes(name)} bytes`);
}

describe("stats kept by traffic, bounded per day", () => {
  const { origin, worker } = withWorker({
    bindings: { ADMIN_TOKEN: TOKEN },
    config: { backends: ["memory"], routes: [{ path: "/noise/**", bypass: true }] },
  });

  it("names the real host in /stats after hundreds of invented hosts came first", async () => {
    origin.on("/page", { headers: { "cache-control": "max-age=600" }, body: "the real page" });
    // 70 invented hosts first (the old per-report bound was 64, first come), then a mix.
    await send(worker, 70, (i) => `http://invented-${i}.test/noise/x`);
    await send(worker, 600, (i) => (i % 4 === 0 ? "http://www.real.test/page" : `http://made-up-${i}.test/noise/x`));
    const { stats: got } = await stats(worker);
    for (const window of ["hour", "day"]) {
      const real = got[window].hosts["www.real.test"];
      assert.ok(real, `${window}: www.real.test is named among ${Object.keys(got[window].hosts).length}`);
      assert.ok(requests(real) <= 150 && requests(real) + (real.error ?? 0) >= 150, JSON.stringify(real));
      assert.ok(real.hits >= 100, `${window}: ${real.hits} hits counted for the real host`);
      assertBounded(got[window], window);
      assert.ok(got[window].hosts["(other hosts)"], "the invented hosts count together");
      const counted = Object.values(got[window].hosts).reduce((n, c) => n + requests(c), 0);
      assert.equal(counted, requests(got[window].total), `${window}: every request counts, named or not`);
    }
    assert.equal(requests(got.hour.total), 670);
  });

  it("keeps /stats bounded after thousands of distinct hosts", async () => {
    origin.on("/page", { headers: { "cache-control": "max-age=600" }, body: "the real page" });
    // One request in ten for the real host, the others each for a host of its own.
    const target = (prefix) => (i) => (i % 10 === 0 ? "http://www.real.test/page" : `http://${prefix}-${i}.example/noise/y`);
    await send(worker, 1000, target("first"));
    const after1000 = await stats(worker);
    await send(worker, 2000, target("second"));
    const after3000 = await stats(worker);
    for (const [label, { stats: got }] of [["after 1,000", after1000], ["after 3,000", after3000]]) {
      assertBounded(got.hour, `${label}, hour`);
      assertBounded(got.day, `${label}, day`);
    }
    console.log(`/stats: ${after1000.body.length} bytes after 1,000 invented hosts, ${after3000.body.length} after 3,000`);
    assert.ok(after3000.body.length < 128 * 1024, `${after3000.body.length} bytes`);
    assert.ok(after3000.body.length <= after1000.body.length * 1.25, "no growth with the number of hosts");
    assert.ok(after3000.stats.hour.hosts["www.real.test"], "the real host is still named");
  });

  it("cuts host names longer than a DNS name to 253 bytes, and still counts them", async () => {
    // 4,000 bytes of labels: a host no DNS name can be.
    const long = `${Array.from({ length: 66 }, (_, i) => `l${String(i).padStart(2, "0")}${"a".repeat(57)}`).join(".")}.test`;
    assert.ok(long.length > 4000);
    const before = (await stats(worker)).stats.hour.total;
    await send(worker, 30, (i) => `http://${i % 2 ? long : long.replace("l00", "l99")}/noise/z`, 4);
    const { stats: got } = await stats(worker);
    assert.equal(requests(got.hour.total) - requests(before), 30);
    const cut = Object.keys(got.hour.hosts).filter((name) => name.endsWith("…"));
    assert.ok(cut.length >= 1, `a cut name among ${Object.keys(got.hour.hosts).length}`);
    for (const name of cut) assert.ok(bytes(name) <= MAX_NAME, `${bytes(name)} bytes`);
    assert.ok(cut.some((name) => long.startsWith(name.slice(0, -1))), "cut from its start");
    assertBounded(got.hour, "hour");
  });
});

describe("why, per URL: top URLs, misses and answers not stored", () => {
  const { origin, worker } = withWorker({
    bindings: { ADMIN_TOKEN: TOKEN },
    config: { backends: ["memory"], routes: [{ path: "/api/**", bypass: true }] },
  });

  it("names the URLs, the misses and the answers not stored with their reasons, and counts the hit ratio of what could be stored", async () => {
    origin.on("/page", { headers: { "cache-control": "max-age=600" }, body: "shared" });
    origin.on("/me", { headers: { "cache-control": "private" }, body: "mine" });
    origin.on("/gone", { status: 404, headers: { "cache-control": "no-store" }, body: "no" });
    await worker.fetchStored("/page?token=secret-value");
    for (let i = 0; i < 5; i++) await worker.fetch("/page?token=secret-value");
    for (let i = 0; i < 3; i++) await worker.fetch("/me");
    for (let i = 0; i < 2; i++) await worker.fetch("/api/now");
    await worker.fetch("/gone");
    const { body, stats: got } = await stats(worker);
    assert.ok(!body.includes("secret-value"), "query values never reach /stats");
    const hour = got.hour;
    const page = hour.urls["edge.test/page?token=*"];
    assert.ok(page && page.hits >= 5, JSON.stringify(hour.urls));
    assert.equal(hour.miss_urls["edge.test/page?token=*"].misses, 1);
    assert.equal(hour.unstored_urls["edge.test/me"].reasons.private, 3);
    assert.equal(hour.unstored_urls["edge.test/api/now"].reasons["route-bypass"], 2);
    assert.equal(hour.unstored_urls["edge.test/page?token=*"], undefined, "a stored page is not listed as not stored");
    assert.equal(hour.statuses["404"].misses, 1);
    assert.ok(hour.statuses["200"].hits >= 5);
    // Misses: /page once, /me three times, /gone once; only /page's could have been stored.
    const t = hour.total;
    assert.equal(t.not_stored, 4);
    assert.equal(t.storable_hit_ratio, (t.hits + t.stale) / (t.hits + t.stale + t.misses - t.not_stored));
    assert.ok(t.storable_hit_ratio > t.hit_ratio, `${t.storable_hit_ratio} > ${t.hit_ratio}`);
    assert.equal(t.uncacheable_share, (t.bypasses + t.not_stored) / requests(t));
  });

  it("says per URL, in words and JSON, its route, what each tier holds and why it was not stored", async () => {
    const inspect = async (url) => {
      const got = await worker.fetch(`/_edgecache/inspect?url=${encodeURIComponent(url)}`, { headers: auth });
      assert.equal(got.status, 200, got.body);
      return JSON.parse(got.body);
    };
    const me = await inspect("http://edge.test/me");
    assert.equal(me.bypass, false);
    assert.equal(me.tiers[0].present, false);
    assert.equal(me.not_stored.reasons.private, 3);
    assert.ok(me.why.includes("memory: not stored."), me.why.join(" | "));
    assert.ok(me.why.some((w) => /In the last day, 3 of its requests were not stored: private \(3\)/.test(w)), me.why.join(" | "));
    const api = await inspect("http://edge.test/api/now");
    assert.equal(api.bypass, true);
    assert.match(api.why[0], /^Route \/api\/\*\* is bypassed/);
    assert.equal(api.not_stored.reasons["route-bypass"], 2);
    const page = await inspect("http://edge.test/page?token=secret-value");
    assert.equal(page.tiers[0].present, true);
    assert.equal(page.not_stored, null, "a stored page has no reason not to be");
    assert.equal(page.stats_name, "edge.test/page?token=*");
    assert.match(page.why.join(" "), /memory: stored \(status 200, \d+ s of freshness left\)/);
  });
});

describe("ESI fragments in the stats", () => {
  const { origin, worker } = withWorker({
    bindings: { ADMIN_TOKEN: TOKEN },
    config: { backends: ["memory"], routes: [{ path: "/pages/**", esi: true, esi_includes: ["/frag/**"] }] },
  });

  it("counts each fragment a page includes, by URL, apart from the pages' totals", async () => {
    const html = { "content-type": "text/html; charset=utf-8", "cache-control": "max-age=60" };
    origin.on("/pages/a", { headers: html, body: '<esi:include src="/frag/nav"/> a <esi:include src="/frag/clock?tz=Europe/Paris"/>' });
    origin.on("/pages/b", { headers: html, body: '<esi:include src="/frag/nav"/> b' });
    origin.on("/frag/nav", { headers: { ...html }, body: "nav" });
    origin.on("/frag/clock", { headers: { ...html, "cache-control": "no-store" }, body: "12:00" });
    for (let i = 0; i < 3; i++) {
      for (const page of ["/pages/a", "/pages/b"]) {
        const got = await worker.fetch(page);
        assert.equal(got.status, 200);
        assert.match(got.body, /nav/);
      }
    }
    const { stats: got } = await stats(worker);
    const fragments = got.hour.fragments;
    assert.equal(requests(fragments["edge.test/frag/nav"]), 6, JSON.stringify(fragments));
    assert.ok(fragments["edge.test/frag/nav"].hits >= 4, "stored after its first fetch");
    const clock = fragments["edge.test/frag/clock?tz=*"];
    assert.equal(requests(clock), 3);
    assert.equal(clock.reasons["no-store"], 3);
    assert.equal(requests(got.hour.total), 6, "the pages are the requests");
  });
});
