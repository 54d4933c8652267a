// The fleet: eight locations (each its own isolate, memory tier and Cache API, sharing KV, the
// control plane and the shield; tests/support/worker.mjs, startLocations) driven by a seeded
// Zipf workload whose lifetimes expire during the run, with and without the shield. Prints
// the origin requests per key per lifetime and the origin offload (the share of client
// requests and bytes that did not reach the origin), and holds the shield to at most 1.05
// origin requests per key per lifetime.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup } from "../support/fixture.mjs";

const LOCATIONS = 8;
const KEYS = 300;
const ZIPF = 1.0;
const LIFETIME_S = 3;
const RUN_MS = 9_000;
const CLIENTS_PER_LOCATION = 4;
const MAX_REQUESTS = 12_000;

/** mulberry32: a small seeded PRNG, so every run asks the same sequence. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Key ranks by Zipf(s) over n keys, drawn with `rand`. */
function zipf(n, s, rand) {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = [];
  let sum = 0;
  for (const w of weights) cdf.push((sum += w / total));
  return () => {
    const u = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** A body of 1 to 16 KB, fixed per key. */
const bodySize = (key) => 1024 * (1 + ((key * 7919) % 16));

/**
 * Runs the workload against a fleet and measures it: for each key, the origin's requests
 * and how many lifetimes they span (a request that reaches the origin within a lifetime of
 * the one before it for the key is an excess one).
 */
async function run({ shield }) {
  const { origin, deployment, dispose } = await setup({
    locations: { count: LOCATIONS },
    config: { backends: ["memory", "cache", "kv"], shield, purge_propagation_s: 2 },
  });
  try {
    origin.on(/^\/fleet\//, (record, n) => ({
      headers: { "cache-control": `max-age=${LIFETIME_S}`, "content-type": "text/plain" },
      body: `${record.path} #${n} `.padEnd(bodySize(Number(record.path.slice("/fleet/k".length))), "."),
    }));
    const rand = random(20261207);
    const draw = zipf(KEYS, ZIPF, rand);
    let sent = 0;
    let clientBytes = 0;
    let failures = 0;
    const deadline = Date.now() + RUN_MS;
    const clients = deployment.locations.flatMap((location, l) =>
      Array.from({ length: CLIENTS_PER_LOCATION }, async (_, c) => {
        const own = random(1000 * l + c + 1);
        const ownDraw = zipf(KEYS, ZIPF, own);
        while (Date.now() < deadline && sent < MAX_REQUESTS) {
          sent++;
          const key = ownDraw();
          const got = await location.fetch(`/fleet/k${key}`);
          if (got.status !== 200 || !got.body.startsWith(`/fleet/k${key} #`)) failures++;
          clientBytes += got.body.length;
        }
      }),
    );
    void draw;
    await Promise.all(clients);
    const asked = origin.requests.filter((r) => r.path.startsWith("/fleet/"));
    const byKey = new Map();
    for (const record of asked) {
      const times = byKey.get(record.path) ?? [];
      times.push(record.at);
      byKey.set(record.path, times);
    }
    let lifetimes = 0;
    for (const times of byKey.values()) {
      let start = -Infinity;
      for (const t of times.sort((a, b) => a - b)) {
        if (t - start >= LIFETIME_S * 1000) {
          lifetimes++;
          start = t;
        }
      }
    }
    const originBytes = asked.reduce((n, r) => n + bodySize(Number(r.path.slice("/fleet/k".length))), 0);
    return {
      shield,
      clientRequests: sent,
      originRequests: asked.length,
      perLifetime: asked.length / Math.max(1, lifetimes),
      offload: 1 - asked.length / sent,
      byteOffload: 1 - originBytes / Math.max(1, clientBytes),
      failures,
    };
  } finally {
    await dispose();
  }
}

describe("the fleet", () => {
  it("keeps a seeded Zipf workload off the origin, once per key per lifetime with the shield", async () => {
    const without = await run({ shield: false });
    const withShield = await run({ shield: true });
    const row = (r) =>
      `| ${r.shield ? "shield" : "no shield"} | ${r.clientRequests} | ${r.originRequests} | ${r.perLifetime.toFixed(3)} | ${(100 * r.offload).toFixed(1)} % | ${(100 * r.byteOffload).toFixed(1)} % |`;
    console.log(
      [
        `fleet: ${LOCATIONS} locations, ${KEYS} keys, Zipf ${ZIPF}, lifetime ${LIFETIME_S} s, ${RUN_MS / 1000} s, ${CLIENTS_PER_LOCATION} clients a location`,
        "| | client requests | origin requests | origin requests per key per lifetime | offload (requests) | offload (bytes) |",
        "|---|---:|---:|---:|---:|---:|",
        row(without),
        row(withShield),
      ].join("\n"),
    );
    assert.equal(without.failures, 0);
    assert.equal(withShield.failures, 0, "every client got its key's body");
    assert.ok(withShield.perLifetime <= 1.05, `with the shield: ${withShield.perLifetime.toFixed(3)} origin requests per key per lifetime`);
    assert.ok(withShield.offload > without.offload, "the shield keeps more requests off the origin");
  });
});
