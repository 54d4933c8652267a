// Route rules: bypass, a route's ttl over the origin's and browser_ttl for clients, and what a
// route keys on: query parameters ignored, sorted or allow-listed, named cookies, named
// request fields, the host (host rules, hosts and schemes kept apart); bypass_cookies, at the
// top level and per route.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

describe("route rules", () => {
  const { origin, worker } = withWorker({
    config: {
      backends: ["memory"],
      bypass_cookies: ["sessionid"],
      routes: [
        { path: "/api/**", bypass: true },
        { path: "/admin/**", bypass: true },
        { path: "/static/**", bypass_cookies: [] },
        { path: "/shop/**", bypass_cookies: ["cart"] },
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

  it("lets /admin/** match the folder itself, with or without its slash, and nothing beside it", async () => {
    for (const target of ["/admin", "/admin/", "/admin/users/1"]) {
      for (const n of [1, 2]) {
        const got = await worker.fetch(target);
        assert.equal(got.cacheStatus, "edgecache; fwd=bypass; fwd-status=200; detail=route-bypass", `${target} #${n}`);
      }
      assert.equal(origin.count(target, "GET"), 2, `${target} reached the origin each time`);
    }
    assert.match((await worker.fetch("/adminx")).cacheStatus, /fwd=miss; fwd-status=200; stored/, "a sibling that merely starts like it is not the folder");
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

  it("passes a request carrying a bypass cookie to the origin as sent, and never stores or serves its answer", async () => {
    origin.on("/account", (record, n) => ({ headers: { "cache-control": "public, max-age=600" }, body: `${record.headers.cookie ?? "anonymous"} #${n}` }));
    const alice = { headers: { cookie: "csrftoken=t; sessionid=alice" } };
    const first = await worker.fetch("/account", alice);
    assert.equal(first.body, "csrftoken=t; sessionid=alice #1", "the origin gets the request with its cookies");
    assert.equal(first.cacheStatus, "edgecache; fwd=bypass; fwd-status=200; detail=bypass-cookie");
    assert.equal((await worker.fetch("/account")).body, "anonymous #2", "a logged-in user's answer was not stored for others");
    await worker.stored("/account");
    const again = await worker.fetch("/account", alice);
    assert.equal(again.body, "csrftoken=t; sessionid=alice #3", "a stored anonymous page is not served to a logged-in user");
    assert.match(again.cacheStatus, /detail=bypass-cookie/);
    assert.match((await worker.fetch("/account")).cacheStatus, /; hit;/, "anonymous visitors still get the stored page");
    assert.equal(origin.count("/account", "GET"), 3);
  });

  it("passes every spelling of a bypass cookie a client could use to dodge it", async () => {
    origin.on("/spelled", (record, n) => ({ headers: { "cache-control": "public, max-age=600" }, body: `#${n}` }));
    await worker.fetch("/spelled");
    await worker.stored("/spelled");
    const spellings = ["SessionID=x", "a=1,sessionid=x", "  sessionid =x", "session%69d=x", "a=1; a=2; sessionid=x; sessionid=y"];
    for (const cookie of spellings) {
      const got = await worker.fetch("/spelled", { headers: { cookie } });
      assert.match(got.cacheStatus, /fwd=bypass; fwd-status=200; detail=bypass-cookie/, cookie);
    }
    assert.equal(origin.count("/spelled", "GET"), 1 + spellings.length);
    const other = await worker.fetch("/spelled", { headers: { cookie: "sessionid_old=x; csrftoken=y" } });
    assert.match(other.cacheStatus, /; hit;/, "other cookies do not pass the request");
  });

  it("lets a route's bypass_cookies replace the top level's", async () => {
    origin.on("/static/app.css", { headers: { "cache-control": "max-age=600" } });
    await worker.fetch("/static/app.css");
    await worker.stored("/static/app.css");
    const loggedIn = await worker.fetch("/static/app.css", { headers: { cookie: "sessionid=alice" } });
    assert.match(loggedIn.cacheStatus, /; hit;/, "bypass_cookies = [] turns the top-level list off on the route");
    assert.match((await worker.fetch("/shop/basket", { headers: { cookie: "cart=1" } })).cacheStatus, /detail=bypass-cookie/);
    await worker.fetch("/shop/basket");
    await worker.stored("/shop/basket");
    assert.match((await worker.fetch("/shop/basket", { headers: { cookie: "sessionid=alice" } })).cacheStatus, /; hit;/, "the route's list replaces the top level's, it does not add to it");
  });

  it("does not let an ambiguous path escape a bypass cookie through a route without one", async () => {
    origin.on("/page", { headers: { "cache-control": "public, max-age=600" } });
    const got = await worker.fetch("/static/..%2fpage", { headers: { cookie: "sessionid=alice" } });
    assert.match(got.cacheStatus, /detail=bypass-cookie/);
  });
});
