// `make bench`: edgecache against the ceiling and the peers, in one run on this machine.
// Compare only within one runtime: raw `workerd serve` is closest to production CPU cost;
// the Cache API and KV exist locally only through Miniflare. Load comes from oha on loopback,
// bounded in time. Prints a table, the ratios and the Wasm size; then measures issue 17's
// targets in alternated rounds and prints each with its measured value and whether it holds.
// Writes bench/results/.
//
// `node bench/run.mjs --ab <git rev>` (make bench-ab BASE=<rev>) builds the worker at <rev> in a
// temporary git worktree under bench/.ab/ and measures it against the current build in
// alternated rounds: memory hit CPU, miss CPU, Cache API hit throughput, new/old each round.
import { spawn, execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, symlink, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { existsSync, readFileSync } from "node:fs";
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
// The alternated rounds: how many, and how long each load in them runs.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 4);

const argv = process.argv.slice(2);
const abAt = argv.indexOf("--ab");
const BASE = abAt >= 0 ? argv[abAt + 1] : undefined;
if (abAt >= 0 && !BASE) {
  console.error("usage: node bench/run.mjs [--ab <git rev>]");
  process.exit(2);
}
const startedAt = new Date();
const loadAtStart = os.loadavg();

/**
 * The worker built at `rev`, in bench/.ab/build-<commit>/: checked out in a temporary git
 * worktree (removed afterwards) and built there with that commit's own scripts/build-worker.sh,
 * into a cargo target directory of its own (target/bench-ab, kept, so that dependencies are
 * compiled once): cargo names a workspace's path packages by their path inside the workspace,
 * so in this tree's target directory the base's `edgecache-core` took the place of ours and the
 * next `make build` linked it, fresh by cargo's account. A build already there for the same
 * commit is reused.
 */
async function buildBase(rev) {
  const { stdout } = await run("git", ["-C", root, "rev-parse", "--verify", `${rev}^{commit}`]);
  const commit = stdout.trim();
  const abDir = path.join(root, "bench/.ab");
  const out = path.join(abDir, `build-${commit.slice(0, 12)}`);
  if (existsSync(path.join(out, "index.js")) && existsSync(path.join(out, "index_bg.wasm"))) {
    console.error(`base ${rev} (${commit.slice(0, 12)}): reusing ${path.relative(root, out)}`);
    return { rev, commit, out, built: false };
  }
  const tree = path.join(abDir, `tree-${commit.slice(0, 12)}`);
  await mkdir(abDir, { recursive: true });
  await run("git", ["-C", root, "worktree", "add", "--detach", "--force", tree, commit]);
  try {
    // The base's build script runs esbuild and wasm-opt from its node_modules: this tree's.
    await symlink(path.join(root, "node_modules"), path.join(tree, "node_modules"));
    // Inside this tree, cargo would take a base without a [workspace] of its own for a
    // member of ours: an empty one keeps it apart, as bench/noop-rs does.
    const manifest = path.join(tree, "Cargo.toml");
    const text = await readFile(manifest, "utf8");
    if (!/^\[workspace\]/m.test(text)) await writeFile(manifest, `${text}\n[workspace]\n`);
    console.error(`base ${rev} (${commit.slice(0, 12)}): building in ${path.relative(root, tree)}`);
    const env = { ...process.env, CARGO_TARGET_DIR: path.join(root, "target", "bench-ab") };
    await new Promise((resolve, reject) => {
      const build = spawn("scripts/build-worker.sh", [".", out], { cwd: tree, env, stdio: ["ignore", "inherit", "inherit"] });
      build.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`building ${rev} failed (exit ${code})`))));
      build.on("error", reject);
    });
  } finally {
    await unlink(path.join(tree, "node_modules")).catch(() => {});
    await run("git", ["-C", root, "worktree", "remove", "--force", tree]);
  }
  return { rev, commit, out, built: true };
}
const base = BASE ? await buildBase(BASE) : undefined;
const baseModules = base && [["index.js", "esModule", path.relative(root, path.join(base.out, "index.js"))], ["index_bg.wasm", "wasm", path.relative(root, path.join(base.out, "index_bg.wasm"))]];

const origin = await startOrigin();
const { counts } = origin;
const ORIGIN = origin.url;

const edgecacheConfig = (backends) => JSON.stringify({ backends, default_ttl: 600, ...(process.env.BENCH_LOG ? { request_log: process.env.BENCH_LOG } : {}) });

// ---- raw workerd: one process, one socket per worker ----
// edgecache's build, as raw workerd embeds it.
const edgecacheModules = () => [["index.js", "esModule", "build/index.js"], ["index_bg.wasm", "wasm", "build/index_bg.wasm"]];
const rawWorkers = {
  "js-noop": { modules: [["w.js", "esModule", "bench/workers/noop.js"]] },
  "rs-noop": { modules: [["index.js", "esModule", "bench/noop-rs/build/index.js"], ["index_bg.wasm", "wasm", "bench/noop-rs/build/index_bg.wasm"]] },
  "js-floor": { modules: [["w.js", "esModule", "bench/workers/floor.js"]], origin: true },
  "js-map": { modules: [["w.js", "esModule", "bench/workers/map.js"]], origin: true },
  "js-passthrough": { modules: [["w.js", "esModule", "bench/workers/passthrough.js"]], origin: true },
  "js-passthrough-status": { modules: [["w.js", "esModule", "bench/workers/passthrough-status.js"]], origin: true },
  "edgecache-memory": {
    modules: edgecacheModules(),
    origin: true,
    config: edgecacheConfig(["memory"]),
    control: true,
  },
  // BENCH_TAIL: the same worker with a log line for every hit too.
  ...(process.env.BENCH_TAIL ? { "edgecache-memory-logged": { modules: edgecacheModules(), origin: true, config: JSON.stringify({ backends: ["memory"], default_ttl: 600, request_log: "all" }), control: true } } : {}),
  ...(base ? { "edgecache-memory-base": { modules: baseModules, origin: true, config: edgecacheConfig(["memory"]), control: true } } : {}),
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
  const objects = w.control ? `, durableObjectNamespaces = [(className = "ControlPlane", uniqueKey = "edgecache-control-${name}", enableSql = true)], durableObjectStorage = (localDisk = "objects")` : "";
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
  ...(base ? { "edgecache-cache-base": { edgecache: ["cache"], build: base.out } } : {}),
};
const miniflares = {};
const esm = (file) => ({ type: "esm", contents: readFileSync(path.join(root, file), "utf8") });
for (const [name, w] of Object.entries(mfWorkers)) {
  const modules = w.script
    ? { "w.js": esm(w.script) }
    : { "index.js": esm(path.relative(root, path.resolve(root, w.build ?? "build", "index.js"))), "index_bg.wasm": { type: "wasm", contents: new Uint8Array(readFileSync(path.resolve(root, w.build ?? "build", "index_bg.wasm"))) } };
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

async function load(url, seconds = SECONDS, extra = []) {
  // Warm: fill caches and JITs before measuring.
  for (let i = 0; i < 20; i++) await (await fetch(url)).arrayBuffer();
  const { stdout } = await run(OHA, ["-z", `${seconds}s`, "-c", String(CONNECTIONS), "--no-tui", "--output-format", "json", ...extra, url], { maxBuffer: 64 << 20 });
  const out = JSON.parse(stdout);
  const statuses = out.statusCodeDistribution ?? {};
  return {
    requests: Object.values(statuses).reduce((a, b) => a + b, 0),
    rps: out.summary.requestsPerSec,
    p50: out.latencyPercentiles.p50 * 1000,
    p99: out.latencyPercentiles.p99 * 1000,
    p999: out.latencyPercentiles["p99.9"] * 1000,
    ok: Object.entries(statuses).every(([s]) => s === "200"),
  };
}

/**
 * One load of `url`, with the CPU time per request of the workerd process serving it: what
 * production bills (on raw workerd, where the process runs only the worker), and steadier
 * than req/s on a busy machine.
 */
async function sample(url, seconds = SECONDS) {
  await waitFor(url);
  const cpuBefore = await workerdCpuSeconds();
  const r = await load(url, seconds);
  const cpuUs = ((await workerdCpuSeconds()) - cpuBefore) * 1e6 / r.requests;
  return { ...r, cpuUs };
}

const rows = [];
// BENCH_ONLY=workerd:edgecache-memory,workerd:js-noop measures only those (for quick checks);
// BENCH_TARGETS_ONLY=1 only the alternated rounds of issue 17's targets; BENCH_TAIL=1 where the
// memory hit's latency tail comes from (see tail()).
const only = process.env.BENCH_ONLY?.split(",");
async function measure(runtime, name, url, what) {
  if (only && !only.includes(`${runtime}:${name}`)) return;
  const r = await sample(url);
  rows.push({ runtime, name, what, ...r });
  console.error(`${runtime.padEnd(10)} ${name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s${r.cpuUs ? `  ${r.cpuUs.toFixed(0)} µs CPU/request` : ""}`);
}

/**
 * Loads each of `entries` ({ key, url }) once per round for ROUNDS rounds of ROUND_SECONDS
 * each, in the given order in even rounds and reversed in odd ones, so that neither side of a
 * comparison is always first. Returns each key's samples, one per round.
 */
async function alternate(entries) {
  const samples = Object.fromEntries(entries.map((e) => [e.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...entries].reverse() : entries;
    for (const e of order) {
      const r = await sample(e.url, ROUND_SECONDS);
      samples[e.key].push(r);
      console.error(`round ${round + 1}/${ROUNDS} ${e.key.padEnd(30)} ${r.rps.toFixed(0).padStart(7)} req/s  ${r.cpuUs.toFixed(0).padStart(4)} µs CPU/request  p99 ${r.p99.toFixed(2)} ms${r.ok ? "" : "  (non-200 answers)"}`);
    }
  }
  return samples;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
const spread = (values) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
const loadavg = (l) => l.map((x) => x.toFixed(2)).join(", ");

const raw = (name) => `http://127.0.0.1:${rawPorts[name]}`;
try {
  if (base) {
    await abRounds();
  } else if (process.env.BENCH_TAIL) {
    await tail();
  } else if (process.env.BENCH_TARGETS_ONLY) {
    // Only the alternated rounds of issue 17's targets (for comparing settings such as BENCH_LOG).
    await targets();
  } else {
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
      if (ROUNDS > 0) await targets();
    }
  }
} finally {
  workerd.kill();
  for (const mf of Object.values(miniflares)) await mf.dispose();
  origin.close();
}

/**
 * Issue 17's targets, each from ROUNDS alternated rounds in this run: the ratio in each round,
 * its median and spread, and whether the median holds. Printed as a table at the very end.
 */
async function targets() {
  const samples = await alternate([
    { key: "workerd js-floor", url: `${raw("js-floor")}/hit` },
    { key: "workerd rs-noop", url: `${raw("rs-noop")}/` },
    { key: "workerd edgecache-memory", url: `${raw("edgecache-memory")}/hit` },
    { key: "workerd js-map", url: `${raw("js-map")}/hit` },
    { key: "workerd js-passthrough-status", url: `${raw("js-passthrough-status")}/private` },
    { key: "workerd edgecache-miss", url: `${raw("edgecache-memory")}/private` },
    { key: "miniflare js-cache-api", url: `${mfUrls["js-cache-api"]}/hit` },
    { key: "miniflare edgecache-cache", url: `${mfUrls["edgecache-cache"]}/hit` },
  ]);
  const of = (key, field) => samples[key].map((r) => r[field]);
  const defs = [
    { target: "memory hit CPU ≤ 1.15× the JS hit floor's (workerd, µs/request)", ours: of("workerd edgecache-memory", "cpuUs"), peer: of("workerd js-floor", "cpuUs"), limit: 1.15, atMost: true, unit: "µs" },
    { target: "miss CPU ≤ 1.35× the JS miss floor's (workerd, µs/request)", ours: of("workerd edgecache-miss", "cpuUs"), peer: of("workerd js-passthrough-status", "cpuUs"), limit: 1.35, atMost: true, unit: "µs" },
    { target: "Cache API hit ≥ 1.0× the JS Cache API worker's throughput (Miniflare, req/s)", ours: of("miniflare edgecache-cache", "rps"), peer: of("miniflare js-cache-api", "rps"), limit: 1.0, atMost: false, unit: "req/s" },
    { target: "memory-hit p99 ≤ 2× the JS Map worker's p99 (workerd, ms)", ours: of("workerd edgecache-memory", "p99"), peer: of("workerd js-map", "p99"), limit: 2.0, atMost: true, unit: "ms" },
  ];
  const fmt = (v, unit) => (unit === "ms" ? v.toFixed(2) : v.toFixed(0));
  const lines = [];
  lines.push(`Issue 17's targets: ${ROUNDS} alternated rounds, oha -z ${ROUND_SECONDS}s -c ${CONNECTIONS} each; each ratio taken within a round, then the median and the spread over rounds.`);
  lines.push("");
  lines.push(`| target | measured (median) | floor/peer (median) | ratio (median) | ratio per round | holds |`);
  lines.push(`|---|---:|---:|---:|---|---|`);
  const verdicts = [];
  for (const d of defs) {
    const ratios = d.ours.map((v, i) => v / d.peer[i]);
    const m = median(ratios);
    const holds = d.atMost ? m <= d.limit : m >= d.limit;
    verdicts.push({ target: d.target, ours: d.ours, peer: d.peer, ratios, median: m, limit: d.limit, holds });
    lines.push(`| ${d.target} | ${fmt(median(d.ours), d.unit)} | ${fmt(median(d.peer), d.unit)} | ${m.toFixed(2)} | ${ratios.map((r) => r.toFixed(2)).join(", ")} | ${holds ? "yes" : "**no**"} |`);
  }
  // Not a target: what a workers-rs worker costs before it does anything (a constant
  // response, no lookup), against the same JS hit floor: the part of the memory hit's ratio
  // that the toolchain itself takes.
  const context = of("workerd rs-noop", "cpuUs").map((v, i) => v / of("workerd js-floor", "cpuUs")[i]);
  lines.push("");
  lines.push(`Context: a workers-rs constant response (no lookup, no fields) takes ${median(of("workerd rs-noop", "cpuUs")).toFixed(0)} µs, ${median(context).toFixed(2)}× the JS hit floor's CPU (per round: ${context.map((r) => r.toFixed(2)).join(", ")}).`);
  lines.push("");
  lines.push(`Load average ${loadavg(loadAtStart)} at the start, ${loadavg(os.loadavg())} at the end; ${((Date.now() - startedAt) / 60000).toFixed(1)} min in all.`);
  const table = lines.join("\n");
  console.log("\n" + table);
  await writeFile(path.join(results, "targets.md"), table + "\n");
  await writeFile(path.join(results, "targets.json"), JSON.stringify({ rounds: ROUNDS, seconds: ROUND_SECONDS, samples, verdicts }, null, 2));
}

/**
 * The A/B run: the worker built at BASE against this tree's, in ROUNDS alternated rounds in one
 * process of each runtime. Prints every round's values and new/base ratios, then their medians
 * and spreads.
 */
async function abRounds() {
  const metrics = [
    { name: "memory hit CPU µs/request (workerd)", key: "hit", url: (w) => `${raw(w === "new" ? "edgecache-memory" : "edgecache-memory-base")}/hit`, field: "cpuUs", digits: 0 },
    { name: "memory hit p99 ms (workerd)", key: "hit", field: "p99", digits: 2 },
    { name: "miss CPU µs/request (workerd)", key: "miss", url: (w) => `${raw(w === "new" ? "edgecache-memory" : "edgecache-memory-base")}/private`, field: "cpuUs", digits: 0 },
    { name: "Cache API hit req/s (Miniflare)", key: "cache", url: (w) => `${mfUrls[w === "new" ? "edgecache-cache" : "edgecache-cache-base"]}/hit`, field: "rps", digits: 0 },
    { name: "Cache API hit CPU µs/request (Miniflare process)", key: "cache", field: "cpuUs", digits: 0 },
  ];
  const entries = [];
  for (const m of metrics) if (m.url) for (const w of ["base", "new"]) entries.push({ key: `${m.key} ${w}`, url: m.url(w) });
  const samples = await alternate(entries);
  const lines = [];
  lines.push(`A/B: base ${base.rev} (${base.commit.slice(0, 12)}) against this tree (${await headDescription()}), ${ROUNDS} alternated rounds of oha -z ${ROUND_SECONDS}s -c ${CONNECTIONS} each.`);
  lines.push("");
  lines.push(`| metric | round | base | new | new/base |`);
  lines.push(`|---|---:|---:|---:|---:|`);
  const summary = [];
  for (const m of metrics) {
    const b = samples[`${m.key} base`].map((r) => r[m.field]);
    const n = samples[`${m.key} new`].map((r) => r[m.field]);
    const ratios = n.map((v, i) => v / b[i]);
    b.forEach((v, i) => lines.push(`| ${m.name} | ${i + 1} | ${v.toFixed(m.digits)} | ${n[i].toFixed(m.digits)} | ${ratios[i].toFixed(2)} |`));
    summary.push({ metric: m.name, base: b, new: n, ratios, median: median(ratios) });
  }
  lines.push("");
  lines.push(`| metric | base (median) | new (median) | new/base (median) | new/base spread |`);
  lines.push(`|---|---:|---:|---:|---|`);
  for (const [i, s] of summary.entries()) lines.push(`| ${s.metric} | ${median(s.base).toFixed(metrics[i].digits)} | ${median(s.new).toFixed(metrics[i].digits)} | ${s.median.toFixed(2)} | ${spread(s.ratios)} |`);
  lines.push("");
  lines.push(`CPU and p99: lower is better; req/s: higher is better. Load average ${loadavg(loadAtStart)} at the start, ${loadavg(os.loadavg())} at the end; ${((Date.now() - startedAt) / 60000).toFixed(1)} min in all (${base.built ? "with" : "without: reused"} the base's build).`);
  const table = lines.join("\n");
  console.log("\n" + table);
  await writeFile(path.join(results, "ab.md"), table + "\n");
  await writeFile(path.join(results, "ab.json"), JSON.stringify({ base, rounds: ROUNDS, seconds: ROUND_SECONDS, samples, summary }, null, 2));
}

/**
 * BENCH_TAIL=1: where the memory hit's p99 comes from. Alternated rounds of the JS Map worker,
 * edgecache's memory hit without a log line (request_log "misses", the default) and with one
 * ("all"); then one BENCH_TAIL_SECONDS (25) load of each with every request kept (oha
 * --db-url), to see whether the slowest 1 % cluster in time (a stats report every 10 s, a
 * major GC) or spread out (queueing behind other work on the machine).
 */
async function tail() {
  const workers = { "js-map": raw("js-map"), "edgecache (log misses)": raw("edgecache-memory"), "edgecache (log all)": raw("edgecache-memory-logged") };
  const samples = await alternate(Object.entries(workers).map(([key, url]) => ({ key, url: `${url}/hit` })));
  const lines = [];
  lines.push(`Memory-hit tail: ${ROUNDS} alternated rounds, oha -z ${ROUND_SECONDS}s -c ${CONNECTIONS} each (medians over rounds).`);
  lines.push("");
  lines.push(`| worker | req/s | CPU µs/request | p50 ms | p99 ms | p99.9 ms | p99 / JS Map's p99 per round |`);
  lines.push(`|---|---:|---:|---:|---:|---:|---|`);
  for (const [key, s] of Object.entries(samples)) {
    const m = (f) => median(s.map((r) => r[f]));
    const perRound = s.map((r, i) => (r.p99 / samples["js-map"][i].p99).toFixed(2)).join(", ");
    lines.push(`| ${key} | ${m("rps").toFixed(0)} | ${m("cpuUs").toFixed(0)} | ${m("p50").toFixed(2)} | ${m("p99").toFixed(2)} | ${m("p999").toFixed(2)} | ${perRound} |`);
  }
  const seconds = Number(process.env.BENCH_TAIL_SECONDS ?? 25);
  const { DatabaseSync } = await import("node:sqlite");
  lines.push("");
  lines.push(`Every request of one ${seconds} s load each: where the slowest 1 % fall, by second of the run.`);
  lines.push("");
  lines.push(`| worker | requests | p99 ms | slowest 1 %: seconds they fall in | share in the 3 busiest seconds | the 3 busiest seconds (count) |`);
  lines.push(`|---|---:|---:|---:|---:|---|`);
  for (const [key, url] of Object.entries(workers)) {
    const file = path.join(results, `tail-${key.replace(/\W+/g, "-")}.db`);
    await rm(file, { force: true });
    await load(`${url}/hit`, seconds, ["--db-url", file]);
    const db = new DatabaseSync(file);
    const all = db.prepare("SELECT start, duration FROM oha ORDER BY duration").all();
    db.close();
    // A loop, not Math.min(...): an idle machine makes more requests than a call has room for.
    const t0 = all.reduce((least, r) => Math.min(least, r.start), Infinity);
    const slow = all.slice(Math.floor(all.length * 0.99));
    const bySecond = new Map();
    for (const r of slow) {
      const s = Math.floor(r.start - t0);
      bySecond.set(s, (bySecond.get(s) ?? 0) + 1);
    }
    const busiest = [...bySecond].sort((a, b) => b[1] - a[1]).slice(0, 3);
    const share = busiest.reduce((a, [, n]) => a + n, 0) / slow.length;
    lines.push(`| ${key} | ${all.length} | ${(slow[0].duration * 1000).toFixed(2)} | ${bySecond.size} of ${seconds} | ${(100 * share).toFixed(0)} % | ${busiest.map(([s, n]) => `${s} s (${n})`).join(", ")} |`);
  }
  lines.push("");
  lines.push(`Load average ${loadavg(loadAtStart)} at the start, ${loadavg(os.loadavg())} at the end.`);
  const table = lines.join("\n");
  console.log("\n" + table);
  await writeFile(path.join(results, "tail.md"), table + "\n");
}

async function headDescription() {
  const { stdout } = await run("git", ["-C", root, "describe", "--always", "--dirty"]);
  return stdout.trim();
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
