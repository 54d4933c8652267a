// A purge acknowledged while an origin answer is still on its way: the origin made that answer
// from what the purge says is gone (it read its data before the purge was made), so it may go
// to the client that asked, but no tier may serve it after the purge. Entries are compared with
// purges by when their fetch was sent, not by when the answer came. Directly, on every tier,
// and through the shield (whose own fetch the purge overtakes); nor may a request made after
// the purge take the answer of a fetch sent before it, as a follower of its flight.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";
import { purge as adminPurge } from "../support/admin.mjs";

const TOKEN = "purge-race-token";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const purge = (worker, body) => adminPurge(worker, TOKEN, body);

/**
 * An origin page whose content is read when the request arrives and sent `delayMs` later, as
 * a page rendered from a database and written out slowly; `publish(v)` changes the content.
 */
function slowPage(origin, path, delayMs) {
  let version = "old";
  origin.on(path, async (record, n) => {
    const seen = version;
    await sleep(delayMs);
    return { headers: { "cache-control": "max-age=600", "cache-tag": "race" }, body: `${seen} #${n}` };
  });
  return (v) => {
    version = v;
  };
}

for (const backends of [["memory"], ["cache"], ["kv"]]) {
  describe(`a purge overtaking an origin answer (${backends[0]})`, () => {
    const { origin, worker } = withWorker({
      bindings: { ADMIN_TOKEN: TOKEN },
      config: { backends, purge_propagation_s: 0 },
    });

    for (const [how, target] of [
      ["by URL", { urls: ["http://edge.test/slow-url"] }],
      ["by tag", { tags: ["race"] }],
    ]) {
      it(`never serves, after a purge ${how} is acknowledged, an answer the origin made before it`, async () => {
        const path = how === "by URL" ? "/slow-url" : "/slow-tag";
        const publish = slowPage(origin, path, 1000);
        const first = worker.fetch(path);
        await sleep(300);
        publish("new");
        await purge(worker, target);
        assert.equal((await first).body, "old #1", "the client that asked gets the answer it asked for");
        await sleep(300);
        const after = await worker.fetch(path);
        assert.match(after.body, /^new #2$/, `the purged content is not served (${after.cacheStatus})`);
        assert.equal(origin.count(path), 2);
      });
    }

    it("never gives a request made after the purge was acknowledged the answer of a fetch sent before it", async () => {
      const publish = slowPage(origin, "/slow-flight", 1000);
      const first = worker.fetch("/slow-flight");
      await sleep(300);
      publish("new");
      await purge(worker, { tags: ["race"] });
      // Arrives while the first request's fetch is still on its way: it would collapse into it.
      const later = await worker.fetch("/slow-flight");
      assert.equal((await first).body, "old #1");
      assert.equal(later.body, "new #2", `a request made after the purge gets no purged content (${later.cacheStatus})`);
    });
  });
}

describe("a purge overtaking the shield's origin answer", () => {
  const { origin, deployment } = withWorker({
    locations: { count: 2 },
    bindings: { ADMIN_TOKEN: TOKEN },
    config: { backends: ["memory", "cache"], shield: true, purge_propagation_s: 0 },
  });

  it("is not outlived by the answer at the shield nor at either location", async () => {
    const publish = slowPage(origin, "/shielded", 1000);
    const [here, there] = deployment.locations;
    const first = here.fetch("/shielded");
    await sleep(300);
    publish("new");
    await purge(there, { tags: ["race"] });
    assert.equal((await first).body, "old #1");
    await sleep(300);
    const elsewhere = await there.fetch("/shielded");
    assert.equal(elsewhere.body, "new #2", `the shield keeps no purged content (${elsewhere.cacheStatus})`);
    const again = await here.fetch("/shielded");
    assert.equal(again.body, "new #2", `the asking location keeps no purged content (${again.cacheStatus})`);
  });
});
