// Route rules: bypass, a route's ttl over the origin's and browser_ttl for clients, and what a
// route keys on: query parameters ignored, sorted or allow-listed, named cookies, named
// request fields, the host (host rules, hosts and schemes kept apart).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

describe("route rules", () => {
  const { origin, worker } = withWorker({
    config: {
      backends: ["memory"],
      routes: [
        { path: "/api/**", bypass: true },
        { path: "/override", ttl: 120, browser_ttl: 30 },
        { path: "/search", query_allow: ["q"] },
        { path: "/lang/**", vary_cookies: ["lang"] },
        { path: "/hdr", vary_headers: ["X-Device"] },
        { path: "/only-on-b/**", host: "b.test", bypass: true },
        { path: "/**", query_ignore: ["utm_*", "fbclid"] },
      ],
    },
  });

  it("bypasses the cache on a bypass route", async () => {
    for (const n of [1, 2]) {
      const got = await worker.fetch("/api/items");
      assert.equal(got.body, `/api/items #${n}`);
      assert.equal(got.cacheStatus, "edgecache; fwd=bypass; fwd-status=200; detail=route-bypass");
    }
  });

  it("caches for the route's TTL whatever the origin says, and tells browsers browser_ttl", async () => {
    origin.on("/override", { headers: { "cache-control": "max-age=0, must-revalidate" } });
    const first = await worker.fetch("/override");
    assert.equal(first.headers.get("cache-control"), "max-age=30");
    await worker.stored("/override");
    const hit = await worker.fetch("/override");
    assert.match(hit.cacheStatus, /^edgecache; hit; ttl=(119|120); detail=memory$/);
    assert.equal(hit.headers.get("cache-control"), "max-age=30");
    assert.equal(origin.count("/override", "GET"), 1);
  });

  it("ignores listed query parameters and sorts the rest", async () => {
    await worker.fetch("/list?b=2&a=1&utm_source=mail");
    await worker.stored("/list?a=1&b=2");
    const reordered = await worker.fetch("/list?fbclid=x&a=1&b=2&utm_medium=y");
    assert.match(reordered.cacheStatus, /; hit;/);
    assert.equal(origin.count("/list", "GET"), 1);
    assert.equal(origin.last("/list").url, "/list?a=1&b=2", "the origin gets the URL the key holds: ignored parameters never reach it");
    const other = await worker.fetch("/list?a=1&b=3");
    assert.match(other.cacheStatus, /fwd=miss/);
  });

  it("keeps only allow-listed query parameters in the key", async () => {
    await worker.fetch("/search?q=cats&session=1");
    await worker.stored("/search?q=cats&session=2");
    assert.match((await worker.fetch("/search?q=dogs")).cacheStatus, /fwd=miss/);
    assert.equal(origin.count("/search", "GET"), 2);
  });

  it("keys on named cookies only, and sends the origin only those", async () => {
    origin.on("/lang/home", (record, n) => ({ headers: { "cache-control": "max-age=60", vary: "Cookie" }, body: `${record.headers.cookie ?? ""} #${n}` }));
    const fr1 = { headers: { cookie: "session=alice; lang=fr" } };
    const fr2 = { headers: { cookie: "lang=fr; session=bob" } };
    const de = { headers: { cookie: "lang=de; session=alice" } };
    assert.equal((await worker.fetch("/lang/home", fr1)).body, "lang=fr #1", "the session cookie never reaches the origin");
    await worker.stored("/lang/home", fr1);
    const shared = await worker.fetch("/lang/home", fr2);
    assert.match(shared.cacheStatus, /; hit;/, "another session with the same lang shares the entry");
    assert.equal((await worker.fetch("/lang/home", de)).body, "lang=de #2");
  });

  it("keys on named request headers", async () => {
    await worker.fetch("/hdr", { headers: { "x-device": "mobile" } });
    await worker.stored("/hdr", { headers: { "x-device": "mobile" } });
    assert.match((await worker.fetch("/hdr", { headers: { "x-device": "desktop" } })).cacheStatus, /fwd=miss/);
    assert.match((await worker.fetch("/hdr", { headers: { "x-device": "mobile" } })).cacheStatus, /; hit;/);
  });

  it("applies host-specific rules only on that host", async () => {
    assert.match((await worker.fetch("http://b.test/only-on-b/x")).cacheStatus, /detail=route-bypass/);
    assert.match((await worker.fetch("http://a.test/only-on-b/x")).cacheStatus, /; stored$/);
  });

  it("keeps hosts and schemes apart", async () => {
    origin.on("/hosted", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `${record.headers["x-forwarded-host"]} ${record.headers["x-forwarded-proto"]} #${n}` }));
    assert.equal((await worker.fetch("http://one.test/hosted")).body, "one.test http #1");
    await worker.stored("http://one.test/hosted");
    assert.equal((await worker.fetch("http://two.test/hosted")).body, "two.test http #2");
    assert.equal((await worker.fetch("https://one.test/hosted")).body, "one.test https #3");
    assert.equal((await worker.fetch("http://one.test/hosted")).body, "one.test http #1");
  });
});
