// Workers Cache in front of the worker (`workers_cache`): the fields edgecache sets for that
// tier on each kind of answer, seen as a client sees them (locally nothing consumes them), and
// the `ctx.cache.purge` calls its purges make. Local workerd has no `ctx.cache` (Workers Cache
// does not exist locally), so the purge calls are checked against a recording stand-in for it,
// injected through the test entry module.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { setup, withWorker } from "../support/fixture.mjs";
import { purge as adminPurge } from "../support/admin.mjs";
import { HOST } from "../support/worker.mjs";

const TOKEN = "workers-cache-token";
const SITE = HOST; // http://edge.test
const CDN = "cloudflare-cdn-cache-control";

/** The tag edgecache gives one URL in Workers Cache: 32 hex digits of the SHA-256 of its path and query. */
const urlTag = (pathAndQuery) => `edgecache-url-${crypto.createHash("sha256").update(pathAndQuery).digest("hex").slice(0, 32)}`;

const SHARED = /^max-age=(\d+)(, stale-while-revalidate=\d+)?, stale-if-error=\d+(, must-revalidate)?$/;

function maxAge(response) {
  const match = SHARED.exec(response.headers.get(CDN) ?? "");
  assert.ok(match, `shared with Workers Cache: ${response.headers.get(CDN)}`);
  return Number(match[1]);
}

/** The answer to a GET once `target` is stored (`worker.stored` probes with HEAD, which Workers Cache is never told to keep). */
async function hitOf(worker, target, init = {}) {
  await worker.stored(target, init);
  const hit = await worker.fetch(target, init);
  assert.match(hit.cacheStatus, /; hit; /, `${target}: ${hit.cacheStatus}`);
  return hit;
}

function assertNoStore(response, what) {
  assert.equal(response.headers.get(CDN), "no-store", what);
  assert.equal(response.headers.get("cache-tag"), null, `${what}: no tags for a response it may not keep`);
}

/**
 * The test entry: the built worker, with `ctx.cache` replaced by a recording stand-in for
 * Workers Cache's purge API (a deployed worker has the real one). It answers as the real one
 * does (`{success, errors}`); `/__stand-in/purges` hands over the calls recorded so far and
 * `/__stand-in/refuse` makes later calls fail as a rate-limited purge does.
 */
const STAND_IN_ENTRY = `
import Worker from "./index.js";
const recorded = [];
let answer = { success: true, errors: [] };
const recordingCacheStandIn = {
  purge(options) {
    recorded.push(structuredClone(options));
    return Promise.resolve(answer);
  },
};
export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__stand-in/purges") return Response.json(recorded.splice(0));
    if (url.pathname === "/__stand-in/refuse") {
      answer = { success: false, errors: [{ code: 1134, message: "purge rate limit exceeded" }] };
      return new Response("refusing");
    }
    const withCache = {
      waitUntil: (promise) => ctx.waitUntil(promise),
      passThroughOnException: () => ctx.passThroughOnException(),
      props: ctx.props,
      cache: recordingCacheStandIn,
    };
    return Worker.fetch(request, env, withCache);
  },
};
`;

/** What the local runtime's `ctx` offers: the reason the stand-in exists. */
const PROBE_ENTRY = `
import Worker from "./index.js";
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__probe") return Response.json({ has: "cache" in ctx, type: typeof ctx.cache });
    return Worker.fetch(request, env, ctx);
  },
};
`;

const CONFIG = {
  backends: ["memory"],
  workers_cache: SITE,
  routes: [
    { path: "/static/**", ttl: 86400, tags: ["static"] },
    { path: "/codes/**", ttl_by_status: { 404: 120 } },
    { path: "/team/**", vary_cookies: ["team"] },
    { path: "/device/**", vary_headers: ["x-device"] },
    { path: "/pages/**", esi: true, esi_includes: ["/frag/**"] },
    { path: "/frag/user", vary_cookies: ["user"] },
    { path: "/api/**", bypass: true },
    { path: "/search", query_ignore: ["utm_*"] },
    { path: "/**", tags: ["site"] },
  ],
};

describe("Workers Cache fields", () => {
  const { origin, worker } = withWorker({ config: CONFIG });

  it("tells Workers Cache to keep an answer from a stored entry for the freshness left, tagged with its URL, the route's and the origin's tags", async () => {
    origin.on("/blog/post", { headers: { "cache-control": "max-age=60", "cache-tag": "post-1,Blog", "surrogate-key": "author-7" } });
    const miss = await worker.fetch("/blog/post?page=2");
    assert.match(miss.cacheStatus, /fwd=miss; fwd-status=200; stored/);
    assertNoStore(miss, "an answer still arriving from the origin, which edgecache may yet refuse or lose");
    assert.equal(miss.headers.get("cache-control"), "max-age=60", "what browsers are told is unchanged");
    await worker.stored("/blog/post?page=2");
    const hit = await worker.fetch("/blog/post?page=2");
    assert.match(hit.cacheStatus, /; hit; /);
    assert.ok(maxAge(hit) <= 60 && maxAge(hit) >= 58, hit.headers.get(CDN));
    assert.equal(hit.headers.get("cache-tag"), `${urlTag("/blog/post?page=2")},site,post-1,Blog,author-7`);
  });

  it("gives the route's ttl as the edge lifetime, over the origin's own targeted fields", async () => {
    origin.on("/static/app.css", { headers: { "content-type": "text/css", "cache-control": "max-age=60", "cdn-cache-control": "max-age=5", [CDN]: "max-age=999" } });
    const miss = await worker.fetch("/static/app.css");
    assert.equal(miss.headers.get("cdn-cache-control"), "max-age=5", "CDN-Cache-Control is passed on for CDNs further down");
    const hit = await hitOf(worker, "/static/app.css");
    assert.ok([86398, 86399, 86400].includes(maxAge(hit)), hit.headers.get(CDN));
    assert.equal(hit.headers.get("cache-tag"), `${urlTag("/static/app.css")},static`);
  });

  it("gives a ttl_by_status lifetime to the status it names", async () => {
    origin.on("/codes/gone", { status: 404, headers: { "content-type": "text/plain" } });
    const miss = await worker.fetch("/codes/gone");
    assert.equal(miss.status, 404);
    const hit = await hitOf(worker, "/codes/gone");
    assert.ok([118, 119, 120].includes(maxAge(hit)), hit.headers.get(CDN));
  });

  it("passes on the stale windows edgecache would use, and a stale-if-error of 0 when it has none", async () => {
    origin.on("/windows", { headers: { "cache-control": "max-age=60, stale-while-revalidate=30, stale-if-error=600" } });
    await worker.fetch("/windows");
    assert.match((await hitOf(worker, "/windows")).headers.get(CDN), /^max-age=(58|59|60), stale-while-revalidate=30, stale-if-error=600$/);
    origin.on("/strict", { headers: { "cache-control": "max-age=60, must-revalidate" } });
    await worker.fetch("/strict");
    assert.match((await hitOf(worker, "/strict")).headers.get(CDN), /^max-age=(58|59|60), stale-if-error=0, must-revalidate$/);
  });

  it("shares a response that varies on Accept-Encoding alone, not one that varies on another field", async () => {
    origin.on("/encoded", { headers: { "cache-control": "max-age=60", vary: "Accept-Encoding" } });
    await worker.fetch("/encoded", { headers: { "accept-encoding": "gzip" } });
    maxAge(await hitOf(worker, "/encoded", { headers: { "accept-encoding": "gzip" } }));
    origin.on("/language", { headers: { "cache-control": "max-age=60", vary: "Accept-Language" } });
    const fr = await worker.fetch("/language", { headers: { "accept-language": "fr" } });
    assert.match(fr.cacheStatus, /stored/, "edgecache keeps the variant itself");
    assertNoStore(fr, "Vary: Accept-Language");
  });

  it("says no-store for every request to a URL whose answers vary on a field it does not key on, those without the field included", async () => {
    // An origin that says Vary only to requests carrying the field, as many do.
    origin.on("/negotiated", (record) =>
      record.headers["accept-charset"]
        ? { headers: { "cache-control": "max-age=60", vary: "Accept-Charset" }, body: `charset=${record.headers["accept-charset"]}` }
        : { headers: { "cache-control": "max-age=60" }, body: "default" },
    );
    const latin = { headers: { "accept-charset": "iso-8859-1" } };
    assertNoStore(await worker.fetch("/negotiated", latin), "Vary: Accept-Charset");
    await worker.stored("/negotiated", latin);
    const plain = await worker.fetch("/negotiated");
    assert.equal(plain.body, "default");
    assert.equal(plain.headers.get("vary"), null, "the answer itself does not vary");
    assert.match(plain.cacheStatus, /stored/);
    assertNoStore(plain, "a request without the field, to a URL whose marker names it");
    await worker.stored("/negotiated");
    const hit = await worker.fetch("/negotiated");
    assert.match(hit.cacheStatus, /; hit; /);
    assert.equal(hit.body, "default");
    assertNoStore(hit, "a hit for it too");
    const latinAgain = await worker.fetch("/negotiated", latin);
    assert.equal(latinAgain.body, "charset=iso-8859-1", "the variant the marker picks is still there");
    assert.match(latinAgain.cacheStatus, /; hit; /);
    assertNoStore(latinAgain, "the variant");
    assert.equal(origin.count("/negotiated"), 2);
  });

  it("says no-store for a route keyed on cookies or request fields", async () => {
    origin.on("/team/board", { headers: { "cache-control": "max-age=60" } });
    const team = await worker.fetch("/team/board", { headers: { cookie: "team=red" } });
    assertNoStore(team, "vary_cookies");
    const noCookie = await worker.fetch("/team/board");
    assert.match(noCookie.cacheStatus, /stored/);
    assertNoStore(noCookie, "vary_cookies, even without the cookie");
    origin.on("/device/home", { headers: { "cache-control": "max-age=60" } });
    const device = await worker.fetch("/device/home", { headers: { "x-device": "mobile" } });
    assert.match(device.cacheStatus, /stored/);
    assertNoStore(device, "vary_headers");
  });

  it("says no-store for answers stored only under query normalisation, and shares the one spelled as the key", async () => {
    origin.on("/search", (record, n) => ({ headers: { "cache-control": "max-age=60" }, body: `search #${n}` }));
    const tracked = await worker.fetch("/search?q=shoes&utm_source=mail");
    assert.match(tracked.cacheStatus, /stored/);
    assertNoStore(tracked, "a parameter left out of the key");
    await worker.stored("/search?q=shoes");
    const hitTracked = await worker.fetch("/search?utm_medium=x&q=shoes");
    assert.match(hitTracked.cacheStatus, /; hit; /);
    assertNoStore(hitTracked, "a hit for a spelling Workers Cache would key apart");
    maxAge(await worker.fetch("/search?q=shoes"));
    origin.on("/sorted", { headers: { "cache-control": "max-age=60" } });
    assertNoStore(await worker.fetch("/sorted?b=1&a=2"), "parameters the key reorders");
    maxAge(await hitOf(worker, "/sorted?a=2&b=1"));
    assertNoStore(await worker.fetch("/sorted?a=2&b=1&"), "an empty piece the key drops");
  });

  it("says no-store for a path the key spells otherwise", async () => {
    origin.on("/about", { headers: { "cache-control": "max-age=60" } });
    const escaped = await worker.fetch("/%61bout");
    assert.match(escaped.cacheStatus, /stored/);
    assertNoStore(escaped, "/%61bout is /about in the key");
    maxAge(await hitOf(worker, "/about"));
  });

  it("says no-store for answers to requests with credentials or Origin, even from a shared entry", async () => {
    origin.on("/shared", { headers: { "cache-control": "public, max-age=60" } });
    await worker.fetch("/shared");
    maxAge(await hitOf(worker, "/shared"));
    for (const [name, value] of [["cookie", "session=1"], ["authorization", "Bearer x"], ["x-api-key", "k"]]) {
      const got = await worker.fetch("/shared", { headers: { [name]: value } });
      assert.match(got.cacheStatus, /; hit; /, name);
      assertNoStore(got, name);
    }
    origin.on("/cors", { headers: { "cache-control": "max-age=60", "access-control-allow-origin": "https://app.example" } });
    const cors = await worker.fetch("/cors", { headers: { origin: "https://app.example" } });
    assert.match(cors.cacheStatus, /stored/);
    assertNoStore(cors, "a request with Origin, which edgecache keys on");
  });

  it("says no-store for anything edgecache did not store", async () => {
    const cases = [
      ["/private", { "cache-control": "private, max-age=60" }],
      ["/no-store", { "cache-control": "no-store" }],
      ["/cookie-set", { "cache-control": "max-age=60", "set-cookie": "a=1" }],
      ["/error", {}, 500],
    ];
    for (const [path, headers, status] of cases) {
      origin.on(path, { status: status ?? 200, headers });
      const got = await worker.fetch(path);
      assert.doesNotMatch(got.cacheStatus, /stored/, path);
      assertNoStore(got, path);
    }
  });

  it("replaces the origin's own fields with no-store on a bypass route and other methods", async () => {
    origin.on("/api/now", { headers: { "cache-control": "public, max-age=600", [CDN]: "max-age=999", "cache-tag": "api" } });
    const bypassed = await worker.fetch("/api/now");
    assert.match(bypassed.cacheStatus, /fwd=bypass/);
    assert.equal(bypassed.headers.get(CDN), "no-store");
    origin.on("/form", { headers: { "cache-control": "public, max-age=600" } });
    assertNoStore(await worker.fetch("/form", { method: "POST", body: "x" }), "a POST");
  });

  it("says no-store for another host, a HEAD, a Range and a stale answer", async () => {
    origin.on("/elsewhere", { headers: { "cache-control": "max-age=60" } });
    const other = await worker.fetch("http://other.test/elsewhere");
    assert.match(other.cacheStatus, /stored/);
    assertNoStore(other, "a host Workers Cache would not key apart");
    origin.on("/heads", { headers: { "cache-control": "max-age=60" } });
    await worker.fetch("/heads");
    await worker.stored("/heads");
    assertNoStore(await worker.fetch("/heads", { method: "HEAD" }), "a HEAD");
    const part = await worker.fetch("/heads", { headers: { range: "bytes=0-2" } });
    assert.equal(part.status, 206);
    assertNoStore(part, "a part");
    origin.on("/stale", (record, n) => ({ headers: { "cache-control": "max-age=1, stale-while-revalidate=60" }, body: `stale #${n}` }));
    await worker.fetch("/stale");
    await worker.stored("/stale");
    await new Promise((r) => setTimeout(r, 2100));
    const stale = await worker.fetch("/stale");
    assert.match(stale.cacheStatus, /detail=stale-while-revalidate/);
    assertNoStore(stale, "a stale answer");
  });

  it("says no-store for a response holding fields its entry leaves out, and shares the entry", async () => {
    origin.on("/withheld", { headers: { "cache-control": 'max-age=60, private="x-user"', "x-user": "alice" } });
    const miss = await worker.fetch("/withheld");
    assert.equal(miss.headers.get("x-user"), "alice");
    assertNoStore(miss, "the origin's answer with x-user");
    await worker.stored("/withheld");
    const hit = await worker.fetch("/withheld");
    assert.equal(hit.headers.get("x-user"), null);
    maxAge(hit);
  });

  it("says no-store for an entry revalidated on every use", async () => {
    origin.on("/revalidated", { headers: { "cache-control": "no-cache", etag: '"v1"' } });
    const got = await worker.fetch("/revalidated");
    assert.match(got.cacheStatus, /stored/);
    assertNoStore(got, "no-cache");
  });

  it("says no-store for pages assembled from fragments, personalised or not", async () => {
    origin.on("/pages/home", { headers: { "content-type": "text/html", "cache-control": "max-age=60" }, body: 'a <esi:include src="/frag/nav"/> b' });
    origin.on("/pages/account", { headers: { "content-type": "text/html", "cache-control": "max-age=60" }, body: 'a <esi:include src="/frag/user"/> b' });
    origin.on("/frag/nav", { headers: { "content-type": "text/html", "cache-control": "max-age=60" }, body: "nav" });
    origin.on("/frag/user", (record) => ({ headers: { "content-type": "text/html", "cache-control": "max-age=60" }, body: record.headers.cookie ?? "anonymous" }));
    const home = await worker.fetch("/pages/home");
    assert.equal(home.body, "a nav b");
    assertNoStore(home, "an assembled page");
    const account = await worker.fetch("/pages/account", { headers: { cookie: "user=alice" } });
    assert.equal(account.body, "a user=alice b");
    assertNoStore(account, "a page with a personalised fragment");
  });
});

describe("Workers Cache and bodies edgecache may not keep", () => {
  const MAX = 4096;
  const { origin, worker } = withWorker({ config: { backends: ["memory"], workers_cache: SITE, max_body_bytes: MAX } });
  const chunked = (size) => (req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=60" });
    res.write("a".repeat(size / 2));
    res.end("b".repeat(size / 2));
  };
  /** The worker's answer with whatever of its body arrived before it was cut: `{headers, bytes, cut}`. */
  async function fetchCut(path) {
    const response = await worker.mf.dispatchFetch(`${SITE}${path}`);
    let bytes = 0;
    let cut = false;
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
      }
    } catch {
      cut = true;
    }
    return { headers: response.headers, bytes, cut };
  }

  it("says no-store for an answer of unknown length while it arrives, and shares it once a hit serves it from the entry", async () => {
    origin.onRaw("/chunked", chunked(1000));
    const miss = await worker.fetch("/chunked");
    assert.equal(miss.headers.get("content-length"), null, "chunked");
    assert.match(miss.cacheStatus, /stored/);
    assertNoStore(miss, "a body of unknown length");
    const hit = await hitOf(worker, "/chunked");
    assert.equal(hit.body.length, 1000);
    assert.ok(maxAge(hit) > 0);
  });

  it("says no-store for an answer longer than max_body_bytes, chunked or declared", async () => {
    origin.onRaw("/big-chunked", chunked(2 * MAX));
    const big = await worker.fetch("/big-chunked");
    assert.equal(big.body.length, 2 * MAX);
    assertNoStore(big, "a chunked body over max_body_bytes");
    origin.on("/big-declared", { headers: { "cache-control": "max-age=60" }, body: "x".repeat(2 * MAX) });
    assertNoStore(await worker.fetch("/big-declared"), "a declared body over max_body_bytes");
    await new Promise((r) => setTimeout(r, 200));
    await worker.fetch("/big-chunked");
    await worker.fetch("/big-declared");
    assert.equal(origin.count("/big-chunked"), 2, "edgecache did not keep it either");
    assert.equal(origin.count("/big-declared"), 2);
  });

  it("never tells Workers Cache to keep a body the origin breaks off", async () => {
    const breakingOff = (declared) => (req, res) => {
      const headers = { "content-type": "text/plain", "cache-control": "max-age=60" };
      if (declared) headers["content-length"] = 3000;
      res.writeHead(200, headers);
      res.write("c".repeat(1000));
      setTimeout(() => res.destroy(), 50);
    };
    origin.onRaw("/cut-chunked", breakingOff(false));
    const chunkedCut = await fetchCut("/cut-chunked");
    assert.equal(chunkedCut.headers.get(CDN), "no-store");
    assert.equal(chunkedCut.headers.get("cache-tag"), null);
    origin.onRaw("/cut-declared", breakingOff(true));
    const declaredCut = await fetchCut("/cut-declared");
    assert.equal(declaredCut.headers.get(CDN), "no-store", `a declared length, cut (${declaredCut.bytes} bytes, cut: ${declaredCut.cut})`);
    assert.equal(declaredCut.headers.get("cache-tag"), null);
    await new Promise((r) => setTimeout(r, 200));
    await fetchCut("/cut-chunked");
    await fetchCut("/cut-declared");
    assert.equal(origin.count("/cut-chunked"), 2, "edgecache kept nothing of the cut body");
    assert.equal(origin.count("/cut-declared"), 2, "edgecache kept nothing of the cut body");
  });
});

describe("Workers Cache off", () => {
  it("sets no Workers Cache fields and hides the origin's Cloudflare-CDN-Cache-Control", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory"] } });
    try {
      origin.on("/plain", { headers: { "cache-control": "max-age=60", [CDN]: "max-age=600" } });
      const got = await worker.fetch("/plain");
      assert.equal(got.headers.get(CDN), null);
      assert.equal(got.headers.get("cache-tag"), null);
    } finally {
      await dispose();
    }
  });
});

describe("Workers Cache purges", () => {
  const { origin, worker } = withWorker({ entry: STAND_IN_ENTRY, bindings: { ADMIN_TOKEN: TOKEN }, config: CONFIG });

  const purge = (body) => adminPurge(worker, TOKEN, body);
  const recorded = async () => JSON.parse((await worker.fetch("/__stand-in/purges")).body);

  it("purges a URL by the tag its responses carried", async () => {
    origin.on("/blog/post", { headers: { "cache-control": "max-age=60" } });
    await worker.fetch("/blog/post?page=2");
    const served = await hitOf(worker, "/blog/post?page=2");
    const tag = served.headers.get("cache-tag").split(",")[0];
    await purge({ urls: [`${SITE}/blog/post?page=2`] });
    assert.deepEqual(await recorded(), [{ tags: [tag] }]);
    assert.equal(tag, urlTag("/blog/post?page=2"));
  });

  it("purges a URL spelled otherwise by the tag of the URL as the key holds it", async () => {
    await purge({ urls: [`${SITE}/blog/%70ost?page=2`] });
    assert.deepEqual(await recorded(), [{ tags: [urlTag("/blog/post?page=2")] }]);
  });

  it("asks nothing for URLs and URL prefixes of another site", async () => {
    await purge({ urls: ["https://other.example/blog/post"], prefixes: ["https://other.example/blog/"] });
    assert.deepEqual(await recorded(), []);
  });

  it("purges prefixes as path prefixes and tags as tags, soft or not", async () => {
    for (const soft of [false, true]) {
      await purge({ prefixes: ["/blog/", `${SITE}/shop/`, "/search?q="], tags: ["catalog"], soft });
      assert.deepEqual(await recorded(), [{ tags: ["catalog"], pathPrefixes: ["/blog/", "/shop/", "/search"] }], `soft: ${soft}`);
    }
  });

  it("purges everything with purgeEverything", async () => {
    await purge({ all: true });
    assert.deepEqual(await recorded(), [{ purgeEverything: true }]);
  });

  it("splits a large purge into calls of at most 100 operations", async () => {
    const urls = Array.from({ length: 100 }, (_, i) => `${SITE}/p${i}`);
    const tags = Array.from({ length: 100 }, (_, i) => `t${i}`);
    await purge({ urls, tags });
    const calls = await recorded();
    assert.equal(calls.length, 2);
    for (const call of calls) assert.ok((call.tags?.length ?? 0) + (call.pathPrefixes?.length ?? 0) <= 100);
    assert.deepEqual(calls.flatMap((c) => c.tags), [...urls.map((u) => urlTag(new URL(u).pathname)), ...tags]);
  });

  it("logs a purge Workers Cache refuses, and still answers the purge", async () => {
    await worker.fetch("/__stand-in/refuse");
    const answer = await purge({ tags: ["late"] });
    assert.equal(answer.ok, true);
    assert.deepEqual(await recorded(), [{ tags: ["late"] }]);
    const deadline = Date.now() + 3000;
    const failed = () => worker.logs.find((l) => l.includes('"runtime-cache-purge-failed"'));
    while (!failed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(failed() ?? "", /purge rate limit exceeded/);
  });
});

describe("the local runtime", () => {
  it("has no ctx.cache, which is why purge calls are checked against a stand-in", async () => {
    const { worker } = await setup({ origin: null, entry: PROBE_ENTRY });
    try {
      assert.deepEqual(JSON.parse((await worker.fetch("/__probe")).body), { has: true, type: "undefined" });
    } finally {
      await worker.dispose();
    }
  });
});
