// Cache poisoning: nothing outside the key may shape what others get. Override headers that
// origin frameworks honour never reach the origin on a cacheable request, through a plain
// request or a forced refresh; a body sent with GET is neither forwarded nor stored; request
// Cache-Control and Pragma cannot carry an unkeyed header into a refresh. What is checked is
// what the victim received and what the origin was asked.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";
import { hostileSite } from "../support/hostile-origin.mjs";
import { rawRequest } from "../support/raw.mjs";

/** Override headers an origin framework may honour; none is part of the key. */
const OVERRIDES = {
  "x-forwarded-host": "evil.test",
  "x-forwarded-proto": "https",
  "x-forwarded-scheme": "https",
  "x-forwarded-port": "1337",
  "x-forwarded-server": "evil.test",
  "x-forwarded-prefix": "/evil",
  "x-host": "evil.test",
  "x-original-url": "/admin",
  "x-rewrite-url": "/admin",
  "x-original-host": "evil.test",
  "x-http-method-override": "DELETE",
  "x-http-method": "PUT",
  "x-method-override": "PATCH",
  forwarded: "host=evil.test;proto=https",
};

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

describe("unkeyed input, with client_refresh_interval 0", () => {
  const { origin, worker } = withWorker({
    config: hostileSite(),
  });

  describe("unkeyed override headers", () => {
    const reflect = (record, n) => ({
      headers: { "cache-control": "max-age=60", "content-type": "application/json" },
      body: JSON.stringify({ method: record.method, n, seen: Object.fromEntries(Object.keys(OVERRIDES).map((h) => [h, record.headers[h] ?? null])) }),
    });
    const clean = { ...Object.fromEntries(Object.keys(OVERRIDES).map((h) => [h, null])), "x-forwarded-host": "edge.test", "x-forwarded-proto": "http" };

    it("never reach the origin on a cacheable request, so the stored page is clean", async () => {
      origin.on("/reflect", reflect);
      const attacker = await worker.fetchStored("/reflect", { headers: OVERRIDES });
      assert.deepEqual(JSON.parse(attacker.body).seen, clean);
      assert.equal(JSON.parse(attacker.body).method, "GET");
      const victim = await worker.fetch("/reflect");
      assert.match(victim.cacheStatus, /; hit;/);
      assert.deepEqual(JSON.parse(victim.body).seen, clean);
      assert.equal(origin.count("/reflect"), 1);
    });

    for (const [name, value] of Object.entries(OVERRIDES)) {
      it(`cannot poison a refresh forced with no-cache through ${name}`, async () => {
        const target = `/reflect-${name}`;
        origin.on(target, reflect);
        await worker.fetchStored(target);
        await worker.fetchStored(target, { headers: { "cache-control": "no-cache", [name]: value } });
        assert.equal(origin.count(target), 2, "the attacker's request did reach the origin");
        const victim = await worker.fetch(target);
        assert.match(victim.cacheStatus, /; hit;/);
        assert.equal(JSON.parse(victim.body).n, 2, "the victim gets the attacker's refresh...");
        assert.deepEqual(JSON.parse(victim.body).seen, clean, "...which the override did not shape");
      });
    }

    it("are forwarded untouched on requests that are never stored", async () => {
      origin.on("/form", (record) => ({ status: 200, body: `${record.headers["x-http-method-override"]}` }));
      const got = await worker.fetch("/form", { method: "POST", body: "a=1", headers: { "x-http-method-override": "PUT" } });
      assert.equal(got.body, "PUT");
      assert.match(got.cacheStatus, /fwd=method/);
    });
  });

  it("never forwards a body sent with GET, nor stores an answer shaped by it", async () => {
    origin.on("/getbody", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `body=[${record.body}] ${record.method} #${n}` }));
    const host = new URL(worker.url).host;
    const sent = await rawRequest(
      worker.url,
      `GET /getbody HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 19\r\nX-HTTP-Method-Override: POST\r\n\r\nrole=admin&evil=yes`,
    );
    assert.equal(sent.status, 200);
    assert.equal(sent.body.toString(), "body=[] GET #1");
    const chunked = await rawRequest(worker.url, `GET /getbody HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.equal(chunked.status, 200);
    assert.match(chunked.body.toString(), /^body=\[\] GET #/);
    for (const record of origin.requests.filter((r) => r.path === "/getbody")) {
      assert.equal(record.body, "");
      assert.equal(record.method, "GET");
      assert.equal(record.headers["x-http-method-override"], undefined);
    }
  });
});

describe("a forced refresh, with the default client_refresh_interval", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory", "cache", "kv"], routes: [{ path: "/**.css", ttl: 600 }] } });

  it("does not let request Cache-Control or Pragma games poison the entry", async () => {
    origin.on("/shared", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `${record.headers["x-evil"] ?? "clean"} #${n}` }));
    await worker.fetchStored("/shared");
    // An attacker forces a refetch with an unkeyed header set: the refresh must not carry it
    // into what others get, unless the origin varies on it, which it does not say.
    const attack = await worker.fetch("/shared", { headers: { "cache-control": "no-cache", "x-forwarded-host": "evil.test" } });
    assert.equal(origin.last("/shared").headers["x-forwarded-host"], "edge.test");
    assert.match(attack.body, /^clean/);
  });
});
