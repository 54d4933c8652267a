// `make perf`: where the whole workerd process's CPU goes, for edgecache against the JS floor
// it is measured against, from Linux `perf` (the Debian package `linux-perf`; not needed by
// anything else). V8's sampling profiler (`make profile`) sees only the JavaScript thread, and
// the inspector it needs makes asynchronous work dearer than it is; `perf` samples every
// thread of a workerd that runs as in `make bench`, with no inspector.
//
// For each pair (the memory hit against the JS hit floor, the miss against the JS miss floor, on
// raw workerd; the Cache API hit against the JS Cache API worker, each in its own Miniflare,
// whose workerd also runs the local Cache API) it loads each side with oha while `perf record` samples the process, then prints the CPU per
// request in each part of the runtime (V8, its code compiled from our Wasm and JavaScript,
// the runtime's bindings, Headers, allocation, the HTTP stack, the kernel) for both sides and
// the difference, and the symbols that differ most.
//
//   PERF_SECONDS=6 make perf
import { spawn, execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import workerdPackage from "workerd";
import { Miniflare } from "miniflare";
import { startOrigin } from "./origin.mjs";
import { COMPATIBILITY_DATE, controlPlane, plainBindings } from "../tests/support/worker.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const results = path.join(root, "bench/results/perf");
const WORKERD = workerdPackage.default;
const OHA = process.env.OHA ?? "oha";
const SECONDS = Number(process.env.PERF_SECONDS ?? 6);
const HZ = 2999;

try {
  await run("perf", ["--version"]);
} catch {
  console.error("make perf needs Linux perf (Debian: apt-get install linux-perf).");
  process.exit(2);
}

const origin = await startOrigin();
await rm(results, { recursive: true, force: true });
await mkdir(path.join(results, "objects"), { recursive: true });
const embed = (file) => path.relative(results, path.join(root, file));
const js = (file) => `modules = [(name = "w.js", esModule = embed "${embed(`bench/workers/${file}`)}")]`;
const workers = {
  edgecache: `modules = [(name = "index.js", esModule = embed "${embed("build/index.js")}"), (name = "index_bg.wasm", wasm = embed "${embed("build/index_bg.wasm")}")], bindings = [(name = "ORIGIN", text = "${origin.url}"), (name = "EDGECACHE", json = ${JSON.stringify(JSON.stringify({ backends: ["memory"], default_ttl: 600 }))}), (name = "EDGECACHE_CONTROL", durableObjectNamespace = (className = "ControlPlane"))], durableObjectNamespaces = [(className = "ControlPlane", uniqueKey = "edgecache-control", enableSql = true)], durableObjectStorage = (localDisk = "objects")`,
  "js-floor": `${js("floor.js")}, bindings = [(name = "ORIGIN", text = "${origin.url}")]`,
  "js-passthrough-status": `${js("passthrough-status.js")}, bindings = [(name = "ORIGIN", text = "${origin.url}")]`,
};
const ports = {};
let port = 9400;
const services = Object.entries(workers).map(([name, body]) => {
  ports[name] = ++port;
  return `(name = "${name}", worker = (${body}, compatibilityDate = "${COMPATIBILITY_DATE}", globalOutbound = "net"))`;
});
services.push(`(name = "objects", disk = (path = "${path.join(results, "objects")}", writable = true))`);
services.push(`(name = "net", network = (allow = ["public", "private", "local"]))`);
const sockets = Object.keys(workers).map((name) => `(name = "${name}", address = "127.0.0.1:${ports[name]}", http = (), service = "${name}")`);
const capnp = path.join(results, "workerd.capnp");
await writeFile(capnp, `using Workerd = import "/workerd/workerd.capnp";\nconst config :Workerd.Config = (\n  services = [${services.join(",\n    ")}],\n  sockets = [${sockets.join(",\n    ")}]\n);\n`);
const workerd = spawn(WORKERD, ["serve", capnp, "--experimental"], { stdio: ["ignore", "ignore", "inherit"] });

/** oha's load of `url` for `seconds`: requests made and per second; every answer must be a 200. */
async function load(url, seconds) {
  const { stdout } = await run(OHA, ["-z", `${seconds}s`, "-c", "16", "--no-tui", "--output-format", "json", url], { maxBuffer: 64 << 20 });
  const out = JSON.parse(stdout);
  const statuses = Object.entries(out.statusCodeDistribution ?? {});
  if (statuses.length === 0 || statuses.some(([status]) => status !== "200")) throw new Error(`${url}: answers ${JSON.stringify(statuses)}`);
  return { requests: statuses.reduce((n, [, count]) => n + count, 0), rps: out.summary.requestsPerSec };
}

/** The workerd processes this script started (the raw one, one per Miniflare). */
async function workerdChildren() {
  const pids = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (comm === "workerd" && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid) pids.push(Number(entry));
  }
  return pids;
}

/** `script` (a JS worker) or edgecache on the Cache API, alone in a Miniflare: its URL and workerd. */
async function miniflare(name, script) {
  const before = await workerdChildren();
  const esm = (file) => ({ type: "esm", contents: readFileSync(path.join(root, file), "utf8") });
  const modules = script
    ? { "w.js": esm(script) }
    : { "index.js": esm("build/index.js"), "index_bg.wasm": { type: "wasm", contents: new Uint8Array(readFileSync(path.join(root, "build/index_bg.wasm"))) } };
  const vars = script ? { ORIGIN: origin.url } : { ORIGIN: origin.url, EDGECACHE: { backends: ["cache"], default_ttl: 600 } };
  const mf = new Miniflare({
    handleStructuredLogs: () => {},
    enableDevRegistry: false,
    cf: false,
    workers: [{ config: { name, compatibilityDate: COMPATIBILITY_DATE, manifest: { mainModule: Object.keys(modules)[0], modules }, ...(script ? {} : { exports: controlPlane.exports }), env: { ...(script ? {} : controlPlane.binding(name)), ...plainBindings(vars) } }, dev: { cacheAPI: true } }],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const pid = (await workerdChildren()).find((p) => !before.includes(p));
  return { mf, url, pid };
}

/** Samples per symbol ("dso symbol") while `url` is under load, and the requests made. */
async function record(name, url, pid = workerd.pid) {
  await load(url, 2); // warm: Wasm compiled and tiered up, the entry stored
  const data = path.join(results, `${name}.data`);
  const perf = spawn("perf", ["record", "-e", "cpu-clock", "-F", String(HZ), "-p", String(pid), "-o", data], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 300));
  const { requests, rps } = await load(url, SECONDS);
  perf.kill("SIGINT");
  await new Promise((r) => perf.on("exit", r));
  const { stdout } = await run("perf", ["report", "-i", data, "--no-children", "--sort", "dso,sym", "-g", "none", "-n", "--stdio"], { maxBuffer: 256 << 20 });
  const samples = new Map();
  for (const line of stdout.split("\n")) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(.*)$/.exec(line);
    if (m) samples.set(m[2].replace(/\s+/g, " ").trim(), Number(m[1]));
  }
  return { samples, requests, rps };
}

// Where a symbol belongs; the first rule that matches wins.
const PARTS = [
  ["our Wasm and JS (V8-compiled)", /\[JIT\]/],
  ["kernel", /\[kernel/],
  ["allocation (tcmalloc)", /tcmalloc|TCMalloc/],
  ["V8 garbage collection", /v8::internal::Heap|Scavenge|Marking|cppgc::internal::(Sweep|Mark)|MinorMS/],
  ["V8 Wasm support", /Wasm|wasm/],
  ["V8 builtins", /Builtins_/],
  ["runtime bindings (jsg)", /jsg::/],
  ["Headers", /Headers|HeaderKey|HttpHeaderTable/],
  ["HTTP stack (hyper, tokio, kj-http)", /hyper|tokio|http::|kj::Http|kj_hyper/],
  ["kj event loop and strings", /kj::/],
  ["V8 other", /v8::/],
  ["runtime other (workerd)", /workerd::/],
  ["libc", /libc/],
];
const partOf = (symbol) => (PARTS.find(([, re]) => re.test(symbol)) ?? ["other"])[0];
const usPerSample = 1e6 / HZ;

function compare(title, ours, floor) {
  const per = (side, symbol) => ((side.samples.get(symbol) ?? 0) * usPerSample) / side.requests;
  const parts = new Map();
  for (const [side, key] of [[ours, 0], [floor, 1]]) {
    for (const symbol of side.samples.keys()) {
      const part = partOf(symbol);
      const row = parts.get(part) ?? [0, 0];
      row[key] += per(side, symbol);
      parts.set(part, row);
    }
  }
  const rows = [...parts].sort((a, b) => b[1][0] - b[1][1] - (a[1][0] - a[1][1]));
  const total = rows.reduce((t, [, [a, b]]) => [t[0] + a, t[1] + b], [0, 0]);
  const lines = [`### ${title}`, "", `${ours.rps.toFixed(0)} and ${floor.rps.toFixed(0)} req/s under perf; µs of workerd CPU per request (all threads), ${SECONDS} s each.`, "", "| part | edgecache | floor or peer | difference | share of the difference |", "|---|---:|---:|---:|---:|"];
  for (const [part, [a, b]] of rows) lines.push(`| ${part} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a - b).toFixed(1)} | ${((100 * (a - b)) / (total[0] - total[1])).toFixed(0)} % |`);
  lines.push(`| **all** | **${total[0].toFixed(1)}** | **${total[1].toFixed(1)}** | **${(total[0] - total[1]).toFixed(1)}** | ratio ${(total[0] / total[1]).toFixed(2)} |`);
  const symbols = [...ours.samples.keys()].map((s) => [per(ours, s) - per(floor, s), s]).sort((a, b) => b[0] - a[0]).slice(0, 12);
  lines.push("", "Symbols that differ most (µs per request, edgecache minus floor or peer):", "");
  for (const [d, s] of symbols) lines.push(`- ${d.toFixed(2)} ${s.slice(0, 120)}`);
  return lines.join("\n");
}

try {
  await new Promise((r) => setTimeout(r, 1500));
  const url = (name, p) => `http://127.0.0.1:${ports[name]}${p}`;
  const out = [];
  out.push(compare("Memory hit against the JS hit floor", await record("hit", url("edgecache", "/hit")), await record("floor", url("js-floor", "/hit"))));
  out.push(compare("Miss against the JS miss floor", await record("miss", url("edgecache", "/private")), await record("passthrough", url("js-passthrough-status", "/private"))));
  const ours = await miniflare("edgecache-cache");
  const peer = await miniflare("js-cache-api", "bench/workers/cache-api.js");
  try {
    out.push(compare("Cache API hit against the JS Cache API worker (Miniflare: each side's whole process, its local Cache API included)", await record("cache", `${ours.url}/hit`, ours.pid), await record("js-cache-api", `${peer.url}/hit`, peer.pid)));
  } finally {
    await ours.mf.dispose();
    await peer.mf.dispose();
  }
  const text = out.join("\n\n");
  console.log(text);
  await writeFile(path.join(results, "perf.md"), text + "\n");
} finally {
  workerd.kill();
  origin.close?.();
}
process.exit(0);
