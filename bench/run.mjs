// `make bench`: edgecache against the ceiling and the peers, in one run on this machine.
// Compare only within one runtime: raw `workerd serve` is closest to production CPU cost;
// the Cache API and KV exist locally only through Miniflare. Load comes from oha on loopback,
// bounded in time. Prints a table, the ratios and the Wasm size; writes bench/results/.
import { spawn, execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { readFileSync } from "node:fs";
import { Miniflare } from "miniflare";
import workerdPackage from "workerd";
import { startOrigin } from "./origin.mjs";
import { COMPATIBILITY_DATE, controlPlane, plainBindings } from "../tests/support/worker.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const results = path.join(root, "bench/results");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const OHA = process.env.OHA ?? "oha";
// The workerd binary Miniflare runs, for this OS and CPU.
const WORKERD = workerdPackage.default;
const DATE = COMPATIBILITY_DATE;

const origin = await startOrigin();
const { counts } = origin;
const ORIGIN = origin.url;

const edgecacheConfig = (backends) => JSON.stringify({ backends, default_ttl: 600, ...(process.env.BENCH_LOG ? { request_log: process.env.BENCH_LOG } : {}) });

// ---- raw workerd: one process, one socket per worker ----
const rawWorkers = {
  "js-noop": { modules: [["w.js", "esModule", "bench/workers/noop.js"]] },
  "rs-noop": { modules: [["index.js", "esModule", "bench/noop-rs/build/index.js"], ["index_bg.wasm", "wasm", "bench/noop-rs/build/index_bg.wasm"]] },
  "js-floor": { modules: [["w.js", "esModule", "bench/workers/floor.js"]], origin: true },
  "js-map": { modules: [["w.js", "esModule", "bench/workers/map.js"]], origin: true },
  "js-passthrough": { modules: [["w.js", "esModule", "bench/workers/passthrough.js"]], origin: true },
  "js-passthrough-status": { modules: [["w.js", "esModule", "bench/workers/passthrough-status.js"]], origin: true },
  "edgecache-memory": {
    modules: [["index.js", "esModule", "build/index.js"], ["index_bg.wasm", "wasm", "build/index_bg.wasm"]],
    origin: true,
    config: edgecacheConfig(["memory"]),
    control: true,
  },
};
const rawPorts = {};
let port = 9300;
const services = [];
const sockets = [];
for (const [name, w] of Object.entries(rawWorkers)) {
  rawPorts[name] = ++port;
  const modules = w.modules.map(([m, kind, file]) => `(name = "${m}", ${kind} = embed "${path.relative(results, path.join(root, file))}")`).join(", ");
  const bindings = [];
  if (w.origin) bindings.push(`(name = "ORIGIN", text = "${ORIGIN}")`);
  if (w.config) bindings.push(`(name = "EDGECACHE", json = ${JSON.stringify(w.config)})`);
  // edgecache's control plane: its Durable Object, with SQLite storage in bench/results/objects.
  if (w.control) bindings.push(`(name = "EDGECACHE_CONTROL", durableObjectNamespace = (className = "ControlPlane"))`);
  const objects = w.control ? `, durableObjectNamespaces = [(className = "ControlPlane", uniqueKey = "edgecache-control", enableSql = true)], durableObjectStorage = (localDisk = "objects")` : "";
  services.push(`(name = "${name}", worker = (modules = [${modules}], compatibilityDate = "${DATE}", bindings = [${bindings.join(", ")}]${objects}, globalOutbound = "net"))`);
  sockets.push(`(name = "${name}", address = "127.0.0.1:${port}", http = (), service = "${name}")`);
}
services.push(`(name = "net", network = (allow = ["public", "private", "local"]))`);
// The control plane's SQLite files, made anew each run.
const objects = path.join(results, "objects");
await rm(objects, { recursive: true, force: true });
await mkdir(objects, { recursive: true });
services.push(`(name = "objects", disk = (path = "${objects}", writable = true))`);
await mkdir(results, { recursive: true });
const capnp = path.join(results, "workerd.capnp");
await writeFile(capnp, `using Workerd = import "/workerd/workerd.capnp";\nconst config :Workerd.Config = (\n  services = [${services.join(",\n    ")}],\n  sockets = [${sockets.join(",\n    ")}]\n);\n`);
const workerd = spawn(WORKERD, ["serve", capnp, "--experimental"], { stdio: ["ignore", "ignore", "inherit"] });

// ---- Miniflare: the same and the storage-backed workers ----
const mfWorkers = {
  "js-noop": { script: "bench/workers/noop.js" },
  "js-cache-api": { script: "bench/workers/cache-api.js" },
  "js-map": { script: "bench/workers/map.js" },
  "js-passthrough": { script: "bench/workers/passthrough.js" },
  "edgecache-memory": { edgecache: ["memory"] },
  "edgecache-cache": { edgecache: ["cache"] },
  "edgecache-kv": { edgecache: ["kv"] },
};
const miniflares = {};
const esm = (file) => ({ type: "esm", contents: readFileSync(path.join(root, file), "utf8") });
for (const [name, w] of Object.entries(mfWorkers)) {
  const modules = w.script
    ? { "w.js": esm(w.script) }
    : { "index.js": esm("build/index.js"), "index_bg.wasm": { type: "wasm", contents: new Uint8Array(readFileSync(path.join(root, "build/index_bg.wasm"))) } };
  const vars = w.script ? { ORIGIN } : { ORIGIN, EDGECACHE: JSON.parse(edgecacheConfig(w.edgecache)) };
  miniflares[name] = new Miniflare({
    handleStructuredLogs: () => {},
    enableDevRegistry: false,
    cf: false,
    workers: [
      {
        config: {
          name,
          compatibilityDate: DATE,
          manifest: { mainModule: Object.keys(modules)[0], modules },
          // edgecache's control plane: its Durable Object, with SQLite storage.
          ...(w.script ? {} : { exports: controlPlane.exports }),
          env: { EDGECACHE_KV: { type: "kv", id: "EDGECACHE_KV" }, ...(w.script ? {} : controlPlane.binding(name)), ...plainBindings(vars) },
        },
        dev: { cacheAPI: true },
      },
    ],
  });
}
const mfUrls = {};
for (const [name, mf] of Object.entries(miniflares)) mfUrls[name] = (await mf.ready).toString().replace(/\/$/, "");

async function waitFor(url) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never answered`);
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc. */
async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/**
 * CPU seconds used so far by every workerd this bench started: the raw one and one per
 * Miniflare instance. Only the one under load does work during a row, so the difference
 * across a row is that worker's cost (in Miniflare, with its Cache API or KV service, which
 * runs in the same process).
 */
async function workerdCpuSeconds() {
  let total = 0;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) total += await cpuSeconds(entry);
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

async function load(url) {
  // Warm: fill caches and JITs before measuring.
  for (let i = 0; i < 20; i++) await (await fetch(url)).arrayBuffer();
  const { stdout } = await run(OHA, ["-z", `${SECONDS}s`, "-c", String(CONNECTIONS), "--no-tui", "--output-format", "json", url], { maxBuffer: 64 << 20 });
  const out = JSON.parse(stdout);
  const statuses = out.statusCodeDistribution ?? {};
  return {
    requests: Object.values(statuses).reduce((a, b) => a + b, 0),
    rps: out.summary.requestsPerSec,
    p50: out.latencyPercentiles.p50 * 1000,
    p99: out.latencyPercentiles.p99 * 1000,
    ok: Object.entries(statuses).every(([s]) => s === "200"),
  };
}

const rows = [];
// BENCH_ONLY=workerd:edgecache-memory,workerd:js-noop measures only those (for quick checks).
const only = process.env.BENCH_ONLY?.split(",");
async function measure(runtime, name, url, what) {
  if (only && !only.includes(`${runtime}:${name}`)) return;
  await waitFor(url);
  // The CPU time per request of the workerd process serving the row: what production bills
  // (on raw workerd, where the process runs only the worker), and steadier than req/s on a
  // busy machine.
  const cpuBefore = await workerdCpuSeconds();
  const r = await load(url);
  const cpuUs = ((await workerdCpuSeconds()) - cpuBefore) * 1e6 / r.requests;
  rows.push({ runtime, name, what, ...r, cpuUs });
  console.error(`${runtime.padEnd(10)} ${name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s${cpuUs ? `  ${cpuUs.toFixed(0)} µs CPU/request` : ""}`);
}

try {
  const raw = (name) => `http://127.0.0.1:${rawPorts[name]}`;
  await measure("workerd", "js-noop", `${raw("js-noop")}/`, "constant JS response");
  await measure("workerd", "rs-noop", `${raw("rs-noop")}/`, "constant workers-rs response");
  await measure("workerd", "js-floor", `${raw("js-floor")}/hit`, "JS hit floor: stored response rebuilt, no lookup");
  await measure("workerd", "js-map", `${raw("js-map")}/hit`, "JS Map hit");
  await measure("workerd", "edgecache-memory", `${raw("edgecache-memory")}/hit`, "edgecache memory hit");
  await measure("workerd", "js-passthrough", `${raw("js-passthrough")}/private`, "JS pass-through (miss)");
  await measure("workerd", "js-passthrough-status", `${raw("js-passthrough-status")}/private`, "JS miss floor: pass-through + Cache-Status");
  await measure("workerd", "edgecache-miss", `${raw("edgecache-memory")}/private`, "edgecache miss (unstorable)");

  await measure("miniflare", "js-noop", `${mfUrls["js-noop"]}/`, "constant JS response");
  await measure("miniflare", "js-cache-api", `${mfUrls["js-cache-api"]}/hit`, "JS Cache API hit");
  await measure("miniflare", "js-map", `${mfUrls["js-map"]}/hit`, "JS Map hit");
  await measure("miniflare", "edgecache-memory", `${mfUrls["edgecache-memory"]}/hit`, "edgecache memory hit");
  await measure("miniflare", "edgecache-cache", `${mfUrls["edgecache-cache"]}/hit`, "edgecache Cache API hit");
  await measure("miniflare", "edgecache-cache-novary", `${mfUrls["edgecache-cache"]}/novary-hit`, "edgecache Cache API hit, no Vary");
  await measure("miniflare", "edgecache-kv", `${mfUrls["edgecache-kv"]}/hit`, "edgecache KV hit");
  await measure("miniflare", "js-passthrough", `${mfUrls["js-passthrough"]}/private`, "JS pass-through (miss)");
  await measure("miniflare", "edgecache-miss", `${mfUrls["edgecache-memory"]}/private`, "edgecache miss (unstorable)");

  if (only) {
    for (const r of rows) console.log(`${r.runtime} ${r.name} ${r.rps.toFixed(0)} req/s p50 ${r.p50.toFixed(2)} ms${r.cpuUs ? ` cpu ${r.cpuUs.toFixed(0)} µs/request` : ""}${r.ok ? "" : " (non-200 answers)"}`);
  } else {
    await report();
  }
} finally {
  workerd.kill();
  for (const mf of Object.values(miniflares)) await mf.dispose();
  origin.close();
}

async function report() {
  // The stampede: 200 concurrent requests for one cold URL.
  const before = counts.get("/slow") ?? 0;
  await Promise.all(Array.from({ length: 200 }, async () => (await fetch(`${mfUrls["edgecache-memory"]}/slow`)).arrayBuffer()));
  const stampede = (counts.get("/slow") ?? 0) - before;

  const find = (runtime, name) => rows.find((r) => r.runtime === runtime && r.name === name);
  const ratio = (a, b) => a.rps / b.rps;
  const ratios = [
    ["workerd: edgecache memory hit / JS no-op", ratio(find("workerd", "edgecache-memory"), find("workerd", "js-noop")), "≥ 0.9"],
    ["workerd: edgecache memory hit / workers-rs no-op", ratio(find("workerd", "edgecache-memory"), find("workerd", "rs-noop")), ""],
    ["workerd: edgecache memory hit / JS hit floor", ratio(find("workerd", "edgecache-memory"), find("workerd", "js-floor")), ""],
    ["workerd: JS hit floor / JS no-op", ratio(find("workerd", "js-floor"), find("workerd", "js-noop")), ""],
    ["workerd: edgecache memory hit / JS Map hit", ratio(find("workerd", "edgecache-memory"), find("workerd", "js-map")), ""],
    ["workerd: JS pass-through / edgecache miss (miss overhead)", ratio(find("workerd", "js-passthrough"), find("workerd", "edgecache-miss")), "≤ 1.10"],
    ["workerd: JS pass-through / JS miss floor (overhead of adding Cache-Status)", ratio(find("workerd", "js-passthrough"), find("workerd", "js-passthrough-status")), ""],
    ["workerd: JS miss floor / edgecache miss", ratio(find("workerd", "js-passthrough-status"), find("workerd", "edgecache-miss")), ""],
    ["miniflare: edgecache memory hit / JS no-op", ratio(find("miniflare", "edgecache-memory"), find("miniflare", "js-noop")), "≥ 0.9"],
    ["miniflare: edgecache memory hit / JS Cache API hit", ratio(find("miniflare", "edgecache-memory"), find("miniflare", "js-cache-api")), "≥ 1.2"],
    ["miniflare: edgecache Cache API hit / JS Cache API hit", ratio(find("miniflare", "edgecache-cache"), find("miniflare", "js-cache-api")), "≥ 1.0"],
    ["miniflare: edgecache Cache API hit without Vary / JS Cache API hit", ratio(find("miniflare", "edgecache-cache-novary"), find("miniflare", "js-cache-api")), "≥ 1.0"],
    ["miniflare: edgecache KV hit / JS Cache API hit", ratio(find("miniflare", "edgecache-kv"), find("miniflare", "js-cache-api")), ""],
    ["miniflare: JS pass-through / edgecache miss (miss overhead)", ratio(find("miniflare", "js-passthrough"), find("miniflare", "edgecache-miss")), "≤ 1.10"],
  ];
  const wasm = await readFile(path.join(root, "build/index_bg.wasm"));
  const gz = zlib.gzipSync(wasm, { level: 9 }).length;

  const lines = [];
  lines.push(`| runtime | worker | what | req/s | p50 ms | p99 ms | workerd CPU µs/request |`);
  lines.push(`|---|---|---|---:|---:|---:|---:|`);
  for (const r of rows) lines.push(`| ${r.runtime} | ${r.name} | ${r.what} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuUs ? r.cpuUs.toFixed(0) : ""} |${r.ok ? "" : " (non-200 answers)"}`);
  lines.push("");
  lines.push(`| ratio | value | target |`);
  lines.push(`|---|---:|---|`);
  for (const [name, value, target] of ratios) lines.push(`| ${name} | ${value.toFixed(2)} | ${target} |`);
  lines.push("");
  lines.push(`Stampede: 200 concurrent requests for one cold URL reached the origin ${stampede} time(s).`);
  lines.push(`Wasm: ${wasm.length} bytes raw, ${gz} bytes gzipped.`);
  lines.push(`oha -z ${SECONDS}s -c ${CONNECTIONS} on loopback, one run, ${new Date().toISOString()}.`);
  const report = lines.join("\n");
  console.log(report);
  await writeFile(path.join(results, "latest.md"), report + "\n");
  await writeFile(path.join(results, "latest.json"), JSON.stringify({ rows, ratios, stampede, wasm: { raw: wasm.length, gzip: gz } }, null, 2));
}
