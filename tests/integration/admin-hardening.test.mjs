// The admin API against token guessing: failed authentications are rate-limited per client
// address (the Workers Rate Limiting binding, or a limiter in the isolate without it); over
// the limit a client gets 429 with Retry-After and its token is not even compared, while
// other addresses are not affected. Every admin request is logged with the token's label and
// its outcome, never with a token.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

const TOKEN = "admin-token-7c1f5e9a2b";
const CI_TOKEN = "ci-token-3d8e0f4a6b";
const LIMIT = 10;
const RATELIMITS = { EDGECACHE_ADMIN_LIMITER: { simple: { limit: LIMIT, period: 60 } } };
const WRONG = (i) => `guess-${i}-0f9e8d7c`;

function stats(worker, address, token) {
  const headers = { "cf-connecting-ip": address };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return worker.fetch("/_edgecache/stats", { headers });
}

/** Guesses from `address` (or `address(i)`) until one is refused with 429; every status. */
async function bruteForce(worker, address, attempts) {
  const statuses = [];
  for (let i = 0; i < attempts; i++) {
    const got = await stats(worker, typeof address === "function" ? address(i) : address, WRONG(i));
    statuses.push(got.status);
    if (got.status === 429) return { statuses, refused: got };
  }
  return { statuses };
}

/**
 * The limit's window can end during the test (the binding's windows are fixed, 60 s): the
 * first `LIMIT` guesses are refused with 401 whatever happens, and the 429 comes within one
 * more window's worth.
 */
function assertLimited({ statuses, refused }) {
  assert.deepEqual(statuses.slice(0, LIMIT), Array(LIMIT).fill(401), statuses.join(","));
  assert.ok(refused, `never refused with 429: ${statuses.join(",")}`);
  assert.ok(statuses.length <= 2 * LIMIT + 1, statuses.join(","));
  assert.ok(statuses.slice(0, -1).every((s) => s === 401), statuses.join(","));
  const wait = Number(refused.headers.get("retry-after"));
  assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `Retry-After: ${refused.headers.get("retry-after")}`);
  assert.deepEqual(JSON.parse(refused.body), { error: "too many failed attempts" });
  assert.equal(refused.headers.get("cache-control"), "no-store");
}

function adminLines(worker) {
  return worker.logs.filter((l) => l.includes('"edgecache":"admin"')).map((l) => JSON.parse(l.slice(l.indexOf("{"))));
}

describe("failed admin logins with the rate limiting binding", () => {
  const { worker } = withWorker({ origin: null, bindings: { ADMIN_TOKEN: TOKEN, ADMIN_TOKENS: `ci:${CI_TOKEN}` }, ratelimits: RATELIMITS });

  it("refuses a guessing address with 429 and Retry-After, without comparing its token, while another address gets in", async () => {
    assertLimited(await bruteForce(worker, "198.51.100.7", 3 * LIMIT));
    const right = await stats(worker, "198.51.100.7", TOKEN);
    assert.equal(right.status, 429, "the right token is not compared once the address is over the limit");
    assert.ok(Number(right.headers.get("retry-after")) >= 1);
    assert.equal((await stats(worker, "198.51.100.8", TOKEN)).status, 200);
    assert.equal((await stats(worker, "198.51.100.8", CI_TOKEN)).status, 200);
    assert.equal((await stats(worker, "198.51.100.8", "wrong")).status, 401, "another address keeps its own count");
    // An IPv6 client is counted by its /64: changing the last 64 bits does not help.
    assertLimited(await bruteForce(worker, (i) => `2001:db8:7:7::${(i + 1).toString(16)}`, 3 * LIMIT));
    assert.equal((await stats(worker, "2001:db8:7:8::1", TOKEN)).status, 200, "the next /64 is another client");
  });

  it("leaves admins who give the right token alone, however often they call", async () => {
    for (let i = 0; i < 3 * LIMIT; i++) assert.equal((await stats(worker, "198.51.100.20", CI_TOKEN)).status, 200);
    assert.equal((await stats(worker, "198.51.100.20", "wrong")).status, 401);
  });

  it("logs every admin request with its route, the token's label and the outcome, never a token", async () => {
    const mark = worker.logs.length;
    const address = "198.51.100.30";
    const asked = [
      [{ path: "/_edgecache/app.js" }, { route: "/app.js", token: null, outcome: "ok", status: 200 }],
      [{ path: "/_edgecache/stats", token: CI_TOKEN }, { route: "/stats", token: "ci", outcome: "ok", status: 200 }],
      [{ path: "/_edgecache/stats", token: "nope" }, { route: "/stats", token: null, outcome: "unauthorized", status: 401 }],
      [{ path: "/_edgecache/purge", token: TOKEN, method: "POST", body: "not json" }, { route: "/purge", token: "admin", outcome: "bad-request", status: 400 }],
      [{ path: `/_edgecache/${CI_TOKEN}`, token: CI_TOKEN }, { route: "other", token: "ci", outcome: "not-found", status: 404 }],
    ];
    for (const [{ path, token, method = "GET", body }] of asked) {
      const headers = { "cf-connecting-ip": address, ...(token ? { authorization: `Bearer ${token}` } : {}) };
      await worker.fetch(path, { method, body, headers });
    }
    const lines = adminLines({ logs: worker.logs.slice(mark) });
    assert.equal(lines.length, asked.length, JSON.stringify(lines));
    for (const [i, [, expected]] of asked.entries()) {
      const { route, token, outcome, status, client, method } = lines[i];
      assert.deepEqual({ route, token, outcome, status }, expected, `request ${i}`);
      assert.equal(client, address);
      assert.equal(method, asked[i][0].method ?? "GET");
    }
    const limited = adminLines(worker).filter((l) => l.outcome === "rate-limited");
    assert.ok(limited.length >= 2 && limited.every((l) => l.status === 429 && l.token === null));
    for (const line of worker.logs) {
      for (const secret of [TOKEN, CI_TOKEN, WRONG(0), WRONG(5)]) assert.ok(!line.includes(secret), `${secret} in ${line}`);
    }
  });
});

describe("failed admin logins without the binding", () => {
  const { worker } = withWorker({ origin: null, bindings: { ADMIN_TOKEN: TOKEN } });

  it("are limited in the isolate with the same limit, and the log says so once", async () => {
    assertLimited(await bruteForce(worker, "203.0.113.9", 3 * LIMIT));
    assert.equal((await stats(worker, "203.0.113.9", TOKEN)).status, 429);
    assert.equal((await stats(worker, "203.0.113.10", TOKEN)).status, 200);
    assert.equal((await stats(worker, "203.0.113.10", "wrong")).status, 401);
    const notes = worker.logs.filter((l) => l.includes('"edgecache":"admin-rate-limit"'));
    assert.equal(notes.length, 1, notes.join("\n"));
    assert.match(notes[0], /EDGECACHE_ADMIN_LIMITER/);
  });

  it("count clients without an address as one", async () => {
    const statuses = [];
    for (let i = 0; i < 2 * LIMIT; i++) {
      const headers = { authorization: `Bearer ${WRONG(i)}`, "cf-connecting-ip": "not-an-address", "x-forwarded-for": `10.0.0.${i}`, "x-real-ip": `10.0.1.${i}` };
      const got = await worker.fetch("/_edgecache/stats", { headers });
      statuses.push(got.status);
      if (got.status === 429) break;
    }
    assert.deepEqual(statuses, [...Array(LIMIT).fill(401), 429], "X-Forwarded-For and X-Real-IP do not make a client new");
  });
});

/** Whether any request the origin received carried one of `tokens`, in any field or its URL. */
function sawToken(origin, tokens) {
  return origin.requests.filter((r) => tokens.some((t) => r.url.includes(t) || Object.values(r.headers).some((v) => String(v).includes(t))));
}

describe("one path for the admin API", () => {
  const { origin, worker } = withWorker({ bindings: { ADMIN_TOKEN: TOKEN, ADMIN_TOKENS: `ci:${CI_TOKEN}` }, config: { backends: ["memory"], routes: [{ path: "/api/**", bypass: true }] } });
  const bearer = (token) => ({ authorization: `Bearer ${token}` });

  it("answers an escaped spelling of the admin path as the admin API", async () => {
    for (const path of ["/%5Fedgecache/stats", "/_edgecache/%73tats", "/x/%2e%2e/_edgecache/stats"]) {
      const got = await worker.fetch(path, { headers: bearer(TOKEN) });
      assert.equal(got.status, 200, `${path}: ${got.body}`);
      assert.ok(JSON.parse(got.body), path);
      assert.equal((await worker.fetch(path)).status, 401, `${path} without a token`);
    }
    assert.deepEqual(sawToken(origin, [TOKEN]), []);
    assert.equal(origin.requests.filter((r) => /edgecache/i.test(r.url)).length, 0, "the origin was asked nothing");
  });

  it("refuses every other reading of the admin path, and forwards none of them with the token", async () => {
    const spellings = ["//_edgecache/stats", "/_EDGECACHE/stats", "/_EdgeCache/stats", "/_edgecache;x/stats", "/_edgecache%2Fstats", "/%2F_edgecache/stats", "/_edgecache%2fstats", "/_edgecache./stats", "/_edgecache%3Bx/stats"];
    for (const path of spellings) {
      for (const token of [TOKEN, CI_TOKEN]) {
        const got = await worker.fetch(path, { headers: bearer(token) });
        assert.ok([200, 400].includes(got.status), `${path}: ${got.status} ${got.body}`);
        assert.doesNotMatch(got.cacheStatus, /fwd=(miss|uri-miss|bypass; fwd-status)/, `${path} went to the origin: ${got.cacheStatus}`);
      }
    }
    assert.deepEqual(sawToken(origin, [TOKEN, CI_TOKEN]), [], "the origin never saw an admin token");
    assert.equal(origin.requests.filter((r) => /edgecache/i.test(decodeURIComponent(r.url))).length, 0, "no reading of the admin path reached the origin");
  });

  it("never forwards an admin token to the origin on any other path, cacheable, bypassed or another method", async () => {
    origin.on("/page", (record) => ({ headers: { "cache-control": "private" }, body: `auth=${record.headers.authorization ?? "none"}` }));
    origin.on("/api/me", (record) => ({ headers: { "cache-control": "no-store" }, body: `auth=${record.headers.authorization ?? "none"}` }));
    const cases = [
      ["/page", "GET", `Bearer ${TOKEN}`],
      ["/page", "GET", `bearer ${CI_TOKEN}`],
      ["/page", "GET", `BEARER   ${TOKEN}  `],
      ["/api/me", "GET", `Bearer ${TOKEN}`],
      ["/api/me", "POST", `Bearer ${CI_TOKEN}`],
      ["/page", "DELETE", `Bearer ${TOKEN}`],
    ];
    for (const [path, method, authorization] of cases) {
      const got = await worker.fetch(path, { method, headers: { authorization } });
      assert.equal(got.status, 200, `${method} ${path}`);
      assert.equal(origin.last(path).headers.authorization, undefined, `${method} ${path} with ${authorization.split(" ")[0]}`);
    }
    assert.deepEqual(sawToken(origin, [TOKEN, CI_TOKEN]), [], "the origin never saw an admin token");
    const user = await worker.fetch("/page", { headers: { authorization: "Bearer user-session-1" } });
    assert.equal(user.body, "auth=Bearer user-session-1", "other credentials still reach the origin");
  });
});

describe("one path for the admin API with case_insensitive_paths", () => {
  const { origin, worker } = withWorker({ bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory"], case_insensitive_paths: true } });

  it("answers the admin path in another case as the admin API", async () => {
    for (const path of ["/_EDGECACHE/stats", "/%5FEdgeCache/stats"]) {
      const got = await worker.fetch(path, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(got.status, 200, `${path}: ${got.body}`);
    }
    assert.equal((await worker.fetch("//_edgecache/stats", { headers: { authorization: `Bearer ${TOKEN}` } })).status, 400);
    assert.deepEqual(sawToken(origin, [TOKEN]), []);
  });
});
