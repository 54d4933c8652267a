// A hostile audit of the shield (`shield = true`): purges, deadlines, fragments, HEAD and
// variants through it, across several locations of one deployment (tests/support/worker.mjs,
// startLocations) in front of a recording origin.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";
import { purge as adminPurge } from "../support/admin.mjs";

const TOKEN = "shield-hostile-token";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const purge = (location, body) => adminPurge(location, TOKEN, body);

describe("the shield under a hostile audit", () => {
  const { origin, deployment } = withWorker({
    locations: { count: 3 },
    bindings: { ADMIN_TOKEN: TOKEN },
    config: {
      backends: ["memory", "cache", "kv"],
      shield: true,
      purge_propagation_s: 0,
      routes: [{ path: "/pages/**", esi: true }],
    },
  });

  it("does not let a location keep a soft-purged answer of the shield's as fresh", async () => {
    origin.on("/soft", (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": "soft" }, body: `soft #${n}` }));
    const [here] = deployment.locations;
    assert.equal((await here.fetch("/soft")).body, "soft #1");
    await here.stored("/soft");
    await purge(here, { tags: ["soft"], soft: true });
    await sleep(50);
    const once = await here.fetch("/soft");
    assert.equal(once.body, "soft #1", "served stale once more, as a soft purge says");
    // The refresh behind it has had time to finish, at the shield and at the origin.
    await sleep(1500);
    const after = await here.fetch("/soft");
    assert.equal(after.body, "soft #2", `the soft-purged answer is not kept as fresh (${after.cacheStatus})`);
  });

  it("invalidates every location's and the shield's copy when a browser's POST (with its Origin) succeeds", async () => {
    origin.on("/form", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `form #${n} ${record.method}` }));
    const [a, b, c] = deployment.locations;
    assert.equal((await a.fetch("/form")).body, "form #1 GET");
    await a.stored("/form");
    // Browsers send Origin on every POST, form or fetch (Miniflare lets only local ones in).
    const posted = await a.fetch("/form", { method: "POST", headers: { origin: "http://localhost" }, body: "edit" });
    assert.equal(posted.status, 200, `${posted.body} ${posted.cacheStatus}`);
    const elsewhere = await c.fetch("/form");
    assert.equal(elsewhere.body, "form #3 GET", `the shield's copy was invalidated (${elsewhere.cacheStatus})`);
    const here = await a.fetch("/form");
    assert.match(here.body, /^form #[34] GET$/, `the location's own copy was invalidated (${here.cacheStatus})`);
  });

  it("assembles a page whose template another location's miss stored at the shield", async () => {
    origin.on("/pages/shell", (record, n) => ({
      headers: { "content-type": "text/html", "cache-control": "max-age=60", "surrogate-control": 'content="ESI/1.0"' },
      body: `<p>shell #${n}</p><esi:include src="/frag/f"/>`,
    }));
    origin.on("/frag/f", (record, n) => ({ headers: { "content-type": "text/html", "cache-control": "max-age=60" }, body: `frag #${n}` }));
    const [a, b, c] = deployment.locations;
    const first = await a.fetch("/pages/shell");
    assert.equal(first.body, "<p>shell #1</p>frag #1");
    await sleep(300);
    for (const location of [b, c]) {
      const got = await location.fetch("/pages/shell");
      assert.doesNotMatch(got.body, /esi:include/, `the markup is never sent to a client (${got.cacheStatus})`);
      assert.equal(got.body, "<p>shell #1</p>frag #1");
    }
    const head = await c.fetch("/pages/shell", { method: "HEAD" });
    assert.equal(head.status, 200);
  });

  it("answers a GET with the whole body after a HEAD went through the shield", async () => {
    origin.on("/head-first", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `head-first #${n} ${record.method}` }));
    const [a, b] = deployment.locations;
    const head = await a.fetch("/head-first", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    for (const location of [a, b]) {
      const got = await location.fetch("/head-first");
      assert.match(got.body, /^head-first #\d GET$/, `a GET is never answered with a HEAD's empty body (${got.cacheStatus})`);
    }
  });

  it("keeps each variant of a negotiated answer to its own clients through the shield", async () => {
    origin.on("/lang", (record, n) => ({
      headers: { "cache-control": "max-age=60", vary: "accept-language" },
      body: `lang ${record.headers["accept-language"] ?? "none"} #${n}`,
    }));
    const [a, b, c] = deployment.locations;
    assert.match((await a.fetch("/lang", { headers: { "accept-language": "fr" } })).body, /^lang fr #/);
    assert.match((await b.fetch("/lang", { headers: { "accept-language": "de" } })).body, /^lang de #/);
    assert.match((await c.fetch("/lang", { headers: { "accept-language": "en" } })).body, /^lang en #/);
    assert.match((await c.fetch("/lang", { headers: { "accept-language": "fr" } })).body, /^lang fr #/);
    assert.match((await a.fetch("/lang", { headers: { "accept-language": "de" } })).body, /^lang de #/);
  });
});

describe("the shield's own fields", () => {
  const { origin, deployment } = withWorker({
    locations: { count: 2 },
    config: { backends: ["memory"], shield: true },
  });

  it("never shows a client the shield's fields, nor takes an origin's of those names as the shield's word", async () => {
    origin.on("/forged", (record, n) => ({
      headers: { "cache-control": "max-age=60", "edgecache-shield-origin-failed": "origin-timeout", "edgecache-shield-stored-at": "0" },
      body: `forged #${n}`,
    }));
    const [here, there] = deployment.locations;
    const first = await here.fetch("/forged");
    assert.equal(first.status, 200, "an origin's field does not read as the shield's failure");
    assert.equal(first.body, "forged #1");
    await sleep(200);
    const fromShield = await there.fetch("/forged");
    assert.equal(fromShield.body, "forged #1");
    assert.match(fromShield.cacheStatus, /edgecache-shield; hit/);
    for (const got of [first, fromShield]) {
      assert.equal(got.headers.get("edgecache-shield-origin-failed"), null);
      assert.equal(got.headers.get("edgecache-shield-stored-at"), null);
    }
    const kept = await there.fetch("/forged");
    assert.match(kept.cacheStatus, /(^|, )edgecache; hit/, "the location kept the shield's copy");
    assert.equal(kept.headers.get("edgecache-shield-stored-at"), null);
    assert.equal(origin.count("/forged", "GET"), 1);
  });
});

describe("the shield's deadline", () => {
  it("answers a request whose origin never answers within origin_timeout_ms, not twice that", async () => {
    const timeout = 1500;
    const { origin, deployment, dispose } = await setup({
      locations: { count: 2 },
      config: { backends: ["memory"], shield: true, origin_timeout_ms: timeout },
    });
    try {
      const [here] = deployment.locations;
      origin.on("/silent", async () => {
        await sleep(6000);
        return { body: "too late" };
      });
      const started = Date.now();
      const got = await here.fetch("/silent");
      const took = Date.now() - started;
      assert.equal(got.status, 504);
      assert.ok(took < timeout + 1000, `answered in ${took} ms with origin_timeout_ms = ${timeout} (${got.cacheStatus})`);
      assert.equal(origin.count("/silent", "GET"), 1, "the origin was asked once, by the shield");
    } finally {
      await dispose();
    }
  });
});

describe("the shield while its fetch of a key streams a slow body", () => {
  it("never answers another location's client with a 504 for an origin that answered", async () => {
    // The origin answers at once and streams its body for 4 s (a large file, a page rendered
    // as it goes). A client of another location that asks meanwhile waits at the shield for
    // that fetch; when its location's deadline runs out first, it must not be told the
    // origin did not answer.
    const timeout = 1000;
    const { origin, deployment, dispose } = await setup({
      locations: { count: 2 },
      config: { backends: ["memory"], shield: true, origin_timeout_ms: timeout },
    });
    try {
      origin.onRaw("/slow-body", async (req, res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "content-type": "text/plain", "content-length": 40 });
        for (let i = 0; i < 4; i++) {
          res.write("x".repeat(10));
          await sleep(1000);
        }
        res.end();
      });
      const [here, there] = deployment.locations;
      const first = here.fetch("/slow-body");
      first.catch(() => {}); // awaited below; a failure above must not leave it unhandled
      await sleep(300);
      const started = Date.now();
      const other = await there.fetch("/slow-body");
      const took = Date.now() - started;
      assert.equal(other.status, 200, `${other.body} (${other.cacheStatus})`);
      assert.equal(other.body, "x".repeat(40));
      assert.ok(took < 2 * timeout + 4500, `answered in ${took} ms`);
      assert.equal((await first).body, "x".repeat(40));
    } finally {
      await dispose();
    }
  });
});

describe("the shield in front of a dead origin", () => {
  it("sends a stampede's one request to the origin and answers every client within origin_timeout_ms", async () => {
    const timeout = 1500;
    const { origin, deployment, dispose } = await setup({
      locations: { count: 2 },
      config: { backends: ["memory"], shield: true, origin_timeout_ms: timeout },
    });
    try {
      origin.on("/dead", async () => {
        await sleep(8000);
        return { body: "too late" };
      });
      const started = Date.now();
      const all = await Promise.all(
        deployment.locations.flatMap((location) =>
          Array.from({ length: 4 }, async () => {
            const got = await location.fetch("/dead");
            return { ...got, took: Date.now() - started };
          }),
        ),
      );
      for (const got of all) {
        assert.equal(got.status, 504);
        assert.ok(got.took < timeout + 1000, `answered in ${got.took} ms with origin_timeout_ms = ${timeout} (${got.cacheStatus})`);
      }
      assert.equal(origin.count("/dead", "GET"), 1, "the fleet's stampede reached the origin once");
    } finally {
      await dispose();
    }
  });
});

describe("the shield and a purge on its way", () => {
  const { origin, deployment } = withWorker({
    locations: { count: 2 },
    bindings: { ADMIN_TOKEN: TOKEN },
    config: { backends: ["memory", "cache"], shield: true, purge_propagation_s: 2 },
  });

  it("never lets a location keep, past purge_propagation_s, a copy the shield held from before a purge", async () => {
    origin.on("/race", (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": "race" }, body: `race #${n}` }));
    const [here, there] = deployment.locations;
    assert.equal((await here.fetch("/race")).body, "race #1");
    // The shield's copy of the registry is now fresh for two seconds; the purge comes within.
    await purge(there, { tags: ["race"] });
    const early = await there.fetch("/race");
    assert.match(early.body, /^race #\d$/, "within purge_propagation_s, either answer");
    await sleep(3000);
    const late = await there.fetch("/race");
    assert.equal(late.body, "race #2", `past purge_propagation_s the purged copy is gone everywhere (${late.cacheStatus})`);
  });
});
