// Freshness beyond the basics: revalidation with conditional requests, stale-while-revalidate,
// stale-if-error, request directives, coalescing, targeted Cache-Control and invalidation by
// unsafe methods. Staleness is produced with the origin's `Age` header rather than by
// waiting: `max-age=1` with `Age: 2` arrives one second stale.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

// fetch() adds Cache-Control: no-cache to conditional requests unless one is given.
const plain = { "cache-control": "no-transform" };
const ttlOf = (cacheStatus) => Number(/ttl=(-?\d+)/.exec(cacheStatus)?.[1]);

for (const backends of [["memory"], ["cache"], ["kv"]]) {
  describe(`revalidation (${backends[0]})`, () => {
    const { origin, worker } = withWorker({ config: { backends } });

    it("revalidates a stale entry with its validators and keeps the body on 304", async () => {
      origin.on("/etag", (record, n) =>
        record.headers["if-none-match"] === '"v1"'
          ? { status: 304, headers: { etag: '"v1"', "cache-control": "max-age=60", "x-refreshed": "yes" } }
          : { headers: { etag: '"v1"', "cache-control": "max-age=1", age: "2", "x-refreshed": "no" }, body: `etag body #${n}` },
      );
      const first = await worker.fetchStored("/etag");
      assert.equal(first.body, "etag body #1");
      assert.match(first.cacheStatus, /fwd=miss; fwd-status=200; stored/, "stale on arrival, but kept for revalidation");

      const revalidated = await worker.fetch("/etag");
      assert.equal(revalidated.status, 200);
      assert.equal(revalidated.body, "etag body #1", "the stored body is served");
      assert.equal(revalidated.headers.get("x-refreshed"), "yes", "the 304's fields replace the stored ones");
      assert.equal(origin.last("/etag").headers["if-none-match"], '"v1"');

      const hit = await worker.fetch("/etag");
      assert.match(hit.cacheStatus, /; hit; ttl=(59|60);/, "the 304's max-age=60 now applies");
      assert.ok(Number(hit.headers.get("age")) <= 1, "Age restarts from the 304");
      assert.equal(origin.count("/etag", "GET"), 2);
    });

    it("revalidates with If-Modified-Since when there is no ETag", async () => {
      const modified = "Sun, 06 Nov 1994 08:49:37 GMT";
      origin.on("/lm", (record, n) =>
        record.headers["if-modified-since"] === modified
          ? { status: 304, headers: { "cache-control": "max-age=60" } }
          : { headers: { "last-modified": modified, "cache-control": "max-age=1", age: "2" }, body: `lm #${n}` },
      );
      await worker.fetchStored("/lm");
      const second = await worker.fetch("/lm");
      assert.equal(second.body, "lm #1");
      assert.equal(second.cacheStatus, "edgecache; fwd=stale; fwd-status=304; stored");
    });

    it("refetches in full when the origin's answer has changed", async () => {
      origin.on("/changed", (record, n) => ({ headers: { etag: `"v${n}"`, "cache-control": "max-age=1", age: n === 1 ? "2" : "0" }, body: `changed #${n}` }));
      await worker.fetchStored("/changed");
      const second = await worker.fetch("/changed");
      assert.equal(second.body, "changed #2");
      assert.equal(second.cacheStatus, "edgecache; fwd=stale; fwd-status=200; stored");
    });
  });
}

describe("no-cache and must-revalidate", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"], stale_if_error: 60 } });

  it("revalidates a no-cache response on every use, and serves the stored body on 304", async () => {
    origin.on("/nc", (record, n) =>
      record.headers["if-none-match"] ? { status: 304, headers: { etag: '"nc"', "cache-control": "no-cache" } } : { headers: { etag: '"nc"', "cache-control": "no-cache" }, body: `nc #${n}` },
    );
    await worker.fetchStored("/nc");
    for (let i = 0; i < 3; i++) {
      const got = await worker.fetch("/nc");
      assert.equal(got.body, "nc #1");
      assert.equal(got.cacheStatus, "edgecache; fwd=stale; fwd-status=304; stored");
    }
    assert.equal(origin.count("/nc", "GET"), 4, "one fetch and three revalidations");
  });

  it("never serves a must-revalidate response stale, even when the origin fails", async () => {
    origin.on("/strict", (record, n) =>
      n === 1 ? { headers: { "cache-control": "max-age=1, must-revalidate", etag: '"s"', age: "2" }, body: "strict" } : { status: 503, body: "down" },
    );
    await worker.fetchStored("/strict");
    const failed = await worker.fetch("/strict");
    assert.equal(failed.status, 503, "the origin's error, not the stale entry");
    const stale = await worker.fetch("/strict", { headers: { "cache-control": "max-stale" } });
    assert.equal(stale.status, 503, "max-stale cannot override must-revalidate");
  });
});

describe("request directives", () => {
  // Entries stored moments ago: without client_refresh_interval 0 a forced refresh of them
  // would be answered from storage (tested in hostile-world.test.mjs).
  const { origin, worker } = withWorker({ config: { backends: ["memory"], client_refresh_interval: 0 } });
  before(async () => {
    origin.on("/rd", (record, n) => ({ headers: { "cache-control": "max-age=100", age: "50", etag: '"rd"' }, body: `rd #${n}` }));
    origin.on("/old", (record, n) => ({ headers: { "cache-control": "max-age=10", age: "20" , etag: '"old"'}, body: `old #${n}` }));
    await worker.fetchStored("/rd");
    await worker.fetchStored("/old");
  });

  it("honours max-age by going to the origin when the entry is older", async () => {
    const young = await worker.fetch("/rd", { headers: { "cache-control": "max-age=3600" } });
    assert.match(young.cacheStatus, /; hit;/);
    const strict = await worker.fetch("/rd", { headers: { "cache-control": "max-age=10" } });
    assert.match(strict.cacheStatus, /^edgecache; fwd=request; fwd-status=/);
  });

  it("honours min-fresh", async () => {
    origin.on("/mf", { headers: { "cache-control": "max-age=100" } });
    await worker.fetchStored("/mf");
    assert.match((await worker.fetch("/mf", { headers: { "cache-control": "min-fresh=10" } })).cacheStatus, /; hit;/);
    assert.match((await worker.fetch("/mf", { headers: { "cache-control": "min-fresh=200" } })).cacheStatus, /fwd=request/);
  });

  it("serves a stale entry to a request that accepts it with max-stale", async () => {
    const accepted = await worker.fetch("/old", { headers: { "cache-control": "max-stale=60" } });
    assert.equal(accepted.body, "old #1");
    assert.equal(accepted.cacheStatus, `edgecache; hit; ttl=${ttlOf(accepted.cacheStatus)}; detail=max-stale`);
    assert.ok(ttlOf(accepted.cacheStatus) < 0, "a stale hit reports a negative ttl");
    const tooOld = await worker.fetch("/old", { headers: { "cache-control": "max-stale=5" } });
    assert.match(tooOld.cacheStatus, /fwd=stale/);
  });

  it("answers only-if-cached from storage or with a 504", async () => {
    const cached = await worker.fetch("/rd", { headers: { "cache-control": "only-if-cached" } });
    assert.equal(cached.status, 200);
    const before = origin.requests.length;
    const missing = await worker.fetch("/never-asked", { headers: { "cache-control": "only-if-cached" } });
    assert.equal(missing.status, 504);
    assert.equal(missing.cacheStatus, "edgecache; fwd=miss; detail=only-if-cached");
    assert.equal(origin.requests.length, before, "the origin is not asked");
  });
});

describe("stale-while-revalidate", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory", "cache"] } });

  it("answers stale at once and refreshes exactly once in the background", async () => {
    origin.on("/swr", async (record, n) => {
      if (n > 1) await new Promise((r) => setTimeout(r, 500));
      return n === 1
        ? { headers: { "cache-control": "max-age=1, stale-while-revalidate=60", age: "2" }, body: "swr #1" }
        : { headers: { "cache-control": "max-age=60" }, body: `swr #${n}` };
    });
    await worker.fetchStored("/swr");
    const burst = await Promise.all(Array.from({ length: 5 }, () => worker.fetch("/swr")));
    for (const got of burst) {
      assert.equal(got.body, "swr #1", "the stale body is served without waiting for the origin");
      assert.match(got.cacheStatus, /; hit; ttl=-\d+; detail=stale-while-revalidate$/);
    }
    for (let i = 0; i < 100 && !(await worker.fetch("/swr")).body.startsWith("swr #2"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const fresh = await worker.fetch("/swr");
    assert.equal(fresh.body, "swr #2");
    assert.match(fresh.cacheStatus, /; hit; ttl=(59|60);/);
    assert.equal(origin.count("/swr", "GET"), 2, "one fetch and one background refresh");
  });

  it("uses a route's stale_while_revalidate when the response names none", async () => {
    const { worker: routed } = await setup({ origin, config: { backends: ["memory"], routes: [{ path: "/**", stale_while_revalidate: 60 }] } });
    try {
      origin.on("/swr-route", (record, n) => ({ headers: { "cache-control": "max-age=1", age: "2" }, body: `route #${n}` }));
      await routed.fetchStored("/swr-route");
      const stale = await routed.fetch("/swr-route");
      assert.equal(stale.body, "route #1");
      assert.match(stale.cacheStatus, /detail=stale-while-revalidate/);
    } finally {
      await routed.dispose();
    }
  });
});

describe("stale-if-error", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"], origin_timeout_ms: 300 } });

  const staleFirst = (path, failure) => {
    origin.onRaw(path, (req, res, record, n) => {
      if (n === 1) {
        res.writeHead(200, { "cache-control": "max-age=1, stale-if-error=60", age: "2", "content-length": 9 });
        res.end(`${path.slice(1, 9).padEnd(8, ".")}!`);
      } else {
        failure(res);
      }
    });
  };

  it("serves the stale entry when the origin answers 5xx", async () => {
    staleFirst("/sie-5xx", (res) => {
      res.writeHead(503, { "content-length": 4 });
      res.end("down");
    });
    await worker.fetchStored("/sie-5xx");
    const got = await worker.fetch("/sie-5xx");
    assert.equal(got.status, 200);
    assert.equal(got.body, "sie-5xx.!");
    assert.equal(got.cacheStatus, "edgecache; fwd=stale; fwd-status=503; detail=stale-if-error");
  });

  it("serves the stale entry when the origin resets the connection", async () => {
    staleFirst("/sie-reset", (res) => res.socket.destroy());
    await worker.fetchStored("/sie-reset");
    const got = await worker.fetch("/sie-reset");
    assert.equal(got.status, 200);
    assert.equal(got.cacheStatus, "edgecache; fwd=stale; detail=stale-if-error");
  });

  it("serves the stale entry when the origin hangs past the timeout", async () => {
    staleFirst("/sie-hang", () => {});
    await worker.fetchStored("/sie-hang");
    const started = Date.now();
    const got = await worker.fetch("/sie-hang");
    assert.equal(got.status, 200);
    assert.equal(got.cacheStatus, "edgecache; fwd=stale; detail=stale-if-error");
    assert.ok(Date.now() - started < 5000, "the timeout, not the origin, decides when");
  });

  it("answers 504 when the origin hangs and nothing stale may be used", async () => {
    origin.onRaw("/hang", () => {});
    const got = await worker.fetch("/hang");
    assert.equal(got.status, 504);
    assert.equal(got.cacheStatus, "edgecache; fwd=miss; detail=origin-timeout");
    assert.match(got.body, /did not answer within 300 ms/);
  });

  it("uses a route's stale_if_error when the response names none", async () => {
    const { worker: routed } = await setup({ origin, config: { backends: ["memory"], routes: [{ path: "/**", stale_if_error: 60 }] } });
    try {
      origin.on("/sie-route", (record, n) => (n === 1 ? { headers: { "cache-control": "max-age=1", age: "2" }, body: "kept" } : { status: 500, body: "error" }));
      await routed.fetchStored("/sie-route");
      const got = await routed.fetch("/sie-route");
      assert.equal(got.body, "kept");
      assert.match(got.cacheStatus, /detail=stale-if-error/);
    } finally {
      await routed.dispose();
    }
  });
});

describe("request coalescing", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory", "cache"] } });

  it("sends 200 concurrent requests for a cold URL to the origin once", async () => {
    origin.on("/cold", async (record, n) => {
      await new Promise((r) => setTimeout(r, 1000));
      return { headers: { "cache-control": "max-age=60" }, body: `cold #${n}` };
    });
    const all = await Promise.all(Array.from({ length: 200 }, () => worker.fetch("/cold")));
    assert.equal(origin.count("/cold", "GET"), 1);
    for (const got of all) {
      assert.equal(got.status, 200);
      assert.equal(got.body, "cold #1");
    }
    assert.equal(all.filter((g) => g.cacheStatus.endsWith("; stored")).length, 1, "one leader stored it");
    const waited = all.filter((g) => g.cacheStatus.endsWith("; collapsed")).length;
    const late = all.filter((g) => g.cacheStatus.includes("; hit;")).length;
    assert.equal(waited + late, 199, "the rest waited for it (or, arriving after it, hit what it stored)");
    assert.ok(waited > 0, "some requests were collapsed into the leader's fetch");
  });

  it("never shares an unstorable answer, and passes later requests straight through", async () => {
    origin.on("/mine", async (record, n) => {
      await new Promise((r) => setTimeout(r, 200));
      return { headers: { "cache-control": "private, max-age=60" }, body: `private #${n}` };
    });
    const all = await Promise.all(Array.from({ length: 20 }, () => worker.fetch("/mine")));
    assert.equal(new Set(all.map((g) => g.body)).size, 20, "every client got its own answer");
    assert.equal(origin.count("/mine", "GET"), 20);

    const inFlightBefore = origin.maxInFlight;
    origin.on("/mine", async (record, n) => {
      await new Promise((r) => setTimeout(r, 200));
      return { headers: { "cache-control": "private" }, body: `private #${n}` };
    });
    const again = await Promise.all(Array.from({ length: 10 }, () => worker.fetch("/mine")));
    assert.equal(new Set(again.map((g) => g.body)).size, 10);
    assert.ok(origin.maxInFlight >= Math.min(inFlightBefore, 10), "hit-for-pass: no queueing behind a leader");
  });

  it("lets followers whose Vary values differ fetch for themselves", async () => {
    origin.on("/lang", async (record, n) => {
      await new Promise((r) => setTimeout(r, 200));
      return { headers: { "cache-control": "max-age=60", vary: "Accept-Language" }, body: `${record.headers["accept-language"]} #${n}` };
    });
    const [fr, de] = await Promise.all([
      worker.fetch("/lang", { headers: { "accept-language": "fr" } }),
      worker.fetch("/lang", { headers: { "accept-language": "de" } }),
    ]);
    assert.match(fr.body, /^fr #/);
    assert.match(de.body, /^de #/);
  });
});

describe("targeted Cache-Control", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"] } });

  // CDN-Cache-Control speaks to every CDN downstream too (RFC 9213 §3): it is passed on.
  // Cloudflare-CDN-Cache-Control is Cloudflare's alone, and Cloudflare does not pass it on.
  for (const [field, passedOn] of [["CDN-Cache-Control", true], ["Cloudflare-CDN-Cache-Control", false], ["Surrogate-Control", false], ["Edgecache-Cache-Control", false]]) {
    it(`stores by ${field} over Cache-Control and ${passedOn ? "passes it on" : "hides it from clients"}`, async () => {
      const path = `/targeted-${field}`;
      origin.on(path, { headers: { "cache-control": "no-store", [field]: "max-age=120" } });
      const first = await worker.fetch(path);
      assert.equal(first.headers.get("cache-control"), "no-store", "clients still see the origin's Cache-Control");
      assert.equal(first.headers.get(field), passedOn ? "max-age=120" : null);
      await worker.stored(path);
      const hit = await worker.fetch(path);
      assert.match(hit.cacheStatus, /; hit; ttl=(119|120);/);
      assert.equal(hit.headers.get(field), passedOn ? "max-age=120" : null);
    });
  }

  it("takes Cloudflare-CDN-Cache-Control over CDN-Cache-Control, and passes on only the latter", async () => {
    origin.on("/cloudflare-over-cdn", { headers: { "cache-control": "max-age=5", "cdn-cache-control": "max-age=60", "cloudflare-cdn-cache-control": "max-age=300" } });
    const first = await worker.fetch("/cloudflare-over-cdn");
    assert.equal(first.headers.get("cdn-cache-control"), "max-age=60");
    assert.equal(first.headers.get("cloudflare-cdn-cache-control"), null);
    await worker.stored("/cloudflare-over-cdn");
    assert.match((await worker.fetch("/cloudflare-over-cdn")).cacheStatus, /; hit; ttl=(299|300);/);
  });

  it("ignores an invalid Cloudflare-CDN-Cache-Control for the next field", async () => {
    origin.on("/cloudflare-invalid", { headers: { "cache-control": "no-store", "cdn-cache-control": "max-age=60", "cloudflare-cdn-cache-control": 'max-age="300"' } });
    await worker.fetch("/cloudflare-invalid");
    await worker.stored("/cloudflare-invalid");
    assert.match((await worker.fetch("/cloudflare-invalid")).cacheStatus, /; hit; ttl=(59|60);/);
  });

  it("announces itself in Surrogate-Capability and takes the Surrogate-Control directives targeted at it", async () => {
    origin.on("/surrogate-targeted", { headers: { "cache-control": "no-store", "surrogate-control": "max-age=120;edgecache, no-store;other" } });
    await worker.fetch("/surrogate-targeted", { headers: { "surrogate-capability": 'evil="Surrogate/1.0 ESI/1.0"' } });
    const asked = origin.requests.filter((r) => r.path === "/surrogate-targeted");
    assert.equal(asked[0].headers["surrogate-capability"], 'edgecache="Surrogate/1.0"', "a client's own capability is not keyed: dropped");
    await worker.stored("/surrogate-targeted");
    assert.match((await worker.fetch("/surrogate-targeted")).cacheStatus, /; hit; ttl=(119|120);/);
  });

  for (const value of ["max-age=10000, &&&&&", 'max-age="10000"', "max-age =100"]) {
    it(`ignores CDN-Cache-Control: ${value} (not a valid Structured Field) for Cache-Control: no-store`, async () => {
      const path = `/cdn-invalid-${encodeURIComponent(value)}`;
      origin.on(path, { headers: { "cache-control": "no-store", "cdn-cache-control": value } });
      assert.match((await worker.fetch(path)).cacheStatus, /detail=no-store/);
      assert.match((await worker.fetch(path)).cacheStatus, /detail=no-store/);
      assert.equal(origin.count(path), 2);
    });
  }

  it("lets a targeted no-store keep a Cache-Control: public response out of the cache", async () => {
    origin.on("/cdn-no-store", { headers: { "cache-control": "public, max-age=60", "cdn-cache-control": "no-store" } });
    assert.match((await worker.fetch("/cdn-no-store")).cacheStatus, /detail=no-store/);
    assert.match((await worker.fetch("/cdn-no-store")).cacheStatus, /detail=no-store/);
  });
});

describe("invalidation by unsafe methods", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory", "cache", "kv"] } });

  async function cache(path) {
    await worker.fetch(path);
    await worker.stored(path);
  }

  it("invalidates the stored GET of a URL after a successful POST, PUT, PATCH or DELETE", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const path = `/item-${method}`;
      await cache(path);
      const unsafe = await worker.fetch(path, { method, body: method === "DELETE" ? undefined : "x" });
      assert.equal(unsafe.status, 200);
      const next = await worker.fetch(path);
      assert.match(next.cacheStatus, /fwd=miss/, `${method} invalidated ${path}`);
    }
  });

  it("invalidates the Location and Content-Location targets on the same host only", async () => {
    await cache("/posts");
    await cache("/posts/1");
    origin.on("/posts/new", { status: 201, headers: { location: "/posts", "content-location": "http://edge.test/posts/1" }, body: "" });
    await worker.fetch("/posts/new", { method: "POST", body: "title=x" });
    assert.match((await worker.fetch("/posts")).cacheStatus, /fwd=miss/);
    assert.match((await worker.fetch("/posts/1")).cacheStatus, /fwd=miss/);

    await cache("http://other.test/posts");
    origin.on("/cross", { status: 201, headers: { location: "http://other.test/posts" }, body: "" });
    await worker.fetch("/cross", { method: "POST", body: "x" });
    assert.match((await worker.fetch("http://other.test/posts")).cacheStatus, /; hit;/, "another host is never invalidated");
  });

  it("leaves the entry alone when the unsafe request fails", async () => {
    await cache("/kept");
    origin.on("/kept", (record) => (record.method === "POST" ? { status: 500, body: "no" } : { headers: { "cache-control": "max-age=60" } }));
    await worker.fetch("/kept", { method: "POST", body: "x" });
    assert.match((await worker.fetch("/kept")).cacheStatus, /; hit;/);
  });
});

describe("HEAD and revalidation", () => {
  it("revalidates a stale GET entry for a HEAD request and answers without a body", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory"] } });
    origin.on("/hr", (record, n) =>
      record.headers["if-none-match"]
        ? { status: 304, headers: { etag: '"h"', "cache-control": "max-age=60", "x-version": "2" } }
        : { headers: { etag: '"h"', "cache-control": "max-age=1", age: "2", "x-version": "1" }, body: "head body" },
    );
    try {
      await worker.fetchStored("/hr");
      const head = await worker.fetch("/hr", { method: "HEAD", headers: plain });
      assert.equal(head.body, "");
      assert.equal(head.headers.get("x-version"), "2");
      assert.equal(origin.last("/hr").method, "GET", "the stored GET is what is revalidated");
      const get = await worker.fetch("/hr");
      assert.equal(get.body, "head body");
      assert.match(get.cacheStatus, /; hit;/);
    } finally {
      await dispose();
    }
  });
});

describe("default_ttl 0: no lifetime guessed from nothing", () => {
  const { origin, worker } = withWorker({ config: { default_ttl: 0 } });

  it("does not store a response that gives neither a lifetime nor a Last-Modified", async () => {
    origin.on("/says-nothing", { headers: { "content-type": "text/plain" } });
    await worker.fetch("/says-nothing");
    await new Promise((r) => setTimeout(r, 100));
    await worker.fetch("/says-nothing");
    assert.equal(origin.count("/says-nothing"), 2);
  });

  it("still guesses from Last-Modified (10% of its age)", async () => {
    const lastModified = new Date(Date.now() - 100_000 * 1000).toUTCString();
    origin.on("/old-page", { headers: { "content-type": "text/plain", "last-modified": lastModified } });
    await worker.fetch("/old-page");
    await worker.stored("/old-page");
    assert.match((await worker.fetch("/old-page")).cacheStatus, /; hit; ttl=(59[0-9]|600);/);
    assert.equal(origin.count("/old-page", "GET"), 1);
  });
});
