// An origin that fails: refused connections (502, or a stale entry under stale-if-error), a
// 5xx passed through unstored, bodies broken off in every framing and in every tier, a client
// that hangs up mid-body, a body that stalls. Each gives the documented answer, never a hang
// or a 500, and never stores a partial body: a later request goes to the origin and gets all.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setup, withOrigin } from "../support/fixture.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Fetches over real HTTP (dispatchFetch would hide the framing): bytes got, and any error. */
function httpGet(base, target) {
  return new Promise((resolve) => {
    const started = Date.now();
    const req = http.get(new URL(target, base), (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), error: null, ms: Date.now() - started }));
      res.on("error", (error) => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), error, ms: Date.now() - started }));
    });
    req.on("error", (error) => resolve({ status: 0, body: "", error, ms: Date.now() - started }));
  });
}

describe("origin failures", () => {
  it("answers 502, uncached, when the origin refuses connections", async () => {
    const closed = net.createServer();
    await new Promise((r) => closed.listen(0, "127.0.0.1", r));
    const { port } = closed.address();
    await new Promise((r) => closed.close(r));
    const { worker } = await setup({ origin: { url: `http://127.0.0.1:${port}` }, config: { backends: ["memory"] } });
    try {
      const got = await worker.fetch("/down");
      assert.equal(got.status, 502);
      assert.match(got.body, /origin could not be reached/);
      assert.equal(got.headers.get("cache-control"), "no-store");
      assert.equal(got.cacheStatus, "edgecache; fwd=miss; detail=origin-unreachable");
      const post = await worker.fetch("/down", { method: "POST", body: "x" });
      assert.equal(post.status, 502);
    } finally {
      await worker.dispose();
    }
  });

  it("never stores a body the origin breaks off mid-stream", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory", "cache"] } });
    origin.onRaw("/reset", (req, res, record, n) => {
      if (n === 1) {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": "1000" });
        res.write("x".repeat(100));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": "1000" });
        res.end("y".repeat(1000));
      }
    });
    try {
      // Over real HTTP (dispatchFetch would hide the framing), the client sees the break.
      const broken = await new Promise((resolve) => {
        http.get(new URL("/reset", worker.url), (res) => {
          let bytes = 0;
          res.on("data", (chunk) => (bytes += chunk.length));
          res.on("end", () => resolve({ bytes, length: res.headers["content-length"], error: null }));
          res.on("error", (error) => resolve({ bytes, length: res.headers["content-length"], error }));
        });
      });
      assert.equal(broken.length, "1000", "the origin's Content-Length is kept");
      assert.ok(broken.error || broken.bytes < 1000, "the client can tell the body is short");
      await new Promise((r) => setTimeout(r, 200));
      const next = await worker.fetch("/reset");
      assert.equal(next.body, "y".repeat(1000));
      assert.match(next.cacheStatus, /fwd=miss/);
      assert.equal(origin.count("/reset", "GET"), 2);
    } finally {
      await dispose();
    }
  });
});

describe("origin faults", () => {
  it("serves a stale entry under stale-if-error when the origin then refuses connections, and 502 once it may not", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory"] } });
    origin.on("/sie-down", { headers: { "cache-control": "max-age=1, stale-if-error=60", age: "2" }, body: "kept" });
    origin.on("/strict-down", { headers: { "cache-control": "max-age=1, must-revalidate, stale-if-error=60", age: "2", etag: '"s"' }, body: "strict" });
    try {
      await worker.fetchStored("/sie-down");
      await worker.fetchStored("/strict-down");
      await origin.close(); // its port now refuses connections
      const stale = await worker.fetch("/sie-down");
      assert.equal(stale.status, 200);
      assert.equal(stale.body, "kept");
      assert.equal(stale.cacheStatus, "edgecache; fwd=stale; detail=stale-if-error");
      const strict = await worker.fetch("/strict-down");
      assert.equal(strict.status, 502);
      assert.equal(strict.headers.get("cache-control"), "no-store");
      assert.equal(strict.cacheStatus, "edgecache; fwd=stale; detail=origin-unreachable");
      const miss = await worker.fetch("/never-stored");
      assert.equal(miss.status, 502);
    } finally {
      await dispose();
    }
  });

  it("passes a 5xx through without storing it when nothing stale may be used", async () => {
    const { origin, worker, dispose } = await setup({ config: { backends: ["memory", "cache"] } });
    origin.on("/five", (record, n) => (n === 1 ? { status: 503, headers: { "retry-after": "1" }, body: "busy" } : { headers: { "cache-control": "max-age=60" }, body: "back" }));
    try {
      const busy = await worker.fetch("/five");
      assert.equal(busy.status, 503);
      assert.equal(busy.body, "busy");
      assert.equal(busy.cacheStatus, "edgecache; fwd=miss; fwd-status=503; detail=uncacheable-status");
      const back = await worker.fetch("/five");
      assert.equal(back.status, 200);
      assert.equal(back.body, "back");
      assert.equal(origin.count("/five"), 2);
    } finally {
      await dispose();
    }
  });

  describe("bodies broken off mid-stream are stored in no tier", () => {
    const { origin } = withOrigin();
    let kvDir;
    before(() => {
      kvDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-faults-"));
    });
    after(() => fs.rmSync(kvDir, { recursive: true, force: true }));

    const full = "z".repeat(64 * 1024);
    const breaks = {
      "a chunked body reset": (res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "transfer-encoding": "chunked" });
        res.write("x".repeat(5000));
        setTimeout(() => res.socket.destroy(), 30);
      },
      "a chunked body closed without its last chunk": (res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "transfer-encoding": "chunked" });
        res.write("x".repeat(5000));
        setTimeout(() => res.socket.end(), 30);
      },
      "a Content-Length body closed cleanly short of its length": (res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
        res.write("x".repeat(1000));
        setTimeout(() => res.socket.end(), 30);
      },
    };
    for (const [name, broken] of Object.entries(breaks)) {
      it(name, async () => {
        const target = `/broken-${name.replace(/\W+/g, "-")}`;
        origin.onRaw(target, (req, res, record, n) => {
          if (n === 1) return broken(res);
          res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
          res.end(full);
        });
        const { worker } = await setup({ origin, kvPersist: kvDir, config: { backends: ["memory", "cache", "kv"] } });
        try {
          const first = await httpGet(worker.url, target);
          assert.equal(first.status, 200);
          assert.ok(first.error || first.body.length < full.length, "the client can tell the body is short");
          await sleep(300);
          assert.ok(worker.logs.some((l) => l.includes('"not-stored"') && l.includes('"body-error"')), "the break is logged");
          assert.ok(!worker.logs.some((l) => l.includes('"edgecache":"stored"') && l.includes(target)), "nothing was written");
          const next = await worker.fetch(target);
          assert.equal(next.body, full);
          assert.match(next.cacheStatus, /fwd=miss/);
          assert.equal(origin.count(target), 2);
          await worker.stored(target);
          assert.equal((await worker.fetch(target)).body, full, "the whole body is what is stored");
        } finally {
          await worker.dispose();
        }
      });
    }

    it("a client that hangs up mid-body: the stored copy is the origin's whole body, or nothing", async () => {
      const target = "/client-gone";
      const big = "w".repeat(256 * 1024);
      origin.onRaw(target, (req, res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(big.length) });
        let sent = 0;
        const tick = () => {
          if (sent >= big.length) return res.end();
          res.write(big.slice(sent, sent + 16 * 1024));
          sent += 16 * 1024;
          setTimeout(tick, 10);
        };
        tick();
      });
      const { worker } = await setup({ origin, kvPersist: kvDir, config: { backends: ["memory", "cache", "kv"] } });
      try {
        await new Promise((resolve) => {
          const req = http.get(new URL(target, worker.url), (res) => {
            res.once("data", () => {
              req.destroy();
              resolve();
            });
          });
          req.on("error", () => resolve());
        });
        await sleep(800);
        const next = await httpGet(worker.url, target);
        assert.equal(next.status, 200);
        assert.equal(next.body.length, big.length);
        assert.equal(next.body, big);
        if (next.headers["cache-status"].includes("; hit;")) assert.equal(origin.count(target), 1);
      } finally {
        await worker.dispose();
      }
    });

    it("a body that stalls: waiting requests give up after origin_timeout_ms, and only a whole body is kept", async () => {
      const target = "/stall";
      origin.onRaw(target, (req, res, record, n) => {
        if (n === 1) {
          res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
          res.write("x".repeat(100));
          setTimeout(() => res.socket.destroy(), 2500);
          return;
        }
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(full.length) });
        res.end(full);
      });
      const { worker } = await setup({ origin, config: { backends: ["memory"], origin_timeout_ms: 400 } });
      try {
        const stalled = httpGet(worker.url, target);
        await sleep(150);
        const waiter = await httpGet(worker.url, target);
        assert.equal(waiter.status, 200);
        assert.equal(waiter.body, full);
        assert.ok(waiter.ms < 2000, `the second request waited ${waiter.ms} ms, bounded by origin_timeout_ms, not the stall`);
        const first = await stalled;
        assert.ok(first.error || first.body.length < full.length);
        await sleep(200);
        const after = await httpGet(worker.url, target);
        assert.equal(after.body, full);
        assert.match(after.headers["cache-status"], /; hit;/, "the waiter's whole body was stored, the stalled one not");
        assert.equal(origin.count(target), 2);
      } finally {
        await worker.dispose();
      }
    });
  });
});
