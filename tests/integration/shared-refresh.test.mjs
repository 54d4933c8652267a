// A shared entry is refreshed as a shared request (Security model, "Nobody evicts or
// refreshes for everyone"). The origin here negotiates as a Django or Express site with
// sessions does: a request with a session cookie, a token or an API key gets the user's own
// page, `private`, with a renewed session cookie; anyone else gets the page for everyone.
// Whatever refreshes an entry stored for everyone (a background refresh behind a
// stale-while-revalidate answer, a stale hit that must be revalidated first, a 304, a
// client's forced refresh, a flight led by a logged-in request) carries only what the key
// carries, so the origin never sees the credential, and nothing a logged-in user's answer
// says can remove, replace or shorten the entry: when the origin then fails, anonymous
// clients still get the stale copy within stale-if-error.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

const SITE = {
  backends: ["memory", "cache", "kv"],
  client_refresh_interval: 0,
  routes: [{ path: "/vc/**", vary_cookies: ["lang"] }],
};

const ALICE = { cookie: "session=alice; theme=dark" };
const BOB = { authorization: "Bearer bob" };
const CAROL = { "x-api-key": "carol" };

/** Whom a request is made as, as the site reads it: its session, token or API key. */
function userOf(headers) {
  const session = /(?:^|;\s*)session=([^;]*)/.exec(headers.cookie ?? "");
  if (session) return `session:${session[1]}`;
  if (headers.authorization) return `token:${headers.authorization}`;
  if (headers["x-api-key"]) return `key:${headers["x-api-key"]}`;
  return null;
}

/**
 * A page of a site with sessions. `state.cc` (and `state.age`, `state.etag`) is what the page
 * for everyone says (`state.vary` its Vary); `state.down` answers 503; `state.delayMs` slows the page for everyone.
 * A user's request gets `private` with a renewed session, as Django's session middleware
 * answers; a revalidation of the page for everyone gets a 304.
 */
function sessionSite(state) {
  return async (record, n) => {
    if (state.down) return { status: 503, headers: { "content-type": "text/plain" }, body: "down" };
    const user = userOf(record.headers);
    if (user) {
      return {
        headers: { "cache-control": "private", "content-type": "text/html", vary: "Cookie", "set-cookie": "session=renewed; Path=/; HttpOnly" },
        body: `page for ${user} #${n}`,
      };
    }
    if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
    const headers = { "cache-control": state.cc, "content-type": "text/html", age: state.age ?? "0" };
    if (state.etag) headers.etag = state.etag;
    if (state.vary) headers.vary = state.vary;
    if (state.etag && record.headers["if-none-match"] === state.etag) return { status: 304, headers, body: "" };
    return { headers, body: `page for everyone #${n}` };
  };
}

/** The credentials the origin was sent for `path`, one entry per request that had any. */
function credentialsSeen(origin, path) {
  return origin.requests
    .filter((r) => r.path === path)
    .map((r) => [r.headers.cookie, r.headers.authorization, r.headers["x-api-key"]].filter(Boolean).join(" "))
    .filter(Boolean);
}

/**
 * Waits until the worker logs a store after log line `mark`, for at most `timeoutMs`; does not
 * fail when none comes (what was not stored is for the test's assertions to show).
 */
async function settled(worker, mark, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (!worker.logs.slice(mark).some((l) => l.includes('"edgecache":"stored"')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function until(condition, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("a shared entry is refreshed as a shared request", () => {
  const { origin, worker } = withWorker({ config: SITE });

  it("a background refresh behind a logged-in request carries no credential, and the stale copy outlives the origin's failure", async () => {
    const state = { cc: "max-age=1, stale-while-revalidate=60, stale-if-error=600", age: "2" };
    origin.on("/swr", sessionSite(state));
    await worker.fetchStored("/swr");
    for (const [who, headers] of [["alice", ALICE], ["bob", BOB], ["carol", CAROL]]) {
      const before = origin.count("/swr");
      const mark = worker.logs.length;
      const got = await worker.fetch("/swr", { headers });
      assert.equal(got.status, 200, who);
      assert.match(got.body, /^page for everyone #/, `${who} gets the page stored for everyone`);
      assert.match(got.cacheStatus, /detail=stale-while-revalidate/, who);
      await until(() => origin.count("/swr") > before, `${who}'s background refresh`);
      await settled(worker, mark);
    }
    state.down = true;
    for (let i = 0; i < 3; i++) {
      const anonymous = await worker.fetch("/swr");
      assert.equal(anonymous.status, 200, "the stale copy, not the origin's 503");
      assert.equal(anonymous.body, "page for everyone #4", "the last refresh, stored for everyone");
    }
    assert.deepEqual(credentialsSeen(origin, "/swr"), [], "no refresh carried a credential");
  });

  it("a forced refresh by a logged-in client is sent as everyone's, and is everyone's", async () => {
    const state = { cc: "public, max-age=600" };
    origin.on("/forced", sessionSite(state));
    await worker.fetchStored("/forced");
    let n = 1;
    for (const [who, headers] of [["alice", ALICE], ["bob", BOB], ["carol", CAROL]]) {
      const mark = worker.logs.length;
      const own = await worker.fetch("/forced", { headers: { ...headers, "cache-control": "no-cache" } });
      n++;
      assert.equal(own.body, `page for everyone #${n}`, `${who}'s forced refresh is the page for everyone`);
      assert.match(own.cacheStatus, /fwd=request; fwd-status=200; stored/, who);
      await settled(worker, mark);
      const anonymous = await worker.fetch("/forced");
      assert.match(anonymous.cacheStatus, /; hit;/, who);
      assert.equal(anonymous.body, `page for everyone #${n}`, who);
    }
    assert.deepEqual(credentialsSeen(origin, "/forced"), []);
    assert.equal(origin.count("/forced"), 4);
  });

  it("a flight led by a logged-in request past the stale window is everyone's: one origin request, no credential", async () => {
    const state = { cc: "max-age=1, stale-if-error=600", age: "2", delayMs: 300 };
    origin.on("/led", sessionSite(state));
    await worker.fetchStored("/led");
    const leader = worker.fetch("/led", { headers: ALICE });
    await new Promise((r) => setTimeout(r, 50));
    const followers = Array.from({ length: 4 }, () => worker.fetch("/led"));
    const all = await Promise.all([leader, ...followers]);
    for (const got of all) assert.equal(got.body, "page for everyone #2");
    assert.equal(origin.count("/led"), 2, "the followers shared the leader's fetch");
    assert.deepEqual(credentialsSeen(origin, "/led"), []);
  });

  it("a logged-in miss answered private does not mark the URL hit-for-pass for everyone", async () => {
    const state = { cc: "max-age=600", delayMs: 300 };
    origin.on("/hfp", sessionSite(state));
    const own = await worker.fetch("/hfp", { headers: ALICE });
    assert.equal(own.body, "page for session:alice #1", "a miss goes as the client's own request");
    assert.match(own.cacheStatus, /detail=private/);
    const burst = await Promise.all(Array.from({ length: 5 }, () => worker.fetch("/hfp")));
    for (const got of burst) assert.equal(got.body, "page for everyone #2");
    assert.equal(origin.count("/hfp"), 2, "the anonymous burst shared one fetch");
  });

  it("a logged-in user's private answer where the page varies on Cookie leaves everyone's refreshes running", async () => {
    // Django's session middleware adds `Vary: Cookie` to every page it touches: the user's
    // answer is its own variant's, and says nothing of the URL's other variants.
    const state = { cc: "max-age=1, stale-while-revalidate=60", age: "2", vary: "Cookie" };
    origin.on("/django", sessionSite(state));
    await worker.fetchStored("/django");
    const own = await worker.fetch("/django", { headers: ALICE });
    assert.equal(own.body, "page for session:alice #2", "a variant of her own, asked with her cookie");
    const before = origin.count("/django");
    const anonymous = await worker.fetch("/django");
    assert.equal(anonymous.body, "page for everyone #1");
    assert.match(anonymous.cacheStatus, /detail=stale-while-revalidate/);
    await until(() => origin.count("/django") > before, "everyone's background refresh (not hit-for-pass)");
    assert.equal(origin.last("/django").headers.cookie, undefined);
  });

  it("a route keyed on a cookie sends that cookie alone on a refresh", async () => {
    const state = { cc: "max-age=1, stale-while-revalidate=60", age: "2" };
    origin.on("/vc/page", sessionSite(state));
    await worker.fetchStored("/vc/page", { headers: { cookie: "lang=de" } });
    const got = await worker.fetch("/vc/page", { headers: { cookie: "lang=de; session=alice" } });
    assert.match(got.cacheStatus, /detail=stale-while-revalidate/);
    await until(() => origin.count("/vc/page") >= 2, "the background refresh");
    assert.deepEqual(credentialsSeen(origin, "/vc/page"), ["lang=de", "lang=de"], "the key's cookie, and no other");
  });
});

describe("a shared entry revalidated for a logged-in request, then an origin that refuses connections", () => {
  it("revalidates without the credential, keeps the 304's refresh for everyone, and serves the stale copy once the origin is gone", async () => {
    const { origin, worker, dispose } = await setup({ config: SITE });
    try {
      const state = { cc: "max-age=1, stale-if-error=600", age: "2", etag: '"p1"' };
      origin.on("/strict", sessionSite(state));
      await worker.fetchStored("/strict");
      for (const [who, headers] of [["alice", ALICE], ["bob", BOB]]) {
        // The 304 leaves the entry fresh for its max-age=1: bob comes once it is stale again.
        if (who === "bob") await new Promise((r) => setTimeout(r, 1500));
        const mark = worker.logs.length;
        const got = await worker.fetch("/strict", { headers });
        await settled(worker, mark);
        assert.equal(got.body, "page for everyone #1", `${who} gets the revalidated page for everyone`);
        assert.match(got.cacheStatus, /fwd=stale; fwd-status=304; stored/, who);
      }
      assert.equal(origin.requests.filter((r) => r.path === "/strict" && r.headers["if-none-match"] === '"p1"').length, 2);
      assert.deepEqual(credentialsSeen(origin, "/strict"), []);
      await origin.close(); // its port now refuses connections
      await new Promise((r) => setTimeout(r, 1500)); // stale again
      for (const headers of [{}, {}, ALICE]) {
        const stale = await worker.fetch("/strict", { headers });
        assert.equal(stale.status, 200);
        assert.equal(stale.body, "page for everyone #1");
        assert.match(stale.cacheStatus, /detail=stale-if-error/);
      }
    } finally {
      await dispose();
    }
  });

  it("keeps the stale copy in KV for another location", async () => {
    const { origin, worker, dispose } = await setup({ config: { ...SITE, backends: ["kv"] } });
    try {
      const state = { cc: "max-age=1, stale-while-revalidate=60, stale-if-error=600", age: "2" };
      origin.on("/kv-page", sessionSite(state));
      await worker.fetchStored("/kv-page");
      const mark = worker.logs.length;
      await worker.fetch("/kv-page", { headers: ALICE });
      await until(() => origin.count("/kv-page") === 2, "the background refresh");
      await settled(worker, mark);
      state.down = true;
      const anonymous = await worker.fetch("/kv-page");
      assert.equal(anonymous.status, 200, "the stale copy, not the origin's 503");
      assert.equal(anonymous.body, "page for everyone #2");
      assert.deepEqual(credentialsSeen(origin, "/kv-page"), []);
    } finally {
      await dispose();
    }
  });
});
