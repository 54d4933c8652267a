// Request coalescing: concurrent requests for one cold URL go to the origin once; an
// unstorable answer is never shared; followers whose Vary values differ fetch for themselves.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

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
