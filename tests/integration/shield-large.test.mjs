// A large body through the shield (issue 22: bodies too large to hold whole stream through
// R2): on a shielded route whose shared tier is R2, the shield writes a 40 MiB fill to R2 from
// a branch of the origin's stream (README, Storage: R2, Streaming) and answers the location
// as it streams; other locations are answered from the shield's R2 object, a Range request
// too. The origin is asked once and every byte arrives. (How much memory a streamed R2 fill
// and an R2 hit take is measured in r2.test.mjs and memory-bounded.test.mjs.)
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { withWorker } from "../support/fixture.mjs";

const MiB = 1024 * 1024;
const SIZE = 40 * MiB;

/** A body of `size` bytes whose bytes differ along it. */
function bodyOf(size) {
  const bytes = Buffer.alloc(size);
  const block = crypto.createHash("sha512").update(String(size)).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(bytes, at);
    bytes.writeUInt32BE(at >>> 0, at);
  }
  return bytes;
}

const digest = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");

describe("a large body through the shield", () => {
  const { origin, deployment } = withWorker({
    locations: { count: 3 },
    config: { backends: ["memory", "cache", "r2"], shield: true, max_body_bytes: 64 * MiB },
  });
  const body = bodyOf(SIZE);

  it("streams a 40 MiB fill to R2 at the shield and answers every location with every byte, the origin asked once", async () => {
    origin.on("/large", () => ({ headers: { "cache-control": "max-age=600", "content-type": "application/octet-stream" }, body }));
    const first = await deployment.locations[0].fetchBytes("/large");
    assert.equal(first.status, 200);
    assert.equal(first.bytes.length, SIZE);
    assert.equal(digest(first.bytes), digest(body), "the first location got every byte");
    assert.match(first.cacheStatus, /^edgecache-shield; fwd=miss; fwd-status=200; stored, /);
    assert.equal(origin.count("/large", "GET"), 1);

    // The shield's R2 object is written from the stream once the fill ends.
    const bucket = await deployment.mf.getR2Bucket("EDGECACHE_R2", "location-0");
    const deadline = Date.now() + 20_000;
    let object;
    for (;;) {
      const listed = await bucket.list();
      object = listed.objects.find((o) => o.size === SIZE);
      if (object || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(object, "the shield stored the body in R2");

    for (const location of deployment.locations.slice(1)) {
      const got = await location.fetchBytes("/large");
      assert.equal(got.status, 200);
      assert.equal(digest(got.bytes), digest(body), `${location.name} got every byte`);
      assert.match(got.cacheStatus, /^edgecache-shield; hit; [^,]*detail=r2, /, `${location.name} was answered from the shield's R2 object`);
    }
    assert.equal(origin.count("/large", "GET"), 1, "the origin was asked once for the whole fleet");
    const ranged = await deployment.locations[2].fetchBytes("/large", { headers: { range: `bytes=${SIZE - 10}-` } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(ranged.bytes, body.subarray(SIZE - 10));
    assert.equal(origin.count("/large", "GET"), 1);
  });
});
