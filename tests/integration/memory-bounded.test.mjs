// Memory bounded by what a request returns: 16 concurrent requests, full and ranged, on stored
// bodies of up to `max_body_bytes` grow the isolate by at most 32 MiB on every tier, whatever
// the body size. Measured two ways: through workerd's inspector (WebAssembly memory, which
// never shrinks, and the V8 heap), and as workerd's peak resident memory (`VmHWM`, reset
// before each burst through `/proc/<pid>/clear_refs`) over its resident memory before, which
// also counts the ArrayBuffers and stream buffers the inspector's heap figure leaves out.
//
// The process is the whole of workerd (Miniflare's storage simulators run in it too), so the
// figure is an upper bound on what the edgecache isolate grew by.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { withWorker } from "../support/fixture.mjs";
import { HOST } from "../support/worker.mjs";
import { inspect } from "../support/inspector.mjs";

const MiB = 1024 * 1024;
const TARGET = 32 * MiB;
const CONCURRENT = 16;
const TOKEN = "memory-bounded-token";

/** workerd processes that are children of this test process, by pid. */
function workerdChildren() {
  const pids = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      // `pid (comm) state ppid …`: comm may hold spaces, so split after its closing parenthesis.
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm.startsWith("workerd") && ppid === process.pid) pids.push(Number(name));
    } catch {
      // The process ended while being read.
    }
  }
  return pids;
}

/** `{ rss, hwm }` of process `pid`, in bytes. */
function residentMemory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)[1]) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** Resets the peak resident memory of `pid` to its resident memory now (Linux, own process). */
function resetPeak(pid) {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** A body of `size` bytes, the same for a given size, whose bytes differ along it. */
function bodyOf(size) {
  const bytes = Buffer.alloc(size);
  const block = crypto.createHash("sha512").update(String(size)).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(bytes, at);
    bytes.writeUInt32BE(at >>> 0, at);
  }
  return bytes;
}

/**
 * The 16 requests of a burst on a body of `size` bytes: four whole, twelve ranges of it (one
 * byte at either end, the middle, suffixes, and one range of all but the first byte).
 */
function requestsFor(size) {
  const middle = Math.floor(size / 2);
  const ranges = [
    "bytes=0-0",
    `bytes=${size - 1}-`,
    "bytes=-1",
    `bytes=${middle}-${middle + 1023}`,
    "bytes=0-65535",
    `bytes=${size - 4096}-${size - 1}`,
    "bytes=1000-1999",
    "bytes=-100",
    `bytes=${Math.floor(size / 4)}-${Math.floor(size / 4) + 99}`,
    "bytes=-65536",
    `bytes=${middle - 1}-${middle}`,
    "bytes=1-",
  ];
  return [null, ...ranges.slice(0, 4), null, ...ranges.slice(4, 8), null, ...ranges.slice(8), null];
}

/** The bytes `range` names of `body` (a single range, as `requestsFor` writes them). */
function expected(body, range) {
  const [first, last] = range.slice("bytes=".length).split("-");
  if (first === "") return body.subarray(body.length - Number(last));
  return body.subarray(Number(first), last === "" ? body.length : Number(last) + 1);
}

/**
 * Runs one tier's case: a worker whose route `/big/**` stores in `backends`, a body of `size`
 * bytes stored there, then 16 concurrent requests on it, checked byte for byte, with the
 * isolate's and the process's growth measured over them.
 */
function tierCase({ name, backends, size, config = {}, r2 = false, detail }) {
  // EDGECACHE_MEMORY_TIERS=kv,r2 runs only those tiers' cases.
  const only = process.env.EDGECACHE_MEMORY_TIERS?.split(",");
  (only && !only.includes(name) ? describe.skip : describe)(`memory bounded by what a request returns (${name})`, () => {
    const body = bodyOf(size);
    let pid;
    const { origin, worker } = withWorker(() => {
      return {
        inspectorPort: 0,
        bindings: { ADMIN_TOKEN: TOKEN },
        ...(r2 ? { r2Buckets: ["EDGECACHE_R2"] } : {}),
        config: {
          backends: ["memory"],
          max_body_bytes: size,
          request_log: "errors",
          stale_while_revalidate: 0,
          stale_if_error: 0,
          routes: [{ path: "/big/**", backends }],
          ...config,
        },
      };
    });
    let inspector;
    const before_ = new Set();
    before(() => {
      for (const p of workerdChildren()) before_.add(p);
    });
    before(async () => {
      origin.onRaw("/big/body.bin", (req, res) => {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length, "cache-control": "max-age=600", etag: '"v1"' });
        res.end(req.method === "HEAD" ? undefined : body);
      });
      inspector = await inspect(await worker.inspectorUrl());
      const started = workerdChildren().filter((p) => !before_.has(p));
      // The newest workerd child is this worker's (a suite before it has stopped its own).
      pid = Math.max(...(started.length ? started : workerdChildren()));
    });
    after(() => inspector?.close());

    it(`answers ${CONCURRENT} concurrent requests, whole and ranged, on a ${size / MiB} MiB stored body with the isolate growing by at most 32 MiB`, async () => {
      // The fill, measured for docs/storage.md (a fill's cost is the tier's, not the target's).
      const beforeFill = await inspector.measure();
      resetPeak(pid);
      const rssBeforeFill = residentMemory(pid).rss;
      const miss = await worker.mf.dispatchFetch(`${HOST}/big/body.bin`);
      assert.equal(Buffer.from(await miss.arrayBuffer()).length, size);
      await worker.stored("/big/body.bin", {}, 30_000);
      const fillPeak = residentMemory(pid).hwm - rssBeforeFill;
      const fillWasm = (await inspector.measure()).wasm - beforeFill.wasm;
      const probe = await worker.fetch("/big/body.bin", { headers: { range: "bytes=0-0" } });
      assert.match(probe.cacheStatus, new RegExp(`; hit;.*detail=${detail}`), "stored in the tier under test");
      // Warm-up: one of each kind, so the glue is compiled before the baseline.
      for (const range of [null, "bytes=0-0"]) {
        const response = await worker.mf.dispatchFetch(`${HOST}/big/body.bin`, range ? { headers: { range } } : {});
        await response.arrayBuffer();
      }

      const start = await inspector.measure();
      resetPeak(pid);
      const rssBefore = residentMemory(pid).rss;
      const requests = requestsFor(size);
      const answers = await Promise.all(
        requests.map(async (range) => {
          const response = await worker.mf.dispatchFetch(`${HOST}/big/body.bin`, range ? { headers: { range } } : {});
          const bytes = Buffer.from(await response.arrayBuffer());
          return { range, status: response.status, cacheStatus: response.headers.get("cache-status") ?? "", bytes };
        }),
      );
      const peak = residentMemory(pid).hwm - rssBefore;
      const end = await inspector.measure();
      const wasm = end.wasm - start.wasm;
      const heap = end.heap - start.heap;

      for (const { range, status, cacheStatus, bytes } of answers) {
        assert.match(cacheStatus, new RegExp(`; hit;.*detail=${detail}`), `${range ?? "full"}: a hit in ${name}`);
        if (range) {
          assert.equal(status, 206, range);
          assert.ok(bytes.equals(expected(body, range)), `${range}: the bytes asked for`);
        } else {
          assert.equal(status, 200);
          assert.equal(bytes.length, size);
          assert.ok(bytes.equals(body), "the whole body, byte for byte");
        }
      }
      assert.equal(origin.count("/big/body.bin", "GET"), 1, "the origin was asked once");
      const mib = (bytes) => `${bytes >= 0 ? "+" : ""}${(bytes / MiB).toFixed(1)} MiB`;
      const report = `${name}: ${CONCURRENT} concurrent requests on ${size / MiB} MiB: workerd peak ${mib(peak)}, WebAssembly memory ${mib(wasm)}, V8 heap ${mib(heap)} (the fill: workerd peak ${mib(fillPeak)}, WebAssembly memory ${mib(fillWasm)})`;
      if (process.env.EDGECACHE_TEST_LOGS || process.env.EDGECACHE_MEMORY_REPORT) console.log(report);
      assert.ok(wasm <= TARGET, report);
      assert.ok(peak <= TARGET, report);
    });
  });
}

tierCase({ name: "memory", backends: ["memory"], size: 8 * MiB, config: { memory_max_bytes: 48 * MiB }, detail: "memory" });
tierCase({ name: "cache", backends: ["cache"], size: 24 * MiB, detail: "cache" });
tierCase({ name: "kv", backends: ["kv"], size: 20 * MiB, detail: "kv" });
// 48 MiB keeps the suite near a minute; EDGECACHE_MEMORY_R2_MIB=96 measures a larger body.
tierCase({ name: "r2", backends: ["r2"], size: Number(process.env.EDGECACHE_MEMORY_R2_MIB ?? 48) * MiB, r2: true, detail: "r2" });
