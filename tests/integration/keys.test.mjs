// What makes two requests share an entry: Vary, route vary rules, query normalisation,
// versions, hosts, and headers that must not be able to poison a shared entry.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setup, withOrigin, withWorker } from "../support/fixture.mjs";

for (const backends of [["memory"], ["cache"], ["kv"]]) describe(`Vary (${backends[0]})`, () => {
  const { origin, worker } = withWorker({ config: { backends } });
  before(() => {
    origin.on("/greet", (record, n) => ({
      headers: { "cache-control": "max-age=60", vary: "Accept-Language" },
      body: `${record.headers["accept-language"] ?? "none"} #${n}`,
    }));
  });

  it("keeps one variant per value of the listed request header", async () => {
    const fr = { headers: { "accept-language": "fr" } };
    const de = { headers: { "accept-language": "de" } };
    assert.equal((await worker.fetch("/greet", fr)).body, "fr #1");
    await worker.stored("/greet", fr);

    const deMiss = await worker.fetch("/greet", de);
    assert.equal(deMiss.body, "de #2", "another language never gets the French variant");
    assert.equal(deMiss.cacheStatus, "edgecache; fwd=vary-miss; fwd-status=200; stored");
    await worker.stored("/greet", de);

    assert.equal((await worker.fetch("/greet", fr)).body, "fr #1");
    assert.equal((await worker.fetch("/greet", de)).body, "de #2");
    const es = await worker.fetch("/greet", { headers: { "accept-language": "es" } });
    assert.equal(es.body, "es #3");
    assert.equal(origin.count("/greet", "GET"), 3);
  });

  it("drops every variant when an unsafe method changes the URL, even in an isolate that knows its variants", async () => {
    const it = { headers: { "accept-language": "it" } };
    const first = (await worker.fetch("/greet", it)).body;
    await worker.stored("/greet", it);
    assert.equal((await worker.fetch("/greet", it)).body, first, "a hit through the URL's Vary marker");
    const post = await worker.fetch("/greet", { method: "POST", body: "x" });
    assert.equal(post.status, 200);
    const after = await worker.fetch("/greet", it);
    assert.notEqual(after.body, first, "the variant stored before the POST is not served");
    assert.match(after.cacheStatus, /fwd=miss/);
  });

  it("normalises white space so equivalent requests share a variant", async () => {
    await worker.fetch("/greet", { headers: { "accept-language": "en,  fr" } });
    await worker.stored("/greet", { headers: { "accept-language": "en,  fr" } });
    const same = await worker.fetch("/greet", { headers: { "accept-language": "en, fr" } });
    assert.match(same.cacheStatus, /; hit;/);
    for (const equivalent of ["en,fr", " EN , Fr "]) {
      const hit = await worker.fetch("/greet", { headers: { "accept-language": equivalent } });
      assert.match(hit.cacheStatus, /; hit;/, `${equivalent} is the same request`);
    }
    const reordered = await worker.fetch("/greet", { headers: { "accept-language": "fr, en" } });
    assert.doesNotMatch(reordered.cacheStatus, /; hit;/, "another order may pick another language");
  });
});

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

describe("cache poisoning", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"] } });
  before(() => {
    // An origin that trusts every override header, as many frameworks do.
    origin.on("/poison", (record, n) => ({
      headers: { "cache-control": "max-age=60" },
      body: JSON.stringify({
        host: record.headers["x-forwarded-host"],
        proto: record.headers["x-forwarded-proto"],
        scheme: record.headers["x-forwarded-scheme"] ?? null,
        original: record.headers["x-original-url"] ?? null,
        override: record.headers["x-http-method-override"] ?? null,
        forwarded: record.headers.forwarded ?? null,
        n,
      }),
    }));
  });

  it("does not let unkeyed override headers reach the origin on cacheable requests", async () => {
    const attack = await worker.fetch("/poison", {
      headers: {
        "x-forwarded-host": "evil.test",
        "x-forwarded-proto": "javascript",
        "x-forwarded-scheme": "nothttps",
        "x-original-url": "/admin",
        "x-http-method-override": "DELETE",
        forwarded: "host=evil.test",
      },
    });
    assert.deepEqual(JSON.parse(attack.body), {
      host: "edge.test", proto: "http", scheme: null, original: null, override: null, forwarded: null, n: 1,
    });
    await worker.stored("/poison");
    const victim = await worker.fetch("/poison");
    assert.equal(JSON.parse(victim.body).host, "edge.test");
  });

  it("ignores a body sent with a GET", async () => {
    const got = await worker.mf.dispatchFetch("http://edge.test/get-body", { method: "GET", headers: { "content-type": "text/plain" } });
    assert.equal(got.status, 200);
    await got.text();
    assert.equal(origin.last("/get-body").body, "");
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
