// The memory tier's budget bounds what the isolate really holds. Filled far past its budget
// with long-URL, many-tag, varied entries, the isolate (its WebAssembly memory, its V8 heap
// and the runtime's copies of the entries' client fields) grows by at most 1.5 times the
// budget, measured through workerd's inspector.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";
import { inspect } from "../support/inspector.mjs";

const BUDGET = 2 * 1024 * 1024;
const TOKEN = "memory-test-token";
/** 64 tags (the most an entry keeps) of 46 bytes, in `Cache-Tag`. */
const TAGS = Array.from({ length: 64 }, (_, i) => `tag-${String(i).padStart(2, "0")}-${"t".repeat(38)}`).join(",");
/** URLs of over 4 KB: their keys are hashed, their URLs kept whole. */
const PAD = "p".repeat(4000);
const ENTRIES = 1500;

/**
 * What workerd keeps for one `Headers` object beyond its wrapper in the V8 heap, measured as
 * the process's memory growth over 20,000 of them: about 1.7 KB, plus 250 to 280 bytes per
 * field beyond its name and value. The inspector cannot read them (iterating one from it
 * crashes workerd), so live ones are counted and sized from a hit's fields.
 */
const headersBytes = (fields) => 1800 + fields.reduce((sum, [name, value]) => sum + 300 + name.length + value.length, 0);

describe("the memory tier's footprint in the isolate", () => {
  const { origin, worker } = withWorker({
    config: { backends: ["memory"], memory_max_bytes: BUDGET, request_log: "errors" },
    bindings: { ADMIN_TOKEN: TOKEN },
    inspectorPort: 0,
  });
  let inspector;
  before(async () => {
    origin.on("/page", (record, n) => ({
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "max-age=600",
        "cache-tag": TAGS,
        vary: "Accept-Language",
        etag: `"v${n}"`,
      },
      body: `<p>${record.headers["accept-language"]}</p>${"b".repeat(300)}`,
    }));
    origin.on("/warm", (record) => ({
      status: record.method === "DELETE" ? 204 : 200,
      headers: { "content-type": "text/html", "cache-control": "max-age=600", "cache-tag": TAGS, vary: "Accept-Language" },
      body: "b".repeat(300),
    }));
    inspector = await inspect(await worker.inspectorUrl());
  });
  after(() => inspector?.close());

  it("grows the isolate by at most 1.5 times memory_max_bytes, long URLs, tags and Vary included", async () => {
    // Warm-up on a few entries, dropped again (an unsafe method invalidates its URL): the JS
    // glue is compiled and optimised before the baseline, as in a long-lived isolate.
    for (let i = 0; i < 3; i++) {
      const target = `/warm?i=${i}&pad=${PAD}`;
      for (let hit = 0; hit < 60; hit++) await worker.fetch(target, { headers: { "accept-language": "en" } });
      assert.equal((await worker.fetch(target, { method: "DELETE" })).status, 204);
      assert.match((await worker.fetch(target, { method: "HEAD", headers: { "accept-language": "en" } })).cacheStatus, /fwd=/);
    }
    const start = await inspector.measure();

    let fields;
    for (let i = 0; i < ENTRIES; i++) {
      const target = `/page?id=${i}&token=${PAD}`;
      const headers = { "accept-language": `lang-${i % 5}` };
      const miss = await worker.fetch(target, { headers });
      assert.match(miss.cacheStatus, /fwd=(miss|vary-miss)/, `${i}: ${miss.cacheStatus}`);
      // The hit builds the entry's client fields, which the runtime then keeps.
      const hit = await worker.fetch(target, { headers });
      assert.match(hit.cacheStatus, /; hit; .*detail=memory/, `${i}: ${hit.cacheStatus}`);
      fields ??= [...hit.headers].filter(([name]) => !["age", "cache-status"].includes(name));
    }
    const end = await inspector.measure();

    const stats = JSON.parse((await worker.fetch("/_edgecache/stats", { headers: { authorization: `Bearer ${TOKEN}` } })).body);
    assert.ok(stats.memory_bytes <= BUDGET, `the tier counts ${stats.memory_bytes} bytes`);
    const liveHeaders = end.headers - start.headers;
    assert.ok(liveHeaders > 0 && liveHeaders < ENTRIES / 2, `${liveHeaders} entries' client fields alive: most were evicted`);

    const wasm = end.wasm - start.wasm;
    const heap = end.heap - start.heap;
    const runtime = liveHeaders * headersBytes(fields);
    const growth = wasm + heap + runtime;
    const report = `WebAssembly memory +${wasm}, V8 heap +${heap}, ${liveHeaders} Headers ≈ ${runtime}: ${growth} bytes for a ${BUDGET}-byte budget (${(growth / BUDGET).toFixed(2)}×)`;
    if (process.env.EDGECACHE_TEST_LOGS) console.log(report);
    assert.ok(growth <= 1.5 * BUDGET, report);
  });
});
