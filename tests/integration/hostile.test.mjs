// Hostile input: what an attacker or a broken origin can send. Each case is stored safely or
// not at all, never crashes the worker, and never gives one user another's private answer.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { setup, withWorker } from "../support/fixture.mjs";

describe("hostile requests and responses", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory", "cache", "kv"], routes: [{ path: "/**.css", ttl: 600 }] } });

  it("does not cache a private page reached through a static-looking path (web cache deception)", async () => {
    origin.on("/account/settings/x.css", (record, n) => ({
      headers: { "cache-control": "private, no-store", "content-type": "text/html" },
      body: `account of ${record.headers.cookie} #${n}`,
    }));
    const alice = await worker.fetch("/account/settings/x.css", { headers: { cookie: "session=alice" } });
    assert.match(alice.cacheStatus, /detail=(no-store|private)/);
    const bob = await worker.fetch("/account/settings/x.css", { headers: { cookie: "session=bob" } });
    assert.match(bob.body, /session=bob/, "bob never sees alice's page");
  });

  it("does not guess a lifetime for a page without cache headers requested with a cookie", async () => {
    origin.on("/dashboard", (record, n) => ({ headers: { "content-type": "text/html" }, body: `hello ${record.headers.cookie} #${n}` }));
    await worker.fetch("/dashboard", { headers: { cookie: "session=alice" } });
    const bob = await worker.fetch("/dashboard", { headers: { cookie: "session=bob" } });
    assert.match(bob.body, /session=bob/);
  });

  it("keeps header values that try to forge keys apart", async () => {
    origin.on("/v", (record, n) => ({ headers: { "cache-control": "max-age=60", vary: "X-Tenant" }, body: `${record.headers["x-tenant"]} #${n}` }));
    const sneaky = "a&x-tenant=b#c";
    await worker.fetchStored("/v", { headers: { "x-tenant": sneaky } });
    const other = await worker.fetch("/v", { headers: { "x-tenant": "a" } });
    // #1 was answered without X-Tenant, which is not sent on until a response varies on
    // it; it was asked again with it (#2), and stored. Then "a" (#3).
    assert.equal(other.body, "a #3");
  });

  it("survives enormous and malformed caching headers", async () => {
    const cases = {
      "/cc-huge": { "cache-control": `max-age=60, ${"x=".repeat(2000)}y` },
      "/cc-garbage": { "cache-control": '",,,=="max-age=\\"60' },
      "/vary-many": { "cache-control": "max-age=60", vary: Array.from({ length: 300 }, (_, i) => `X-H${i}`).join(", ") },
      "/age-junk": { "cache-control": "max-age=60", age: "abc, -5, 99999999999999999999" },
      "/expires-junk": { expires: "tomorrow at noon", date: "\u00ff\u00fe" },
      "/date-future": { "cache-control": "max-age=60", date: "Fri, 31 Dec 9999 23:59:59 GMT" },
      "/etag-junk": { "cache-control": "max-age=60", etag: 'W/"\u00e9\u00e9' },
    };
    for (const [route, headers] of Object.entries(cases)) {
      origin.on(route, { headers, body: `body of ${route}` });
      for (let i = 0; i < 2; i++) {
        const got = await worker.fetch(route, { headers: { "if-none-match": '"x", W/"y"', "cache-control": "no-transform" } });
        assert.equal(got.status, 200, route);
        assert.equal(got.body, `body of ${route}`, route);
        assert.match(got.cacheStatus, /^edgecache; /, route);
      }
    }
  });

  it("answers huge URLs and many headers without failing", async () => {
    const long = `/long?q=${"x".repeat(8000)}`;
    // One request, awaited until it is stored: a second one could already hit.
    const first = await worker.fetchStored(long);
    assert.equal(first.status, 200);
    assert.match((await worker.fetch(long)).cacheStatus, /; hit;/, "a key over 512 bytes is hashed, and still hits");
    const headers = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-junk-${i}`, "y".repeat(50)]));
    assert.equal((await worker.fetch("/many-headers", { headers })).status, 200);
  });

  it("does not let request Cache-Control or Pragma games poison the entry", async () => {
    origin.on("/shared", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `${record.headers["x-evil"] ?? "clean"} #${n}` }));
    await worker.fetchStored("/shared");
    // An attacker forces a refetch with an unkeyed header set: the refresh must not carry it
    // into what others get, unless the origin varies on it, which it does not say.
    const attack = await worker.fetch("/shared", { headers: { "cache-control": "no-cache", "x-forwarded-host": "evil.test" } });
    assert.equal(origin.last("/shared").headers["x-forwarded-host"], "edge.test");
    assert.match(attack.body, /^clean/);
  });

  it("never caches a response to a request carrying Authorization for another user", async () => {
    origin.on("/me", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `${record.headers.authorization ?? "anonymous"} #${n}` }));
    await worker.fetch("/me", { headers: { authorization: "Bearer alice" } });
    const anonymous = await worker.fetch("/me");
    assert.equal(anonymous.body, "anonymous #2");
  });
});

describe("hostile origin bytes", () => {
  it("passes non-UTF-8 header bytes and bodies through, and stores bodies byte for byte", async () => {
    // A raw TCP origin, so header bytes are exactly what an origin might send.
    const body = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    let hits = 0;
    const server = net.createServer((socket) => {
      socket.once("data", () => {
        hits++;
        socket.write(Buffer.concat([
          Buffer.from("HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\nx-latin: caf"),
          Buffer.from([0xe9]),
          Buffer.from(`\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`),
          body,
        ]));
        socket.end();
      });
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const { worker } = await setup({ origin: { url: `http://127.0.0.1:${server.address().port}` }, config: { backends: ["memory", "kv"] } });
    try {
      const first = await worker.mf.dispatchFetch("http://edge.test/bytes");
      assert.deepEqual(Buffer.from(await first.arrayBuffer()), body);
      for (let i = 0; i < 100; i++) {
        const probe = await worker.mf.dispatchFetch("http://edge.test/bytes", { method: "HEAD" });
        if ((probe.headers.get("cache-status") ?? "").includes("; hit;")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const second = await worker.mf.dispatchFetch("http://edge.test/bytes");
      assert.match(second.headers.get("cache-status"), /; hit;/);
      assert.deepEqual(Buffer.from(await second.arrayBuffer()), body);
      // workerd hands header values to JavaScript as decoded text, so a byte that is not
      // UTF-8 reaches the stored copy as U+FFFD: changed, never dropped or fatal.
      assert.match(second.headers.get("x-latin"), /^caf/);
      assert.equal(hits, 1);
    } finally {
      await worker.dispose();
      await new Promise((r) => server.close(r));
    }
  });
});
