// The R2 tier (`"r2"`, binding EDGECACHE_R2): a body over KV's 25 MiB limit stored and served
// byte for byte without passing through WebAssembly, purges by URL and tag reaching the
// bucket, an entry past its keep time read as a miss and deleted, and KV routes still held
// to 25 MiB.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { setup, withWorker } from "../support/fixture.mjs";
import { purge as adminPurge } from "../support/admin.mjs";
import { HOST } from "../support/worker.mjs";
import { inspect } from "../support/inspector.mjs";

const MiB = 1024 * 1024;
const BIG = 30 * MiB;
const TOKEN = "r2-test-token";
const BINDING = "EDGECACHE_R2";

const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");

/** A body of `size` bytes that starts with `label`, so versions can be told apart. */
function bodyOf(label, size) {
  const bytes = crypto.randomBytes(size);
  bytes.write(label, 0, "latin1");
  return bytes;
}

/** Serves `bodies(n)` at `path` with an exact Content-Length, counting requests. */
function serve(origin, path, headers, bodies) {
  origin.onRaw(path, (req, res, record, n) => {
    const body = bodies(n);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length, ...headers });
    res.end(req.method === "HEAD" ? undefined : body);
  });
}

describe("the R2 tier", () => {
  const big = bodyOf("v1", BIG);
  const { origin, worker } = withWorker({
    r2Buckets: [BINDING],
    bindings: { ADMIN_TOKEN: TOKEN },
    inspectorPort: 0,
    config: {
      backends: ["memory", "cache"],
      max_body_bytes: 40 * MiB,
      stale_while_revalidate: 0,
      stale_if_error: 0,
      routes: [
        { path: "/big/**", backends: "r2" },
        { path: "/tiered/**", backends: ["memory", "r2"] },
      ],
    },
  });
  let inspector, bucket;
  before(async () => {
    serve(origin, "/big/large.bin", { "cache-control": "max-age=600" }, () => big);
    inspector = await inspect(await worker.inspectorUrl());
    bucket = await worker.mf.getR2Bucket(BINDING);
  });
  after(() => inspector?.close());

  /** The bucket's objects whose key names `path`. */
  async function objectsFor(path) {
    const listed = await bucket.list({ include: ["customMetadata"] });
    return listed.objects.filter((o) => o.key.includes(`//edge.test${path}`));
  }

  /** GETs `path` through the worker, reading the body as bytes. */
  async function get(path) {
    const response = await worker.mf.dispatchFetch(HOST + path);
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, bytes, cacheStatus: response.headers.get("cache-status") ?? "", headers: response.headers };
  }

  const purge = (body) => adminPurge(worker, TOKEN, body);

  it("stores a 30 MiB body and serves it from R2 byte for byte, without reading it into WebAssembly", async () => {
    // Warm-up: the JS glue and the Wasm instance are set up before the baseline.
    await worker.fetch("/_edgecache/stats", { headers: { authorization: `Bearer ${TOKEN}` } });
    const start = await inspector.measure();

    const miss = await get("/big/large.bin");
    assert.equal(miss.status, 200);
    assert.equal(miss.bytes.length, BIG);
    assert.equal(sha256(miss.bytes), sha256(big));
    assert.equal(miss.cacheStatus, "edgecache; fwd=miss; fwd-status=200; stored");

    await worker.stored("/big/large.bin", {}, 20_000);
    const stored = worker.logs.filter((l) => l.includes('"edgecache":"stored"') && l.includes('"streamed":true'));
    assert.equal(stored.length, 1, "written to R2 from the origin's stream");
    assert.match(stored[0], /"tiers":\["r2"\]/);
    assert.match(stored[0], new RegExp(`"bytes":${BIG}`));
    const [object] = await objectsFor("/big/large.bin");
    assert.ok(object, "the entry is an object in the bucket");
    assert.equal(object.size, BIG, "the object is the body as is");
    assert.ok(object.customMetadata.m.includes("/big/large.bin"), "the record is in its metadata");
    assert.ok(Number(object.customMetadata.e) > Date.now(), "with the time it may be kept until");

    const hit = await get("/big/large.bin");
    assert.equal(hit.status, 200);
    assert.match(hit.cacheStatus, /^edgecache; hit; ttl=\d+; detail=r2$/);
    assert.equal(hit.bytes.length, BIG);
    assert.equal(sha256(hit.bytes), sha256(big), "the same bytes");
    assert.equal(hit.headers.get("content-type"), "application/octet-stream");
    assert.equal(origin.count("/big/large.bin", "GET"), 1, "the origin was asked once");

    // WebAssembly memory never shrinks: had the body passed through it, on the fill or the
    // hit, it would have grown by 30 MiB at least.
    const end = await inspector.measure();
    const wasm = end.wasm - start.wasm;
    if (process.env.EDGECACHE_TEST_LOGS) console.log(`WebAssembly memory +${wasm} bytes over a ${BIG}-byte fill and hit`);
    assert.ok(wasm < 8 * MiB, `WebAssembly memory grew by ${wasm} bytes for a ${BIG}-byte body`);
  });

  it("neither reads a large body into WebAssembly for a memory tier above R2 that could not hold it, nor copies it up", async () => {
    serve(origin, "/tiered/large.bin", { "cache-control": "max-age=600" }, () => big);
    const start = await inspector.measure();
    const miss = await get("/tiered/large.bin");
    assert.equal(sha256(miss.bytes), sha256(big));
    await worker.stored("/tiered/large.bin", {}, 20_000);
    for (let i = 0; i < 2; i++) {
      const hit = await get("/tiered/large.bin");
      assert.match(hit.cacheStatus, /^edgecache; hit; ttl=\d+; detail=r2$/, "from R2 each time: not copied into memory");
      assert.equal(sha256(hit.bytes), sha256(big));
    }
    assert.equal(origin.count("/tiered/large.bin", "GET"), 1);
    const wasm = (await inspector.measure()).wasm - start.wasm;
    assert.ok(wasm < 8 * MiB, `WebAssembly memory grew by ${wasm} bytes for a ${BIG}-byte body`);
  });

  it("serves a part of a large R2 entry for a Range request", async () => {
    const response = await worker.mf.dispatchFetch(`${HOST}/big/large.bin`, { headers: { range: "bytes=1000-1999" } });
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(response.status, 206);
    assert.match(response.headers.get("cache-status") ?? "", /; hit;.*detail=r2/);
    assert.equal(sha256(bytes), sha256(big.subarray(1000, 2000)));
    assert.equal(origin.count("/big/large.bin", "GET"), 1);
  });

  it("stores a small response that varies, with its Vary marker, and serves each variant from R2", async () => {
    origin.on("/big/varied", (record, n) => ({
      headers: { "content-type": "text/plain", "cache-control": "max-age=60", vary: "Accept-Language" },
      body: `${record.headers["accept-language"]} #${n}`,
    }));
    for (const lang of ["en", "fr"]) {
      const headers = { "accept-language": lang };
      const miss = await worker.fetch("/big/varied", { headers });
      assert.match(miss.cacheStatus, /fwd=(miss|vary-miss); fwd-status=200; stored/);
      await worker.stored("/big/varied", { headers });
    }
    for (const lang of ["en", "fr"]) {
      const hit = await worker.fetch("/big/varied", { headers: { "accept-language": lang } });
      assert.match(hit.cacheStatus, /^edgecache; hit; ttl=\d+; detail=r2$/);
      assert.match(hit.body, new RegExp(`^${lang} #`));
    }
    assert.equal(origin.count("/big/varied", "GET"), 2, "once per variant");
    assert.equal((await objectsFor("/big/varied")).length, 3, "the marker and two variants");
  });

  it("deletes the object when its URL is purged", async () => {
    serve(origin, "/big/by-url.bin", { "cache-control": "max-age=600" }, (n) => bodyOf(`v${n}`, 2 * MiB));
    await get("/big/by-url.bin");
    await worker.stored("/big/by-url.bin");
    assert.equal((await objectsFor("/big/by-url.bin")).length, 1);

    await purge({ urls: ["http://edge.test/big/by-url.bin"] });
    assert.equal((await objectsFor("/big/by-url.bin")).length, 0, "gone from the bucket");
    const after = await get("/big/by-url.bin");
    assert.match(after.cacheStatus, /fwd=miss/);
    assert.equal(after.bytes.subarray(0, 2).toString(), "v2");
    assert.equal(origin.count("/big/by-url.bin", "GET"), 2);
  });

  it("refuses an object whose tag is purged, and replaces it in the bucket", async () => {
    serve(origin, "/big/tagged.bin", { "cache-control": "max-age=600", "cache-tag": "big-assets" }, (n) => bodyOf(`v${n}`, 2 * MiB));
    await get("/big/tagged.bin");
    await worker.stored("/big/tagged.bin");

    await purge({ tags: ["big-assets"] });
    const after = await get("/big/tagged.bin");
    assert.match(after.cacheStatus, /fwd=miss/, "the purged object is not served");
    assert.equal(after.bytes.subarray(0, 2).toString(), "v2");
    assert.equal(origin.count("/big/tagged.bin", "GET"), 2);

    await worker.stored("/big/tagged.bin");
    const objects = await objectsFor("/big/tagged.bin");
    assert.equal(objects.length, 1);
    const stored = await bucket.get(objects[0].key);
    assert.equal(Buffer.from(await stored.arrayBuffer()).subarray(0, 2).toString(), "v2", "the purged version is gone");
  });

  it("reads an object past its keep time as a miss, and deletes it", async () => {
    serve(origin, "/big/short.bin", { "cache-control": "max-age=1" }, (n) => bodyOf(`v${n}`, 2 * MiB));
    await get("/big/short.bin");
    await worker.stored("/big/short.bin");
    const [object] = await objectsFor("/big/short.bin");
    assert.ok(Number(object.customMetadata.e) <= Date.now() + 1500, "kept about as long as it is fresh");

    await new Promise((r) => setTimeout(r, 2200));
    assert.equal((await objectsFor("/big/short.bin")).length, 1, "R2 keeps it past its time");
    // HEAD: a miss is forwarded as HEAD and stores nothing, so only the read's delete acts.
    const head = await worker.fetch("/big/short.bin", { method: "HEAD" });
    assert.match(head.cacheStatus, /fwd=miss/, "a miss, not a stale entry");
    assert.equal((await objectsFor("/big/short.bin")).length, 0, "deleted when read");
  });
});

describe("R2 and KV limits in the configuration", () => {
  it("refuses max_body_bytes over 25 MiB on a KV route, naming the rule, while R2 routes take it", async () => {
    const { origin, worker, dispose } = await setup({
      r2Buckets: [BINDING],
      config: { max_body_bytes: 40 * MiB, routes: [{ path: "/big/**", backends: "r2" }, { path: "/**", backends: ["memory", "kv"] }] },
    });
    try {
      const got = await worker.fetch("/page");
      assert.equal(got.status, 500);
      assert.equal(got.cacheStatus, "edgecache; fwd=bypass; detail=config-error");
      const logged = worker.logs.filter((l) => l.includes('"edgecache":"config-error"'));
      // The rule is named by its path (config errors name routes by path, not index).
      assert.match(logged[0], /EDGECACHE\.routes\[\\"\/\*\*\\"\]\.backends: max_body_bytes 41943040 exceeds Workers KV's 26214400-byte value limit/);
      assert.equal(origin.requests.length, 0);
    } finally {
      await dispose();
    }
  });

  it("leaves the R2 tier out, and the other tiers serving, when its bucket is not bound", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory", "r2"] } });
    try {
      assert.match((await worker.fetch("/page")).cacheStatus, /fwd=miss; fwd-status=200; stored/);
      await worker.stored("/page");
      assert.match((await worker.fetch("/page")).cacheStatus, /; hit; .*detail=memory/);
      assert.equal(origin.count("/page", "GET"), 1);
    } finally {
      await dispose();
    }
  });
});
