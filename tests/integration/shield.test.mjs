// The shield (`shield = true`): locations ask one Durable Object per shard of keys instead of
// the origin, so a key's misses reach the origin once for the whole fleet. Several locations
// of one deployment (tests/support/worker.mjs, startLocations: one Miniflare, a worker per
// location, each with its own isolate and Cache API, sharing KV, the control plane and the
// shield) in front of a recording origin.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

const TOKEN = "shield-test-token";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("the shield, across eight locations", () => {
  const { origin, deployment } = withWorker({
    locations: { count: 8 },
    bindings: { ADMIN_TOKEN: TOKEN },
    config: { backends: ["memory", "cache", "kv"], shield: true, purge_propagation_s: 0 },
  });

  // A shield request whose lookup was slow (under this load, seconds) used to miss the entry
  // the key's flight stored meanwhile and ask the origin again (3 origin requests in about two
  // runs of three); it now looks again (`coalesce::Flight::LookAgain`). On failure the test
  // prints the Cache-Status of every answer and the log.
  it("sends 200 concurrent requests in each of eight locations for one expired key to the origin once", async () => {
    // A first lifetime of a second, then let it expire; the second lifetime is long, so that
    // however slow the machine, the whole stampede falls within it.
    origin.on("/stampede", (record, n) => ({ headers: { "cache-control": "max-age=1" }, body: `stampede #${n}` }));
    await deployment.locations[0].fetch("/stampede");
    assert.equal(origin.count("/stampede", "GET"), 1);
    await sleep(2100);
    origin.on("/stampede", async (record, n) => {
      await sleep(1000);
      return { headers: { "cache-control": "max-age=600" }, body: `stampede #${n}` };
    });
    const all = await Promise.all(
      deployment.locations.flatMap((location) => Array.from({ length: 200 }, () => location.fetch("/stampede"))),
    );
    const asked = origin.requests.filter((r) => r.path === "/stampede" && r.method === "GET");
    if (asked.length !== 2) {
      const statuses = {};
      for (const got of all) statuses[got.cacheStatus] = (statuses[got.cacheStatus] ?? 0) + 1;
      console.log({ asked: asked.map((r) => ({ at: r.at, headers: r.headers })), statuses, logs: deployment.logs.filter((l) => l.includes('"edgecache":"stored"') || l.includes('"method":"SHIELD"') || l.includes("shield-unavailable")) });
    }
    assert.equal(asked.length, 2, "the whole fleet's misses of the second lifetime reached the origin once");
    for (const got of all) {
      assert.equal(got.status, 200);
      assert.equal(got.body, "stampede #2");
    }
    const viaShield = all.filter((g) => g.cacheStatus.includes("edgecache-shield;")).length;
    assert.ok(viaShield >= 8, `every location's leader was answered by the shield (${viaShield} answers name it)`);
  });

  it("answers a location with what another location's miss stored at the shield, within the lifetime", async () => {
    origin.on("/shared", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `shared #${n}` }));
    for (const location of deployment.locations) {
      const got = await location.fetch("/shared");
      assert.equal(got.body, "shared #1");
    }
    assert.equal(origin.count("/shared", "GET"), 1);
    const later = await deployment.locations[5].fetch("/shared");
    assert.match(later.cacheStatus, /; hit;/, "the location kept its own copy");
  });

  it("keeps the fields for caches on the way to a location: its tags, targeted lifetime and purge still work", async () => {
    origin.on("/tagged", (record, n) => ({
      headers: { "cache-control": "max-age=0", "edgecache-cache-control": "max-age=600", "cache-tag": "news" },
      body: `tagged #${n}`,
    }));
    const first = await deployment.locations[1].fetch("/tagged");
    assert.equal(first.body, "tagged #1");
    assert.equal(first.headers.get("cache-tag"), null, "tags are not shown to clients");
    assert.equal(first.headers.get("edgecache-cache-control"), null, "the field targeted at edgecache is for caches");
    const elsewhere = await deployment.locations[2].fetch("/tagged");
    assert.equal(elsewhere.body, "tagged #1", "another location got the shield's copy");
    const again = await deployment.locations[1].stored("/tagged");
    assert.match(again.cacheStatus, /; hit;/, "stored at the location by Edgecache-Cache-Control, which the shield passed on");
    assert.equal(origin.count("/tagged", "GET"), 1);

    const purged = await deployment.locations[3].fetch("/_edgecache/purge", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ tags: ["news"] }),
    });
    assert.equal(purged.status, 200, purged.body);
    await sleep(50);
    for (const location of [deployment.locations[1], deployment.locations[2]]) {
      const after = await location.fetch("/tagged");
      assert.equal(after.body, "tagged #2", "the purge reached the location's copy and the shield's");
    }
    assert.equal(origin.count("/tagged", "GET"), 2, "after the purge, the fleet asked the origin once");
  });

  it("never shares a private answer, and never sends a request with credentials through it", async () => {
    origin.on("/private", (record, n) => ({ headers: { "cache-control": "private, max-age=60" }, body: `private #${n}` }));
    const answers = await Promise.all(deployment.locations.map((location) => location.fetch("/private")));
    assert.equal(new Set(answers.map((a) => a.body)).size, 8, "each client got its own answer");
    assert.equal(origin.count("/private", "GET"), 8);

    origin.on("/account", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `account #${n} ${record.headers.cookie ?? "-"}` }));
    const before = (await deployment.locations[4].control()).shieldRequests;
    const mine = await deployment.locations[4].fetch("/account", { headers: { cookie: "sessionid=alice" } });
    assert.equal((await deployment.locations[4].control()).shieldRequests, before, "a request with a cookie never goes to the shield");
    assert.doesNotMatch(mine.cacheStatus, /edgecache-shield/);
    const theirs = await deployment.locations[6].fetch("/account");
    assert.doesNotMatch(theirs.body, /alice/);
  });

  it("invalidates the shield's copy when a location sees an unsafe method succeed (RFC 9111 §4.4)", async () => {
    origin.on("/article", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `article #${n} ${record.method}` }));
    const [, here, , there] = deployment.locations;
    assert.equal((await here.fetch("/article")).body, "article #1 GET");
    assert.equal((await there.fetch("/article")).body, "article #1 GET", "from the shield's copy");
    const posted = await here.fetch("/article", { method: "POST", body: "edit" });
    assert.equal(posted.status, 200);
    const fresh = await deployment.locations[6].fetch("/article");
    assert.equal(fresh.body, "article #3 GET", "a location that had no copy gets the origin's new answer, not the shield's old copy");
  });

  it("sends the origin only what the key says, from the shield too", async () => {
    origin.on("/clean", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `clean #${n}` }));
    await deployment.locations[7].fetch("/clean?utm_source=x&a=1", { headers: { "x-forwarded-host": "evil.example", "user-agent": "probe" } });
    const [record] = origin.requests.filter((r) => r.path === "/clean");
    assert.equal(record.headers["x-forwarded-host"], "edge.test");
    assert.equal(record.headers["user-agent"] === "probe", false);
    assert.equal(record.headers["x-edgecache-hop"], "1", "the shield's request is marked as edgecache's own");
  });
});

describe("the shield's failure modes", () => {
  it("fails open to the origin when the shard throws, is overloaded or hangs, never a 500", async () => {
    const { origin, deployment, dispose } = await setup({
      locations: { count: 2 },
      config: { backends: ["memory"], shield: true, origin_timeout_ms: 1500 },
    });
    try {
      const [here] = deployment.locations;
      let n = 0;
      for (const fault of ["fail", "overloaded", "hang"]) {
        await here.shieldFault(fault);
        const path = `/open-${fault}`;
        origin.on(path, (record, i) => ({ headers: { "cache-control": "max-age=60" }, body: `${fault} #${i}` }));
        const started = Date.now();
        const got = await here.fetch(path);
        n++;
        assert.equal(got.status, 200, `${fault}: ${got.body}`);
        assert.equal(got.body, `${fault} #1`);
        assert.doesNotMatch(got.cacheStatus, /edgecache-shield/, `${fault}: the shield did not answer`);
        assert.equal(got.cacheStatus, "edgecache; fwd=miss; fwd-status=200; stored; detail=shield-unavailable", `${fault}: Cache-Status says the shield failed open`);
        if (fault === "hang") assert.ok(Date.now() - started < 1500 + 3000, "a hanging shard is given up after origin_timeout_ms");
      }
      assert.ok(here.logs.some((l) => l.includes('"edgecache":"shield-unavailable"')), "each fail-open is logged");
      await here.shieldFault(null);
      assert.equal(n, 3);
    } finally {
      await dispose();
    }
  });

  it("serves stale content when the origin behind the shield fails, and its error page otherwise", async () => {
    const { origin, deployment, dispose } = await setup({
      locations: { count: 2 },
      config: { backends: ["memory"], shield: true, origin_timeout_ms: 1000 },
    });
    try {
      const [here, there] = deployment.locations;
      origin.on("/flaky", (record, n) => ({ headers: { "cache-control": "max-age=1, stale-if-error=60" }, body: `flaky #${n}` }));
      assert.equal((await here.fetch("/flaky")).body, "flaky #1");
      await sleep(1500);
      origin.on("/flaky", async () => {
        await sleep(3000);
        return { body: "too late" };
      });
      const stale = await here.fetch("/flaky");
      assert.equal(stale.status, 200);
      assert.equal(stale.body, "flaky #1", "stale-if-error at the location, when the shield reached no origin");
      origin.on("/down", async () => {
        await sleep(3000);
        return { body: "too late" };
      });
      const failed = await there.fetch("/down");
      assert.equal(failed.status, 504);
      assert.match(failed.cacheStatus, /detail=origin-timeout/);
      assert.doesNotMatch(failed.body, /shield/i);
    } finally {
      await dispose();
    }
  });

  it("passes an origin's own error through and stores nothing of it", async () => {
    const { origin, deployment, dispose } = await setup({
      locations: { count: 2 },
      config: { backends: ["memory"], shield: true },
    });
    try {
      const [here, there] = deployment.locations;
      origin.on("/broken", (record, n) => ({ status: 503, headers: { "cache-control": "no-store" }, body: `broken #${n}` }));
      assert.equal((await here.fetch("/broken")).status, 503);
      assert.equal((await there.fetch("/broken")).status, 503);
      assert.equal(origin.count("/broken", "GET"), 2);
    } finally {
      await dispose();
    }
  });
});
