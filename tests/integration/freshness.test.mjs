// Freshness: how long an entry may be used. Request directives (max-age, min-fresh,
// max-stale, only-if-cached), the targeted fields (CDN-Cache-Control,
// Cloudflare-CDN-Cache-Control, Surrogate-Control) over Cache-Control, and default_ttl 0.
// Staleness is produced with the origin's `Age` header rather than by waiting.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

const ttlOf = (cacheStatus) => Number(/ttl=(-?\d+)/.exec(cacheStatus)?.[1]);

describe("request directives", () => {
  // Entries stored moments ago: without client_refresh_interval 0 a forced refresh of them
  // would be answered from storage (tested in hostile-world.test.mjs).
  const { origin, worker } = withWorker({ config: { backends: ["memory"], client_refresh_interval: 0 } });
  before(async () => {
    origin.on("/rd", (record, n) => ({ headers: { "cache-control": "max-age=100", age: "50", etag: '"rd"' }, body: `rd #${n}` }));
    origin.on("/old", (record, n) => ({ headers: { "cache-control": "max-age=10", age: "20" , etag: '"old"'}, body: `old #${n}` }));
    await worker.fetchStored("/rd");
    await worker.fetchStored("/old");
  });

  it("honours max-age by going to the origin when the entry is older", async () => {
    const young = await worker.fetch("/rd", { headers: { "cache-control": "max-age=3600" } });
    assert.match(young.cacheStatus, /; hit;/);
    const strict = await worker.fetch("/rd", { headers: { "cache-control": "max-age=10" } });
    assert.match(strict.cacheStatus, /^edgecache; fwd=request; fwd-status=/);
  });

  it("honours min-fresh", async () => {
    origin.on("/mf", { headers: { "cache-control": "max-age=100" } });
    await worker.fetchStored("/mf");
    assert.match((await worker.fetch("/mf", { headers: { "cache-control": "min-fresh=10" } })).cacheStatus, /; hit;/);
    assert.match((await worker.fetch("/mf", { headers: { "cache-control": "min-fresh=200" } })).cacheStatus, /fwd=request/);
  });

  it("serves a stale entry to a request that accepts it with max-stale", async () => {
    const accepted = await worker.fetch("/old", { headers: { "cache-control": "max-stale=60" } });
    assert.equal(accepted.body, "old #1");
    assert.equal(accepted.cacheStatus, `edgecache; hit; ttl=${ttlOf(accepted.cacheStatus)}; detail=max-stale`);
    assert.ok(ttlOf(accepted.cacheStatus) < 0, "a stale hit reports a negative ttl");
    const tooOld = await worker.fetch("/old", { headers: { "cache-control": "max-stale=5" } });
    assert.match(tooOld.cacheStatus, /fwd=stale/);
  });

  it("answers only-if-cached from storage or with a 504", async () => {
    const cached = await worker.fetch("/rd", { headers: { "cache-control": "only-if-cached" } });
    assert.equal(cached.status, 200);
    const before = origin.requests.length;
    const missing = await worker.fetch("/never-asked", { headers: { "cache-control": "only-if-cached" } });
    assert.equal(missing.status, 504);
    assert.equal(missing.cacheStatus, "edgecache; fwd=miss; detail=only-if-cached");
    assert.equal(origin.requests.length, before, "the origin is not asked");
  });
});

describe("targeted Cache-Control", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"] } });

  // CDN-Cache-Control speaks to every CDN downstream too (RFC 9213 §3): it is passed on.
  // Cloudflare-CDN-Cache-Control is Cloudflare's alone, and Cloudflare does not pass it on.
  for (const [field, passedOn] of [["CDN-Cache-Control", true], ["Cloudflare-CDN-Cache-Control", false], ["Surrogate-Control", false], ["Edgecache-Cache-Control", false]]) {
    it(`stores by ${field} over Cache-Control and ${passedOn ? "passes it on" : "hides it from clients"}`, async () => {
      const path = `/targeted-${field}`;
      origin.on(path, { headers: { "cache-control": "no-store", [field]: "max-age=120" } });
      const first = await worker.fetch(path);
      assert.equal(first.headers.get("cache-control"), "no-store", "clients still see the origin's Cache-Control");
      assert.equal(first.headers.get(field), passedOn ? "max-age=120" : null);
      await worker.stored(path);
      const hit = await worker.fetch(path);
      assert.match(hit.cacheStatus, /; hit; ttl=(119|120);/);
      assert.equal(hit.headers.get(field), passedOn ? "max-age=120" : null);
    });
  }

  it("takes Cloudflare-CDN-Cache-Control over CDN-Cache-Control, and passes on only the latter", async () => {
    origin.on("/cloudflare-over-cdn", { headers: { "cache-control": "max-age=5", "cdn-cache-control": "max-age=60", "cloudflare-cdn-cache-control": "max-age=300" } });
    const first = await worker.fetch("/cloudflare-over-cdn");
    assert.equal(first.headers.get("cdn-cache-control"), "max-age=60");
    assert.equal(first.headers.get("cloudflare-cdn-cache-control"), null);
    await worker.stored("/cloudflare-over-cdn");
    assert.match((await worker.fetch("/cloudflare-over-cdn")).cacheStatus, /; hit; ttl=(299|300);/);
  });

  it("ignores an invalid Cloudflare-CDN-Cache-Control for the next field", async () => {
    origin.on("/cloudflare-invalid", { headers: { "cache-control": "no-store", "cdn-cache-control": "max-age=60", "cloudflare-cdn-cache-control": 'max-age="300"' } });
    await worker.fetch("/cloudflare-invalid");
    await worker.stored("/cloudflare-invalid");
    assert.match((await worker.fetch("/cloudflare-invalid")).cacheStatus, /; hit; ttl=(59|60);/);
  });

  it("announces itself in Surrogate-Capability and takes the Surrogate-Control directives targeted at it", async () => {
    origin.on("/surrogate-targeted", { headers: { "cache-control": "no-store", "surrogate-control": "max-age=120;edgecache, no-store;other" } });
    await worker.fetch("/surrogate-targeted", { headers: { "surrogate-capability": 'evil="Surrogate/1.0 ESI/1.0"' } });
    const asked = origin.requests.filter((r) => r.path === "/surrogate-targeted");
    assert.equal(asked[0].headers["surrogate-capability"], 'edgecache="Surrogate/1.0"', "a client's own capability is not keyed: dropped");
    await worker.stored("/surrogate-targeted");
    assert.match((await worker.fetch("/surrogate-targeted")).cacheStatus, /; hit; ttl=(119|120);/);
  });

  for (const value of ["max-age=10000, &&&&&", 'max-age="10000"', "max-age =100"]) {
    it(`ignores CDN-Cache-Control: ${value} (not a valid Structured Field) for Cache-Control: no-store`, async () => {
      const path = `/cdn-invalid-${encodeURIComponent(value)}`;
      origin.on(path, { headers: { "cache-control": "no-store", "cdn-cache-control": value } });
      assert.match((await worker.fetch(path)).cacheStatus, /detail=no-store/);
      assert.match((await worker.fetch(path)).cacheStatus, /detail=no-store/);
      assert.equal(origin.count(path), 2);
    });
  }

  it("lets a targeted no-store keep a Cache-Control: public response out of the cache", async () => {
    origin.on("/cdn-no-store", { headers: { "cache-control": "public, max-age=60", "cdn-cache-control": "no-store" } });
    assert.match((await worker.fetch("/cdn-no-store")).cacheStatus, /detail=no-store/);
    assert.match((await worker.fetch("/cdn-no-store")).cacheStatus, /detail=no-store/);
  });
});

describe("default_ttl 0: no lifetime guessed from nothing", () => {
  const { origin, worker } = withWorker({ config: { default_ttl: 0 } });

  it("does not store a response that gives neither a lifetime nor a Last-Modified", async () => {
    origin.on("/says-nothing", { headers: { "content-type": "text/plain" } });
    await worker.fetch("/says-nothing");
    await new Promise((r) => setTimeout(r, 100));
    await worker.fetch("/says-nothing");
    assert.equal(origin.count("/says-nothing"), 2);
  });

  it("still guesses from Last-Modified (10% of its age)", async () => {
    const lastModified = new Date(Date.now() - 100_000 * 1000).toUTCString();
    origin.on("/old-page", { headers: { "content-type": "text/plain", "last-modified": lastModified } });
    await worker.fetch("/old-page");
    await worker.stored("/old-page");
    assert.match((await worker.fetch("/old-page")).cacheStatus, /; hit; ttl=(59[0-9]|600);/);
    assert.equal(origin.count("/old-page", "GET"), 1);
  });
});
