// The admin API: authentication (every route refuses a missing, wrong or partial token with
// a bare 401), purge bodies that are wrong, the dashboard's files, stats and key inspection. Purging is
// purge.test.mjs's; rate limiting of failed logins admin-hardening.test.mjs's.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { setup, withWorker } from "../support/fixture.mjs";

const TOKEN = "test-token-0123456789";

const auth = { authorization: `Bearer ${TOKEN}` };

function admin(worker, route, init = {}) {
  return worker.fetch(`/_edgecache${route}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
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

describe("the dashboard's files", () => {
  const { worker } = withWorker({ origin: null, bindings: { ADMIN_TOKEN: TOKEN } });
  const www = new URL("../../www/", import.meta.url);
  const TYPES = { ".html": "text/html", ".css": "text/css", ".js": "text/javascript" };
  /** The files of www/ on disk, each with the content type it must be served with. */
  const files = readdirSync(www).map((name) => [name, TYPES[name.slice(name.lastIndexOf("."))]]);

  it("serves every file in www/ without a token, each with its type and as it is on disk", async () => {
    assert.ok(files.filter(([name]) => name.endsWith(".js")).length > 1, "the dashboard's modules are read from www/");
    for (const [name, type] of files) {
      assert.ok(type, `${name}: a type for every kind of file in www/`);
      const got = await worker.fetch(`/_edgecache/${name}`);
      assert.equal(got.status, 200, name);
      assert.equal(got.headers.get("content-type"), `${type}; charset=utf-8`, name);
      assert.equal(got.headers.get("cache-control"), "no-store", name);
      assert.match(got.headers.get("content-security-policy"), /^default-src 'self';/, name);
      assert.equal(got.body, readFileSync(new URL(name, www), "utf8"), `${name} is served as it is on disk`);
    }
    const index = await worker.fetch("/_edgecache/");
    assert.equal(index.status, 200);
    assert.equal(index.body, readFileSync(new URL("index.html", www), "utf8"));
  });

  it("serves every script the page loads and every module they import, from beside the page", async () => {
    const page = (await worker.fetch("/_edgecache/")).body;
    const scripts = [...page.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(scripts.length > 0, "the page loads a script");
    assert.match(page, /<script type="module" src="app\.js">/, "the entry is a module script");
    const seen = new Set();
    const queue = scripts.map((src) => new URL(src, "http://x/_edgecache/").pathname);
    while (queue.length) {
      const path = queue.shift();
      if (seen.has(path)) continue;
      seen.add(path);
      const got = await worker.fetch(path);
      assert.equal(got.status, 200, path);
      assert.equal(got.headers.get("content-type"), "text/javascript; charset=utf-8", path);
      const imports = [...got.body.matchAll(/^\s*import\s+(?:[^;]*?\sfrom\s+)?"([^"]+)";/gm)].map((m) => m[1]);
      for (const specifier of imports) {
        assert.match(specifier, /^\.\/[\w-]+\.js$/, `${path} imports ${specifier}: a file beside it, nothing from elsewhere`);
        queue.push(new URL(specifier, `http://x${path}`).pathname);
      }
    }
    const modules = files.filter(([name]) => name.endsWith(".js")).map(([name]) => `/_edgecache/${name}`);
    assert.deepEqual([...seen].sort(), modules.sort(), "every module in www/ is reached from the page, and only those");
  });
});

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
