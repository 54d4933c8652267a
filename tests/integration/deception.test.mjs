// Private pages: a private page reached through a static-looking path (web cache deception)
// in every way an origin says it is private, answered to each user alone, concurrent users
// included; a page without cache headers requested with a cookie, and an answer to a request
// with Authorization (without a lifetime under must-revalidate too), never given to another user.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";
import { hostileSite } from "../support/hostile-origin.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("private pages", () => {
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

  it("never caches a response to a request carrying Authorization for another user", async () => {
    origin.on("/me", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `${record.headers.authorization ?? "anonymous"} #${n}` }));
    await worker.fetch("/me", { headers: { authorization: "Bearer alice" } });
    const anonymous = await worker.fetch("/me");
    assert.equal(anonymous.body, "anonymous #2");
  });

  it("never guesses a lifetime for an answer to a request carrying Authorization or an API key that says only must-revalidate", async () => {
    // An API that wants every client to check back, as browsers read it: §3.5 lets a shared
    // cache keep it, but the edge's guess (default_ttl) would hand alice's answer to everyone.
    origin.on(/^\/api\/profile/, (record, n) => ({
      headers: { "cache-control": "must-revalidate", "last-modified": new Date(Date.now() - 864e5 * 30).toUTCString(), "content-type": "application/json" },
      body: `{"user":"${record.headers.authorization ?? record.headers["x-api-key"] ?? "anonymous"}","n":${n}}`,
    }));
    for (const [name, credential] of [["authorization", "Bearer alice"], ["x-api-key", "alice-key"]]) {
      const path = `/api/profile-${name}`;
      const alice = await worker.fetch(path, { headers: { [name]: credential } });
      assert.match(alice.body, /alice/);
      await sleep(200);
      for (const other of [{}, { [name]: name === "authorization" ? "Bearer bob" : "bob-key" }]) {
        const got = await worker.fetch(path, { headers: other });
        assert.doesNotMatch(got.body, /alice/, `${JSON.stringify(other)} never gets alice's answer (${got.cacheStatus})`);
      }
    }
  });
});

describe("private pages, with client_refresh_interval 0", () => {
  const { origin, worker } = withWorker({
    config: hostileSite(),
  });

  describe("a private page behind a static-looking path (web cache deception, route ttl 600 on *.css)", () => {
    const cases = {
      "private alone": { "cache-control": "private" },
      "no-store alone": { "cache-control": "no-store" },
      "a session cookie set": { "set-cookie": "session=renewed; HttpOnly" },
      "Vary: Cookie without lifetime (Django's session middleware)": { vary: "Cookie" },
      "private on a second field line after a broken one": { "cache-control": ['max-age=60, foo="bar', "private"] },
    };
    let i = 0;
    for (const [name, headers] of Object.entries(cases)) {
      const target = `/account/settings/${i++}/x.css`;
      it(`answers each user their own page: ${name}`, async () => {
        origin.on(target, async (record, n) => {
          await sleep(100);
          return { headers: { "content-type": "text/html", ...headers }, body: `account of ${record.headers.cookie} #${n}` };
        });
        const first = await worker.fetch(target, { headers: { cookie: "session=alice" } });
        assert.match(first.body, /session=alice/);
        await sleep(150); // any store has run
        // Then many users at once, so coalescing is tried too.
        const users = Array.from({ length: 12 }, (_, u) => `session=user${u}`);
        const got = await Promise.all(users.map((cookie) => worker.fetch(target, { headers: { cookie } })));
        got.forEach((response, u) => assert.match(response.body, new RegExp(`account of ${users[u]} #`), `${users[u]} got ${response.body}`));
        const again = await worker.fetch(target, { headers: { cookie: "session=bob" } });
        assert.match(again.body, /session=bob/);
      });
    }

    it("keeps a Vary: Cookie page per cookie when it is stored", async () => {
      const target = "/account/vary/x.css";
      // A stylesheet, so that deception armour lets the route's ttl store it for a request
      // with a cookie.
      origin.on(target, (record, n) => ({ headers: { vary: "Cookie", "content-type": "text/css" }, body: `account of ${record.headers.cookie} #${n}` }));
      await worker.fetchStored(target, { headers: { cookie: "session=alice" } });
      const alice = await worker.fetch(target, { headers: { cookie: "session=alice" } });
      assert.match(alice.cacheStatus, /; hit;/, "the route's ttl does store it, keyed by the cookie");
      const bob = await worker.fetch(target, { headers: { cookie: "session=bob" } });
      assert.match(bob.body, /session=bob #2/);
    });
  });
});
