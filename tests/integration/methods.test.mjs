// Methods: unsafe methods forwarded with their bodies and never stored, a HEAD miss forwarded
// as HEAD, redirects passed through, the stored GET invalidated after a successful unsafe
// request (RFC 9111 §4.4), and a request edgecache itself sent stopped as a loop.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, withWorker } from "../support/fixture.mjs";

describe("methods", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"] } });

  it("forwards unsafe methods with their bodies and never stores them", async () => {
    for (const n of [1, 2]) {
      const post = await worker.fetch("/form", { method: "POST", body: `field=${n}` });
      assert.equal(post.status, 200);
      assert.equal(post.cacheStatus, "edgecache; fwd=method; fwd-status=200");
      assert.equal(origin.last("/form").body, `field=${n}`);
    }
    assert.equal(origin.count("/form", "POST"), 2);
  });

  it("forwards a HEAD miss as HEAD and stores nothing", async () => {
    const head = await worker.fetch("/only-head", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.cacheStatus, "edgecache; fwd=miss; fwd-status=200; detail=head-not-stored");
    const get = await worker.fetch("/only-head");
    assert.match(get.cacheStatus, /fwd=miss/);
    assert.equal(origin.count("/only-head", "HEAD"), 1);
  });

  it("passes redirects through without following them", async () => {
    origin.on("/moved", { status: 301, headers: { location: "/new", "cache-control": "max-age=60" }, body: "" });
    const moved = await worker.fetch("/moved");
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get("location"), "/new");
    await worker.stored("/moved");
    assert.equal((await worker.fetch("/moved")).status, 301);
    assert.equal(origin.count("/new"), 0);
    assert.equal(origin.count("/moved", "GET"), 1);
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

describe("loops", () => {
  it("stops a request that edgecache itself sent", async () => {
    const { origin, worker, dispose } = await setup();
    try {
      const got = await worker.fetch("/", { headers: { "x-edgecache-hop": "1" } });
      assert.equal(got.status, 508);
      assert.match(got.body, /forwarding loop/);
      assert.equal(origin.requests.length, 0);
    } finally {
      await dispose();
    }
  });
});
