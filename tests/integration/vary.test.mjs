// Vary on every backend: one variant per value of the listed request field, every variant
// dropped when an unsafe method changes the URL, and white space normalised so equivalent
// requests share a variant.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

for (const backends of [["memory"], ["cache"], ["kv"]]) describe(`Vary (${backends[0]})`, () => {
  const { origin, worker } = withWorker({ config: { backends } });
  before(() => {
    origin.on("/greet", (record, n) => ({
      headers: { "cache-control": "max-age=60", vary: "Accept-Language" },
      body: `${record.headers["accept-language"] ?? "none"} #${n}`,
    }));
  });

  it("keeps one variant per value of the listed request header", async () => {
    const fr = { headers: { "accept-language": "fr" } };
    const de = { headers: { "accept-language": "de" } };
    assert.equal((await worker.fetch("/greet", fr)).body, "fr #1");
    await worker.stored("/greet", fr);

    const deMiss = await worker.fetch("/greet", de);
    assert.equal(deMiss.body, "de #2", "another language never gets the French variant");
    assert.equal(deMiss.cacheStatus, "edgecache; fwd=vary-miss; fwd-status=200; stored");
    await worker.stored("/greet", de);

    assert.equal((await worker.fetch("/greet", fr)).body, "fr #1");
    assert.equal((await worker.fetch("/greet", de)).body, "de #2");
    const es = await worker.fetch("/greet", { headers: { "accept-language": "es" } });
    assert.equal(es.body, "es #3");
    assert.equal(origin.count("/greet", "GET"), 3);
  });

  it("drops every variant when an unsafe method changes the URL, even in an isolate that knows its variants", async () => {
    const it = { headers: { "accept-language": "it" } };
    const first = (await worker.fetch("/greet", it)).body;
    await worker.stored("/greet", it);
    assert.equal((await worker.fetch("/greet", it)).body, first, "a hit through the URL's Vary marker");
    const post = await worker.fetch("/greet", { method: "POST", body: "x" });
    assert.equal(post.status, 200);
    const after = await worker.fetch("/greet", it);
    assert.notEqual(after.body, first, "the variant stored before the POST is not served");
    assert.match(after.cacheStatus, /fwd=miss/);
  });

  it("normalises white space so equivalent requests share a variant", async () => {
    await worker.fetch("/greet", { headers: { "accept-language": "en,  fr" } });
    await worker.stored("/greet", { headers: { "accept-language": "en,  fr" } });
    const same = await worker.fetch("/greet", { headers: { "accept-language": "en, fr" } });
    assert.match(same.cacheStatus, /; hit;/);
    for (const equivalent of ["en,fr", " EN , Fr "]) {
      const hit = await worker.fetch("/greet", { headers: { "accept-language": equivalent } });
      assert.match(hit.cacheStatus, /; hit;/, `${equivalent} is the same request`);
    }
    const reordered = await worker.fetch("/greet", { headers: { "accept-language": "fr, en" } });
    assert.doesNotMatch(reordered.cacheStatus, /; hit;/, "another order may pick another language");
  });
});
