// The hostile world: an origin that decodes `%2F`, drops `;params`, merges slashes, ignores
// case, splits queries on `;` and reflects its input (tests/support/hostile-origin.mjs), and
// attackers who know it. No request may change what others get except through the key, and
// no user may ever get another user's page.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REFLECTED } from "../support/hostile-origin.mjs";
import { setup, withWorker } from "../support/fixture.mjs";

const ROUTES = [
  { path: "/api/**", bypass: true },
  { path: "/**", host: "api.edge.test", bypass: true },
  { path: "/static/**", ttl: 86400 },
  { path: "/*.css", ttl: 600 },
  { path: "/search", query_allow: ["page"] },
  { path: "/errors/**", ttl: 86400 },
  { path: "/notfound/**", ttl: 86400, ttl_by_status: { 404: 60, "5xx": 0 } },
  { path: "/**", query_ignore: ["utm_*"] },
];

const alice = { cookie: "session=alice" };

describe("the hostile world", () => {
  let kvDir;
  before(() => {
    kvDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-hostile-world-"));
  });
  const { origin, worker } = withWorker(() => ({ origin: "hostile", kvPersist: kvDir, config: { backends: ["memory", "cache", "kv"], routes: ROUTES } }));
  after(() => fs.rmSync(kvDir, { recursive: true, force: true }));

  /** No request made after an attack on `target` gets the attacker's or the victim's input. */
  async function assertClean(target, forbidden, headers = {}) {
    for (let i = 0; i < 2; i++) {
      const got = await worker.fetch(target, { headers });
      for (const word of forbidden) assert.ok(!got.body.includes(word), `${target} carries ${word}: ${got.body}`);
    }
  }

  describe("unkeyed query parameters never reach the origin", () => {
    it("leaves an ignored parameter out of the origin request, so its reflection is never stored", async () => {
      const attack = await worker.fetch('/page?utm_content="><script>alert(1)</script>');
      assert.ok(!attack.body.includes("<script>"), attack.body);
      assert.deepEqual(origin.last("/page").query, {});
      await worker.stored("/page");
      await assertClean("/page", ["<script>"]);
    });

    it("decodes parameter names before the rule, as the origin does", async () => {
      await worker.fetch("/page2?utm%5Fcontent=%3Cscript%3E");
      assert.deepEqual(origin.last("/page2").query, {});
      await assertClean("/page2", ["<script>"]);
    });

    it("keeps a parameter that only looks ignored in the key, apart from the clean page", async () => {
      await worker.fetch("/page3?UTM_content=<b>x</b>");
      assert.equal(origin.last("/page3").query.UTM_content, "<b>x</b>", "another name: kept in the key and sent");
      await assertClean("/page3", ["<b>x</b>"]);
    });

    it("sends only allow-listed parameters, so /search?page=1 is never poisoned", async () => {
      await worker.fetch("/search?page=1&q=<img src=x onerror=alert(1)>");
      assert.deepEqual(origin.last("/search").query, { page: "1" });
      await assertClean("/search?page=1", ["onerror"]);
    });

    it("does not let a ; hide a parameter from the key", async () => {
      await worker.fetchStored("/jsonp?callback=good");
      const attack = await worker.fetch("/jsonp?callback=good&utm_x=1;callback=evil");
      assert.match(attack.body, /"callback":"evil"/, "the origin splits on ; and keeps the last value");
      const victim = await worker.fetch("/jsonp?callback=good");
      assert.match(victim.body, /"callback":"good"/);
      assert.match(victim.cacheStatus, /; hit;/);
      assert.ok(!victim.body.includes("evil"));
    });

    it("sends the query in the key's order, normalised", async () => {
      await worker.fetch("/order?b=2&a=%7e1");
      assert.equal(origin.last("/order").url, "/order?a=~1&b=2");
    });
  });

  describe("cache deception on ttl routes", () => {
    for (const lure of ["/static/..%2faccount", "/static/x/..%2F..%2Faccount", "/static/..;/account", "/static/..%252faccount", "/static/..%5caccount", "/account;.css", "/account;x=1/..;/account;.css", "/account%00.css", "/account.%20;.css"]) {
      it(`never stores alice's account page reached through ${lure}`, async () => {
        const victim = await worker.fetch(lure, { headers: alice });
        assert.match(victim.body, /account of cookie:alice/, "the origin did answer with the account page");
        assert.doesNotMatch(victim.cacheStatus, /stored/);
        await assertClean(lure, ["alice"]);
      });
    }

    it("never stores a personal page at a static-looking path for a request with a cookie", async () => {
      origin.on("/static/profile.css", (record, n) => ({ headers: { "content-type": "text/html" }, body: `profile of ${record.user} #${n}` }));
      const got = await worker.fetch("/static/profile.css", { headers: alice });
      assert.match(got.cacheStatus, /detail=content-type-mismatch/);
      await assertClean("/static/profile.css", ["alice"]);
    });

    it("still stores a real stylesheet requested with a cookie", async () => {
      await worker.fetchStored("/static/app.css", { headers: alice });
      const other = await worker.fetch("/static/app.css");
      assert.match(other.cacheStatus, /; hit;/);
    });
  });

  describe("bypass rules cannot be sidestepped by spelling", () => {
    for (const spelling of ["/API/me", "/%61pi/me", "//api/me", "/api;x/me", "/x/..%2fapi/me", "/Api%2Fme", "/x/..;/API/me", "/api./me", "/api%20/me", "/api%2f%2e%2e%2fapi/me"]) {
      it(`bypasses ${spelling} as /api/me`, async () => {
        const got = await worker.fetch(spelling, { headers: alice });
        assert.match(got.body, /account of cookie:alice/);
        assert.match(got.cacheStatus, /fwd=bypass/);
        await assertClean(spelling, ["alice"]);
      });
    }

    it("keeps a trailing-dot host under its host rule", async () => {
      const got = await worker.fetch("http://api.edge.test./data", { headers: alice });
      assert.match(got.cacheStatus, /fwd=bypass/);
    });

    it("treats X-Api-Key as a credential: one user's answer is never another's", async () => {
      const a = await worker.fetch("/data", { headers: { "x-api-key": "key-a" } });
      assert.match(a.body, /key:key-a/);
      assert.match(a.cacheStatus, /detail=authorization/);
      const b = await worker.fetch("/data", { headers: { "x-api-key": "key-b" } });
      assert.match(b.body, /key:key-b/);
      await assertClean("/data", ["key-a", "key-b"]);
    });
  });

  describe("unkeyed headers never reach the origin on cacheable requests", () => {
    const hostile = {
      "x-forwarded-ssl": "on",
      "front-end-https": "on",
      "x-forwarded-for": "6.6.6.6",
      "x-real-ip": "6.6.6.6",
      "true-client-ip": "6.6.6.6",
      "x-forwarded-uri": "/admin",
      "x-original-url": "/admin",
      "x-rewrite-url": "/admin",
      "x-requested-with": "XMLHttpRequest",
      "x-http-method-override": "DELETE",
      forwarded: "host=evil.test;proto=https",
      "x-forwarded-host": "evil.test",
      "user-agent": "evil-agent",
      referer: "https://evil.test/",
      "x-custom": "evil",
    };

    it("sends none of them, and sets its own forwarding fields from the key", async () => {
      const got = await worker.fetch("/headers", { headers: hostile });
      const seen = origin.last("/headers").headers;
      for (const name of Object.keys(hostile)) {
        if (name === "x-forwarded-host") continue;
        assert.equal(seen[name], undefined, `${name} reached the origin`);
      }
      assert.equal(seen["x-forwarded-host"], "edge.test");
      assert.match(got.body, /href="http:\/\/edge\.test\/next"/, "links are built from the keyed host and scheme");
      await assertClean("/headers", ["evil", "6.6.6.6", "https://", "XMLHttpRequest", "DELETE"]);
      assert.equal(REFLECTED.length > 10, true);
    });

    it("keys an Origin it sends on, so a reflected CORS answer stays with that site", async () => {
      origin.on("/cors", (record, n) => ({ headers: { "cache-control": "max-age=600", "access-control-allow-origin": record.headers.origin ?? "none" }, body: `cors #${n}` }));
      const evil = await worker.fetch("/cors", { headers: { origin: "https://evil.test" } });
      assert.equal(evil.headers.get("access-control-allow-origin"), "https://evil.test");
      await worker.stored("/cors", { headers: { origin: "https://evil.test" } });
      const plain = await worker.fetch("/cors");
      assert.equal(plain.headers.get("access-control-allow-origin"), "none");
      const good = await worker.fetch("/cors", { headers: { origin: "https://good.test" } });
      assert.equal(good.headers.get("access-control-allow-origin"), "https://good.test");
    });

    it("sends a field the answer varies on, so each variant is the origin's own", async () => {
      origin.on("/device", (record, n) => ({ headers: { "cache-control": "max-age=600", vary: "X-Device" }, body: `for ${record.headers["x-device"] ?? "any"} #${n}` }));
      const phone = await worker.fetchStored("/device", { headers: { "x-device": "phone" } });
      assert.match(phone.body, /^for phone/);
      const desk = await worker.fetch("/device", { headers: { "x-device": "desk" } });
      assert.match(desk.body, /^for desk/);
      const none = await worker.fetch("/device");
      assert.match(none.body, /^for any/);
      assert.match((await worker.fetch("/device", { headers: { "x-device": "phone" } })).body, /^for phone/);
    });
  });

  describe("nobody can evict or refresh for everyone", () => {
    it("keeps the entry when a request with no-store gets a 304", async () => {
      origin.on("/evict", (record, n) =>
        record.headers["if-none-match"] === '"e1"'
          ? { status: 304, headers: { etag: '"e1"', "cache-control": "max-age=600" } }
          : { headers: { etag: '"e1"', "cache-control": "max-age=600" }, body: `evict #${n}` },
      );
      await worker.fetchStored("/evict");
      await new Promise((r) => setTimeout(r, 5100));
      await worker.fetch("/evict", { headers: { "cache-control": "no-cache, no-store" } });
      await worker.fetch("/evict", { headers: { pragma: "no-cache", authorization: "Basic eDp4" } });
      const victim = await worker.fetch("/evict");
      assert.match(victim.cacheStatus, /; hit;/);
      assert.equal(victim.body, "evict #1");
      const { worker: elsewhere } = await setup({ origin, kvPersist: kvDir, config: { backends: ["kv"], routes: ROUTES } });
      try {
        const there = await elsewhere.fetch("/evict");
        assert.match(there.cacheStatus, /; hit;/, "KV still holds it");
      } finally {
        await elsewhere.dispose();
      }
    });

    it("answers a loop of forced refreshes from the entry until the interval has passed", async () => {
      await worker.fetchStored("/refresh-loop");
      const before = origin.count("/refresh-loop");
      const mark = worker.logs.length;
      for (let i = 0; i < 20; i++) {
        const got = await worker.fetch("/refresh-loop", { headers: { pragma: "no-cache" } });
        assert.match(got.cacheStatus, /; hit; .*detail=refresh-limited/);
      }
      assert.equal(origin.count("/refresh-loop"), before, "not one origin request");
      assert.equal(worker.logs.slice(mark).filter((l) => l.includes('"edgecache":"stored"')).length, 0, "not one write");
    });

    it("sends a credentialed forced refresh as everyone's, so no user's own page replaces what others get", async () => {
      origin.on("/shared-page", (record, n) => ({ headers: { "cache-control": "public, max-age=600", "content-type": "text/html" }, body: `page for ${record.user} #${n}` }));
      await worker.fetchStored("/shared-page");
      await new Promise((r) => setTimeout(r, 5100));
      const own = await worker.fetchStored("/shared-page", { headers: { ...alice, "cache-control": "no-cache" } });
      assert.match(own.body, /page for anonymous #2/);
      assert.equal(origin.last("/shared-page").headers.cookie, undefined, "the refresh carried no cookie");
      const victim = await worker.fetch("/shared-page");
      assert.match(victim.body, /page for anonymous #2/);
    });
  });

  describe("errors are not kept for a route's day", () => {
    it("never stores a 503 or a 500 under a route ttl", async () => {
      for (const status of [500, 503]) {
        const where = `/errors/${status}`;
        origin.on(where, (record, n) => ({ status, headers: { "content-type": "text/plain" }, body: `down #${n}` }));
        await worker.fetch(where);
        const again = await worker.fetch(where);
        assert.equal(again.body, "down #2", `${status} was stored`);
      }
    });

    it("keeps a 404 for its ttl_by_status and never a 5xx a rule refuses", async () => {
      origin.on("/notfound/x", (record, n) => ({ status: 404, headers: { "content-type": "text/plain" }, body: `missing #${n}` }));
      await worker.fetchStored("/notfound/x");
      const hit = await worker.fetch("/notfound/x");
      assert.match(hit.cacheStatus, /; hit; ttl=(59|60);/);
      origin.on("/notfound/y", (record, n) => ({ status: 503, headers: { "cache-control": "max-age=600" }, body: `busy #${n}` }));
      await worker.fetch("/notfound/y");
      assert.equal((await worker.fetch("/notfound/y")).body, "busy #2");
    });
  });
});

describe("a site that ignores client refreshes", () => {
  const { origin, worker } = withWorker({ origin: "hostile", config: { backends: ["memory"], ignore_client_no_cache: true } });

  it("answers no-cache and max-age=0 from storage", async () => {
    await worker.fetchStored("/ignored");
    await new Promise((r) => setTimeout(r, 5100));
    for (const cc of ["no-cache", "max-age=0", "min-fresh=100000"]) {
      const got = await worker.fetch("/ignored", { headers: { "cache-control": cc } });
      assert.match(got.cacheStatus, /; hit;/, cc);
    }
    assert.equal(origin.count("/ignored"), 1);
  });
});

describe("a case-insensitive origin", () => {
  const { origin, worker } = withWorker({ origin: "hostile", config: { backends: ["memory"], case_insensitive_paths: true, routes: [{ path: "/docs/**", ttl: 600 }] } });

  it("shares one entry between spellings and sends the lower-case path", async () => {
    await worker.fetch("/Docs/Intro");
    await worker.stored("/docs/intro");
    const other = await worker.fetch("/DOCS/intro");
    assert.match(other.cacheStatus, /; hit;/);
    assert.equal(origin.last("/docs/intro").rawPath, "/docs/intro");
  });
});
