// The example worker in examples/lowlevel (edgecache as a library): a page-view counter in
// real local Workers KV and a memoised computation in the real local Cache API, on workerd.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { withWorker } from "../support/fixture.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("example worker: the low-level API as a library", () => {
  const { worker } = withWorker({
    origin: null,
    scriptPath: path.join(root, "examples/lowlevel/build/index.js"),
    config: null,
    kvNamespaces: ["CACHE"],
  });

  const json = async (target, init) => {
    const response = await worker.fetch(target, init);
    assert.equal(response.status, 200, response.body);
    return JSON.parse(response.body);
  };

  it("counts page views per page in KV", async () => {
    assert.deepEqual(await json("/views/home"), { page: "home", views: 1 });
    assert.deepEqual(await json("/views/home"), { page: "home", views: 2 });
    assert.deepEqual(await json("/views/about"), { page: "about", views: 1 });
    assert.deepEqual(await json("/views/home"), { page: "home", views: 3 });
  });

  it("computes an answer once and then serves it from the Cache API", async () => {
    assert.deepEqual(await json("/primes/100000"), { n: 100000, primes: 9592, computed: true });
    assert.deepEqual(await json("/primes/100000"), { n: 100000, primes: 9592, computed: false });
    assert.deepEqual(await json("/primes/1000"), { n: 1000, primes: 168, computed: true });
    assert.deepEqual(await json("/primes/1000000"), { n: 1000000, primes: 78498, computed: true });
  });

  it("forgets every memoised answer at once on clear", async () => {
    await json("/primes/500");
    assert.equal((await json("/primes/500")).computed, false);
    const cleared = await worker.fetch("/clear", { method: "POST" });
    assert.equal(cleared.status, 200);
    assert.deepEqual(await json("/primes/500"), { n: 500, primes: 95, computed: true });
    assert.equal((await json("/primes/100000")).computed, true);
  });

  it("refuses bad input and unknown paths", async () => {
    assert.equal((await worker.fetch("/primes/abc")).status, 400);
    assert.equal((await worker.fetch("/primes/99999999999")).status, 400);
    assert.equal((await worker.fetch("/nowhere")).status, 404);
  });
});
