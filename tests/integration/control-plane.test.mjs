// The control plane (issue 14): a Durable Object is the single writer of purges, so purges
// sent at once are all recorded and all take effect; every location learns of a purge within
// `purge_propagation_s`; when the object cannot be reached a purge is refused whole and reads
// fail closed after the grace; and a location asks the object at the stated rate.
//
// Locations are workers in one Miniflare (tests/support/worker.mjs, `startLocations`), each
// with its own isolate and Cache API, sharing the object and KV.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

const TOKEN = "control-plane-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function purge(location, body) {
  return location.fetch("/_edgecache/purge", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function log(location, query = "") {
  const got = await location.fetch(`/_edgecache/purges${query}`, { headers: auth });
  assert.equal(got.status, 200, got.body);
  return JSON.parse(got.body);
}

/** Every entry of the purge log, page by page. */
async function wholeLog(location, limit) {
  const entries = [];
  let query = `?limit=${limit}`;
  for (;;) {
    const page = await log(location, query);
    entries.push(...page.purges);
    if (page.next == null) return entries;
    query = `?limit=${limit}&before=${page.next}`;
  }
}

const isHit = (got) => /; hit;/.test(got.cacheStatus);

/** Asks for `target` once, then waits until the location answers it from storage. */
async function store(location, target) {
  await location.fetch(target);
  await location.stored(target);
}

describe("purges sent at once through several locations", () => {
  const { origin, deployment } = withWorker({ locations: { count: 3 }, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory", "cache"] } });
  const PAGES = 100;
  before(() => {
    for (let i = 0; i < PAGES; i++) {
      origin.on(`/page/${i}`, (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": `page-${i}` }, body: `page ${i} #${n}` }));
    }
  });

  it("records every one of 100 purges, numbered, and every one takes effect", async () => {
    const [first] = deployment.locations;
    for (let i = 0; i < PAGES; i++) await store(first, `/page/${i}`);
    const answers = await Promise.all(Array.from({ length: PAGES }, (_, i) => purge(deployment.locations[i % 3], { tags: [`page-${i}`] })));
    for (const answer of answers) assert.equal(answer.status, 200, answer.body);
    const seqs = answers.map((a) => JSON.parse(a.body).seq).sort((a, b) => a - b);
    assert.deepEqual(seqs, Array.from({ length: PAGES }, (_, i) => i + 1), "one sequence number each, none twice");
    assert.equal(JSON.parse(answers[0].body).effective_everywhere_within_s, 2, "the configured propagation");

    const entries = await wholeLog(first, 30);
    assert.equal(entries.length, PAGES, "100 log entries, read in pages of 30");
    assert.deepEqual(entries.map((e) => e.seq), seqs.slice().reverse(), "newest first");
    assert.deepEqual(new Set(entries.flatMap((e) => e.tags)).size, PAGES);

    await sleep(3000); // purge_propagation_s (2) + 1
    const still = [];
    for (let i = 0; i < PAGES; i++) {
      const got = await first.fetch(`/page/${i}`);
      assert.equal(got.body, `page ${i} #2`, `page ${i} was fetched again`);
      if (isHit(got)) still.push(i);
    }
    assert.deepEqual(still, [], "no purged page is served from cache");
    for (let i = 0; i < PAGES; i++) assert.equal(origin.count(`/page/${i}`, "GET"), 2);
  });
});

describe("two locations", () => {
  const { origin, deployment } = withWorker({ locations: { count: 2 }, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["cache"], purge_propagation_s: 2 } });
  before(() => {
    origin.on("/far", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `far #${n}` }));
  });

  it("stops serving an entry purged in the other location within purge_propagation_s plus a second", async () => {
    const [here, there] = deployment.locations;
    const delays = [];
    for (let round = 0; round < 3; round++) {
      const target = `/far?round=${round}`;
      await store(there, target);
      assert.ok(isHit(await there.fetch(target)));
      // A request here first, so that this location holds a copy of the registry too.
      await here.fetch("/warm");
      const issued = Date.now();
      const answer = await purge(here, { urls: [`http://edge.test${target}`] });
      assert.equal(answer.status, 200, answer.body);
      let delay = null;
      while (Date.now() - issued < 6000) {
        if (!isHit(await there.fetch(target))) {
          delay = Date.now() - issued;
          break;
        }
        await sleep(20);
      }
      assert.notEqual(delay, null, "the other location stopped serving the purged entry");
      delays.push(delay);
      assert.ok(delay <= 3000, `${delay} ms is within purge_propagation_s + 1 s`);
    }
    console.log(`purge propagation to the other location: ${delays.join(" ms, ")} ms (purge_propagation_s = 2)`);
  });
});

describe("purge_propagation_s = 0", () => {
  it("checks on every request: the other location stops serving at once", async () => {
    const { origin, deployment, dispose } = await setup({ locations: { count: 2 }, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory", "cache"], purge_propagation_s: 0 } });
    origin.on("/now", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `now #${n}` }));
    try {
      const [here, there] = deployment.locations;
      await store(there, "/now");
      const before = (await there.control()).requests;
      assert.ok(isHit(await there.fetch("/now")));
      assert.ok((await there.control()).requests > before, "the hit asked the control plane");
      assert.equal((await purge(here, { urls: ["http://edge.test/now"] })).status, 200);
      const got = await there.fetch("/now");
      assert.equal(got.body, "now #2");
      assert.match(got.cacheStatus, /fwd=miss/);
    } finally {
      await dispose();
    }
  });
});

describe("when the control plane cannot be reached", () => {
  const { origin, deployment } = withWorker({ locations: { count: 2 }, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory", "cache"], purge_propagation_s: 1, purge_grace_s: 2 } });
  before(() => {
    origin.on("/kept", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `kept #${n}` }));
    origin.on("/slow", async (record, n) => {
      await sleep(200);
      return { headers: { "cache-control": "max-age=600" }, body: `slow #${n}` };
    });
  });

  it("refuses a purge with a 503 and records nothing of it", async () => {
    const [here] = deployment.locations;
    assert.equal((await purge(here, { tags: ["before"] })).status, 200);
    const logged = (await log(here)).purges.length;
    await here.fault("fail");
    try {
      const refused = await purge(here, { tags: ["refused"], urls: ["http://edge.test/kept"] });
      assert.equal(refused.status, 503);
      assert.equal(JSON.parse(refused.body).recorded, false);
      assert.match(JSON.parse(refused.body).error, /not recorded/);
      assert.equal((await here.fetch("/_edgecache/purges", { headers: auth })).status, 503);
    } finally {
      await here.fault(null);
    }
    const after = (await log(here)).purges;
    assert.equal(after.length, logged, "the refused purge is not in the log");
    assert.ok(!after.some((e) => e.tags.includes("refused")));
  });

  it("refuses a purge with a 503 when the control plane does not answer", async () => {
    const [here] = deployment.locations;
    await here.fault("hang");
    try {
      const started = Date.now();
      const refused = await purge(here, { tags: ["hung"] });
      assert.equal(refused.status, 503);
      assert.ok(Date.now() - started < 12000);
      // Without an answer the worker cannot tell whether the object recorded it.
      assert.equal(JSON.parse(refused.body).recorded, null);
      assert.match(JSON.parse(refused.body).error, /did not answer within 10000 ms/);
    } finally {
      await here.fault(null);
    }
  });

  it("serves its last copy for the grace, then nothing stored: requests go to the origin, coalesced, saying why", async () => {
    const [, there] = deployment.locations;
    await store(there, "/kept");
    await there.fault("fail");
    try {
      const within = await there.fetch("/kept");
      assert.ok(isHit(within), `within the grace the copy is used: ${within.cacheStatus}`);
      await sleep(3200); // purge_propagation_s (1) + purge_grace_s (2), and some
      const count = origin.count("/kept", "GET");
      const got = await there.fetch("/kept");
      assert.equal(got.status, 200);
      assert.equal(got.body, `kept #${count + 1}`);
      assert.match(got.cacheStatus, /fwd=miss; fwd-status=200; stored; detail=purge-standing-unknown$/);
      // Concurrent requests for one URL share one origin fetch.
      const answers = await Promise.all(Array.from({ length: 8 }, () => there.fetch("/slow")));
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.equal(answer.body, "slow #1");
        assert.match(answer.cacheStatus, /detail=purge-standing-unknown/);
      }
      assert.equal(origin.count("/slow", "GET"), 1, "coalesced");
      assert.ok(!isHit(await there.fetch("/slow")), "not even its own fresh entry is served");
    } finally {
      await there.fault(null);
    }
    // Back: the next request asks again (after a second) and hits.
    await sleep(1100);
    await there.fetch("/kept");
    assert.ok(isHit(await there.fetch("/kept")));
  });

  it("does not wait long for a control plane that hangs, and never answers 500", async () => {
    const [, there] = deployment.locations;
    await store(there, "/kept");
    await there.fault("hang");
    try {
      await sleep(3200);
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 5 }, () => there.fetch("/kept")));
      const elapsed = Date.now() - started;
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.match(answer.cacheStatus, /detail=purge-standing-unknown/);
      }
      assert.ok(elapsed < 4000, `answered in ${elapsed} ms`);
    } finally {
      await there.fault(null);
    }
    assert.ok(!deployment.logs.some((l) => l.includes('"status":500')), "no 500 was logged");
  });
});

describe("an isolate that never read the registry", () => {
  it("serves nothing from storage", async () => {
    const { origin, deployment, dispose } = await setup({ locations: { count: 1 }, config: { backends: ["memory", "cache"] } });
    origin.on("/first", (record, n) => ({ headers: { "cache-control": "max-age=600" }, body: `first #${n}` }));
    try {
      const [only] = deployment.locations;
      await only.fault("fail");
      for (let n = 1; n <= 3; n++) {
        const got = await only.fetch("/first");
        assert.equal(got.body, `first #${n}`);
        assert.match(got.cacheStatus, /detail=purge-standing-unknown/);
      }
      await only.fault(null);
      await sleep(1100);
      await only.fetch("/first");
      assert.ok(isHit(await only.fetch("/first")), "served once the registry is known");
    } finally {
      await dispose();
    }
  });
});

describe("an upgrade from the registry and purge log kept in KV", () => {
  it("imports both on the object's first request, once", async () => {
    const { origin, worker, dispose } = await setup({ bindings: { ADMIN_TOKEN: TOKEN }, config: { key_prefix: "site", backends: ["memory"] } });
    origin.on("/retired", (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": "retired" }, body: `retired #${n}` }));
    try {
      // What an earlier version left in KV: a tag purge (timed an hour ahead, so that it
      // applies to entries stored now) and a log of two purges, newest first.
      const kv = await worker.mf.getKVNamespace("EDGECACHE_KV");
      const ahead = Date.now() + 3_600_000;
      await kv.put("site:__edgecache:registry", JSON.stringify({ v: 1, floor: 0, soft_floor: 0, records: [{ target: { type: "tag", value: "retired" }, at: ahead, soft: false }] }));
      const legacyLog = [
        { at: 2000, token: "ops", urls: [], prefixes: [], tags: ["retired"], all: false, soft: false, removed_from_memory: 1 },
        { at: 1000, token: "ci", urls: ["http://edge.test/x"], prefixes: [], tags: [], all: false, soft: true, removed_from_memory: 0 },
      ];
      await kv.put("site:__edgecache:purges", JSON.stringify(legacyLog));

      const imported = (await log(worker)).purges;
      assert.deepEqual(imported.map((e) => [e.seq, e.token, e.at, e.soft]), [[2, "ops", 2000, false], [1, "ci", 1000, true]]);
      await worker.fetchStored("/retired");
      const again = await worker.fetch("/retired");
      assert.equal(again.body, "retired #2", "the imported tag purge applies");
      await worker.fetchStored("/kept");
      assert.ok(isHit(await worker.fetch("/kept")));

      // Once: what KV holds later is not imported again.
      await kv.put("site:__edgecache:purges", "[]");
      await kv.put("site:__edgecache:registry", JSON.stringify({ v: 1, records: [] }));
      assert.equal((await purge(worker, { tags: ["later"] })).status, 200);
      assert.deepEqual((await log(worker)).purges.map((e) => e.seq), [3, 2, 1]);
      assert.equal((await worker.fetch("/retired")).body, "retired #3", "the imported registry still applies");
    } finally {
      await dispose();
    }
  });
});

describe("isolates of one location", () => {
  it("share one copy of the registry: the location asks the control plane about once per purge_propagation_s", async () => {
    const { deployment, dispose } = await setup({ locations: { count: 2, oneLocation: true }, config: { backends: ["memory"], purge_propagation_s: 1 } });
    try {
      const isolates = deployment.locations;
      for (const isolate of isolates) await isolate.fetch("/warm");
      const before = await Promise.all(isolates.map(async (i) => (await i.control()).requests));
      const started = Date.now();
      const SECONDS = 6;
      await Promise.all(
        isolates.map(async (isolate, n) => {
          while (Date.now() - started < SECONDS * 1000) {
            assert.equal((await isolate.fetch(`/page/${n}`)).status, 200);
            await sleep(25);
          }
        }),
      );
      const after = await Promise.all(isolates.map(async (i) => (await i.control()).requests));
      const asked = after.map((n, i) => n - before[i]);
      const total = asked[0] + asked[1];
      console.log(`two isolates of one location, ${SECONDS} s at purge_propagation_s = 1: ${asked.join(" + ")} = ${total} requests to the control plane`);
      // Alone, each isolate would ask once a second: 12 in all. Sharing, the location asks
      // once a second (the isolate that asks tells the other, which waits for its answer),
      // and no stats report is due within 10 s of the start.
      assert.ok(total <= SECONDS + 1, `${total} requests, not ${SECONDS}`);
    } finally {
      await dispose();
    }
  });
});

describe("stats in the control plane", () => {
  it("sums what every location reported, per route and per host, with no KV write", async () => {
    const { origin, deployment, dispose } = await setup({ locations: { count: 2 }, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory"], routes: [{ path: "/api/**", bypass: true }] } });
    origin.on("/private", { headers: { "cache-control": "private" }, body: "mine" });
    try {
      const [here, there] = deployment.locations;
      await here.fetchStored("/a");
      await here.fetch("/a");
      await here.fetch("/api/x");
      await there.fetch("http://other.test/private");
      await there.fetch("http://other.test/private");
      // `there` reports at its first request 10 s after it started counting.
      await sleep(10_100);
      await there.fetch("http://other.test/private");
      let stats;
      for (let i = 0; i < 50; i++) {
        stats = JSON.parse((await here.fetch("/_edgecache/stats", { headers: auth })).body);
        if (stats.hour.total.misses >= 4) break;
        await sleep(100);
      }
      assert.deepEqual(
        [stats.hour.total.hits, stats.hour.total.misses, stats.hour.total.bypasses],
        [1, 4, 1],
        "here: a miss, a hit and a bypass; there: three private misses",
      );
      assert.equal(stats.hour.hosts["other.test"].misses, 3);
      assert.equal(stats.hour.hosts["other.test"].reasons.private, 3);
      assert.equal(stats.hour.hosts["edge.test"].hits, 1);
      assert.equal(stats.hour.routes["/api/**"].reasons["route-bypass"], 1);
      assert.equal(stats.day.routes.default.misses, 4);
      assert.deepEqual(stats.total, stats.day.total);
      const kv = await deployment.mf.getKVNamespace("EDGECACHE_KV", "location-0");
      assert.deepEqual((await kv.list()).keys, [], "nothing was written to KV");
    } finally {
      await dispose();
    }
  });
});
