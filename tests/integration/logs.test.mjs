// No secrets in logs: requests carry a token in the query, a varied cookie and a varied header,
// and go through every line that speaks of a key or URL (stored, not-stored, refresh-failed,
// esi-failed, the request line). No line may contain those values; the lines still name the
// host, path and parameter names, and a short id that matches lines about one entry. And
// request_log: which requests get a line at all.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

const TOKEN = "tok3n-0f-the-user-9f8e7d6c5b4a";
const SESSION = "sessi0n-cookie-value-1a2b3c4d";
const TENANT = "tenant-header-value-5e6f7a8b";
const SIGNATURE = "signed-url-sig-0a1b2c3d";
const SECRETS = [TOKEN, SESSION, TENANT, SIGNATURE];

const lines = (worker, kind) =>
  worker.logs
    .filter((line) => line.includes(`"edgecache":"${kind}"`))
    .map((line) => JSON.parse(line.slice(line.indexOf("{"))));

async function until(what, check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("log lines", () => {
  const { origin, worker } = withWorker({
    config: {
      // Hits too: no line of any kind may carry a user's value.
      request_log: "all",
      backends: ["memory", "cache"],
      max_body_bytes: 2000,
      routes: [
        { path: "/account", vary_cookies: ["session"] },
        { path: "/esi", esi: true },
      ],
    },
  });
  before(() => {
    origin.on("/page", { headers: { "cache-control": "max-age=60" }, body: "page" });
    origin.on("/account", { headers: { "cache-control": "max-age=60" }, body: "account" });
    origin.on("/tenant", { headers: { "cache-control": "max-age=60", vary: "X-Tenant" }, body: "tenant" });
    // Streamed without a length and over max_body_bytes: found too large while storing.
    origin.on("/big", { headers: { "cache-control": "max-age=60", "transfer-encoding": "chunked" }, body: "b".repeat(5000) });
  });

  it("name an entry by host, path, parameter and variant names and an id, never by their values", async () => {
    await worker.fetchStored(`/page?access_token=${TOKEN}&page=2`);
    await worker.fetchStored(`/account?sig=${SIGNATURE}`, { headers: { cookie: `session=${SESSION}; other=x` } });
    await worker.fetchStored("/tenant", { headers: { "x-tenant": TENANT } });

    const stored = lines(worker, "stored");
    const page = stored.find((l) => l.key.includes("//edge.test/page"));
    assert.equal(page.key, ":1:http://edge.test/page?access_token=*&page=*");
    assert.equal(page.url, "http://edge.test/page?access_token=*&page=*");
    assert.match(page.id, /^[0-9a-f]{12}$/);
    const account = stored.find((l) => l.key.includes("//edge.test/account"));
    assert.equal(account.key, ":1:http://edge.test/account?sig=*#cookie.session=*");
    const tenant = stored.filter((l) => l.key.includes("//edge.test/tenant")).map((l) => l.key);
    assert.ok(tenant.includes(":1:http://edge.test/tenant#x-tenant=*"), tenant.join(" "));
    assert.notEqual(page.id, account.id);

    // The same URL with another token is another entry, with another id and the same key text.
    await worker.fetchStored(`/page?access_token=other-${TOKEN.slice(0, 4)}&page=2`);
    const pages = lines(worker, "stored").filter((l) => l.key.includes("//edge.test/page"));
    assert.equal(new Set(pages.map((l) => l.key)).size, 1);
    assert.equal(new Set(pages.map((l) => l.id)).size, 2);
  });

  it("name what was not stored, what failed to refresh and which include failed the same way", async () => {
    await worker.fetch(`/big?access_token=${TOKEN}`);
    const big = await until("not-stored line", () => lines(worker, "not-stored").find((l) => l.key.includes("/big")));
    assert.equal(big.key, ":1:http://edge.test/big?access_token=*");
    assert.equal(big.reason, "too-large");
    assert.match(big.id, /^[0-9a-f]{12}$/);

    // Stale at once, refreshed in the background, and the refresh fails: the origin hangs up.
    let broken = false;
    origin.onRaw("/swr", (req, res) => {
      if (broken) return req.socket.destroy();
      res.writeHead(200, { "cache-control": "max-age=1, stale-while-revalidate=600", "content-length": 3 });
      res.end("swr");
    });
    const swr = `/swr?access_token=${TOKEN}`;
    await worker.fetchStored(swr);
    const storedSwr = lines(worker, "stored").find((l) => l.key.includes("/swr"));
    broken = true;
    await new Promise((r) => setTimeout(r, 1100));
    assert.match((await worker.fetch(swr)).cacheStatus, /detail=stale-while-revalidate/);
    const failed = await until("refresh-failed line", () => lines(worker, "refresh-failed").find((l) => l.key.includes("/swr")));
    assert.equal(failed.key, ":1:http://edge.test/swr?access_token=*");
    assert.equal(failed.id, storedSwr.id, "the id matches the lines about one entry");

    origin.on("/esi", { headers: { "content-type": "text/html" }, body: `<p><esi:include src="/fragment?access_token=${TOKEN}&sig=${SIGNATURE}" onerror="continue"/></p>` });
    origin.on("/fragment", { status: 500, headers: { "cache-control": "no-store" }, body: "no" });
    await worker.fetch("/esi", { headers: { cookie: `session=${SESSION}`, "x-tenant": TENANT } });
    const esi = await until("esi-failed line", () => lines(worker, "esi-failed").find((l) => l.page === "/esi"));
    assert.equal(esi.src, "/fragment?access_token=*&sig=*");
    assert.match(esi.error, /\/fragment\?access_token=\*&sig=\*/);

    const requests = lines(worker, "request");
    assert.ok(requests.some((l) => l.path === "/swr"), "request lines have the path");
  });

  it("never contain the token, the cookie, the varied header or the signature", () => {
    assert.ok(worker.logs.length > 10);
    for (const line of worker.logs) {
      for (const secret of SECRETS) assert.ok(!line.includes(secret), `${secret} in ${line}`);
    }
  });
});

describe("request log level", () => {
  it("request_log = misses leaves hits out of the log and keeps misses", async () => {
    const { worker, dispose } = await setup({ config: { backends: ["memory"], request_log: "misses" } });
    try {
      const lines = () => worker.logs.filter((l) => l.includes('"edgecache":"request"'));
      await worker.fetch("/logged");
      await worker.stored("/logged");
      const before = lines().length;
      const hit = await worker.fetch("/logged");
      assert.match(hit.cacheStatus, /; hit/);
      await worker.fetch("/other");
      await new Promise((r) => setTimeout(r, 300));
      const after = lines().slice(before);
      assert.equal(after.length, 1, `one new line, for the miss: ${after.join("\n")}`);
      assert.match(after[0], /"path":"\/other"/);
    } finally {
      await dispose();
    }
  });
});
