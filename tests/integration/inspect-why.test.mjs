// The inspector's "last reason it was not stored", per key (issue 26): kept by the control
// plane by key id, newest per key, so that it does not depend on which isolate or location
// answers the inspection; in words and in JSON.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

const TOKEN = "inspect-why-token";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function inspect(worker, url, headers = []) {
  const query = new URLSearchParams({ url });
  for (const header of headers) query.append("header", header);
  const got = await worker.fetch(`/_edgecache/inspect?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(got.status, 200, got.body);
  return JSON.parse(got.body);
}

describe("the inspector's last reason a key was not stored", () => {
  const { origin, worker } = withWorker({
    bindings: { ADMIN_TOKEN: TOKEN },
    config: { backends: ["memory"], bypass_cookies: ["sessionid"], routes: [{ path: "/api/**", bypass: true }] },
  });

  it("names the reason, how and the status of the key's last request not stored, in words and JSON", async () => {
    origin.on("/me", { headers: { "cache-control": "private" }, body: "mine" });
    await worker.fetch("/me");
    const got = await inspect(worker, "http://edge.test/me");
    assert.equal(got.last_not_stored.reason, "private");
    assert.equal(got.last_not_stored.how, "miss");
    assert.equal(got.last_not_stored.status, 200);
    assert.ok(got.last_not_stored.ago_s >= 0 && got.last_not_stored.ago_s < 60);
    assert.ok(got.why.some((w) => /^Last not stored \d+ s ago: sent to the origin and its answer not stored, because private, status 200\.$/.test(w)), JSON.stringify(got.why));
  });

  it("keeps the newest reason of a key, and none for a key whose requests were stored", async () => {
    origin.on("/changing", (record, n) => (n === 1 ? { headers: { "cache-control": "no-store" }, body: "1" } : { headers: { "cache-control": "max-age=60", "set-cookie": "s=1" }, body: "2" }));
    await worker.fetch("/changing");
    assert.equal((await inspect(worker, "http://edge.test/changing")).last_not_stored.reason, "no-store");
    await worker.fetch("/changing");
    assert.equal((await inspect(worker, "http://edge.test/changing")).last_not_stored.reason, "set-cookie");
    await worker.fetchStored("/kept");
    const kept = await inspect(worker, "http://edge.test/kept");
    assert.equal(kept.last_not_stored, null);
    assert.ok(!kept.why.some((w) => w.startsWith("Last not stored")));
  });

  it("tells a bypassed key's reason, and keys apart by what they are keyed on", async () => {
    await worker.fetch("/api/now?x=1");
    const bypassed = await inspect(worker, "http://edge.test/api/now?x=1");
    assert.deepEqual([bypassed.last_not_stored.reason, bypassed.last_not_stored.how], ["route-bypass", "bypass"]);
    assert.match(bypassed.why.at(-1), /bypassed \(never looked up\), because route-bypass/);
    assert.equal((await inspect(worker, "http://edge.test/api/now?x=2")).last_not_stored, null, "another query is another key");
  });

  it("applies bypass_cookies to the headers given, as a request with them would be passed", async () => {
    await worker.fetchStored("/page");
    const anonymous = await inspect(worker, "http://edge.test/page", ["Cookie: theme=dark"]);
    assert.equal(anonymous.bypass, false);
    assert.equal(anonymous.bypass_cookie, null);
    assert.equal(anonymous.tiers[0].present, true);
    const session = await inspect(worker, "http://edge.test/page", ["Cookie: theme=dark; sessionid=abc"]);
    assert.equal(session.bypass, true);
    assert.equal(session.bypass_cookie, "sessionid");
    assert.match(session.why[0], /^A request with the cookie sessionid is bypassed \(bypass_cookies\): it goes to the origin as sent and is never looked up or stored; without it, the default policy applies\.$/);
    // The request itself is passed as the inspector says.
    const got = await worker.fetch("/page", { headers: { cookie: "theme=dark; sessionid=abc" } });
    assert.match(got.cacheStatus, /fwd=bypass; .*detail=bypass-cookie/);
  });
});

describe("the last reason across locations", () => {
  it("is the same whichever location is asked, once the location that saw the request has reported", async () => {
    const { origin, deployment, dispose } = await setup({ locations: { count: 2 }, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory"] } });
    try {
      origin.on("/elsewhere", { headers: { "cache-control": "max-age=60", "set-cookie": "id=1" }, body: "x" });
      const [a, b] = deployment.locations;
      await b.fetch("/elsewhere");
      // b reports at most every 10 s, with its next request.
      await sleep(10_500);
      await b.fetch("/other");
      let got;
      for (let tries = 0; tries < 50; tries++) {
        got = await inspect(a, "http://edge.test/elsewhere");
        if (got.last_not_stored) break;
        await sleep(100);
      }
      assert.equal(got.last_not_stored?.reason, "set-cookie", "location a shows what location b saw");
      assert.equal((await inspect(b, "http://edge.test/elsewhere")).last_not_stored.reason, "set-cookie");
    } finally {
      await dispose();
    }
  });
});
