// `make profile`: where a request's CPU goes. Runs the worker built with its names section
// (`build-profile/`) in front of the bench origin, loads one path with oha while V8's sampling
// profiler runs (over workerd's inspector), and prints the functions with the most self time.
// The memory tier runs on raw workerd; the Cache API and KV exist locally only in Miniflare,
// where the cache service is profiled too (it shares the process, and so the CPU).
//
//   PROFILE_PATH=/private PROFILE_BACKENDS=memory PROFILE_SECONDS=6 make profile
//   PROFILE_BACKENDS=cache make profile
import { spawn, execFile } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import workerdPackage from "workerd";
import { startOrigin } from "./origin.mjs";
import { COMPATIBILITY_DATE, controlPlane, plainBindings } from "../tests/support/worker.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const results = path.join(root, "bench/results");
// The workerd binary Miniflare runs, for this OS and CPU.
const WORKERD = workerdPackage.default;
const PATH = process.env.PROFILE_PATH ?? "/hit";
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 6);
const BACKENDS = (process.env.PROFILE_BACKENDS ?? "memory").split(",");
const OHA = process.env.OHA ?? "oha";
const PORT = 9390;
const INSPECTOR = 9391;

const origin = await startOrigin();
const config = { backends: BACKENDS, default_ttl: 600, request_log: process.env.PROFILE_LOG ?? "misses" };
const inMiniflare = BACKENDS.some((b) => b !== "memory");

/** Raw workerd with the inspector on: one worker, `edgecache`. */
async function startWorkerd() {
  // The control plane's SQLite files, made anew each run.
  const objects = path.join(results, "profile-objects");
  await rm(objects, { recursive: true, force: true });
  await mkdir(objects, { recursive: true });
  const capnp = path.join(results, "profile.capnp");
  const embed = (file) => path.relative(results, path.join(root, file));
  await writeFile(
    capnp,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "edgecache", worker = (modules = [(name = "index.js", esModule = embed "${embed("build-profile/index.js")}"), (name = "index_bg.wasm", wasm = embed "${embed("build-profile/index_bg.wasm")}")], compatibilityDate = "${COMPATIBILITY_DATE}", bindings = [(name = "ORIGIN", text = "${origin.url}"), (name = "EDGECACHE", json = ${JSON.stringify(JSON.stringify(config))}), (name = "EDGECACHE_CONTROL", durableObjectNamespace = (className = "ControlPlane"))], durableObjectNamespaces = [(className = "ControlPlane", uniqueKey = "edgecache-control", enableSql = true)], durableObjectStorage = (localDisk = "objects"), globalOutbound = "net")),
    (name = "objects", disk = (path = "${objects}", writable = true)),
    (name = "net", network = (allow = ["public", "private", "local"]))],
  sockets = [(name = "edgecache", address = "127.0.0.1:${PORT}", http = (), service = "edgecache")]
);
`,
  );
  const workerd = spawn(WORKERD, ["serve", capnp, "--experimental", `--inspector-addr=127.0.0.1:${INSPECTOR}`], { stdio: ["ignore", "ignore", "inherit"] });
  return { url: `http://127.0.0.1:${PORT}`, targets: { edgecache: "edgecache" }, stop: () => workerd.kill() };
}

/** Miniflare with the inspector on: edgecache ("core:user:") and its cache service. */
async function startMiniflare() {
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    handleStructuredLogs: () => {},
    enableDevRegistry: false,
    cf: false,
    inspectorPort: INSPECTOR,
    workers: [
      {
        config: {
          name: "edgecache",
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: {
            mainModule: "index.js",
            modules: {
              "index.js": { type: "esm", contents: readFileSync(path.join(root, "build-profile/index.js"), "utf8") },
              "index_bg.wasm": { type: "wasm", contents: new Uint8Array(readFileSync(path.join(root, "build-profile/index_bg.wasm"))) },
            },
          },
          exports: controlPlane.exports,
          env: { EDGECACHE_KV: { type: "kv", id: "EDGECACHE_KV" }, ...controlPlane.binding("edgecache"), ...plainBindings({ ORIGIN: origin.url, EDGECACHE: config }) },
        },
        dev: { cacheAPI: true },
      },
    ],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, targets: { edgecache: "core:user:edgecache", "cache service": "cache:cache" }, stop: () => mf.dispose() };
}

const runtime = inMiniflare ? await startMiniflare() : await startWorkerd();

/** One Chrome DevTools Protocol session: `send(method, params)` resolves with the result. */
async function inspect(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
  let next = 0;
  const waiting = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.error) pending.reject(new Error(message.error.message));
    else pending.resolve(message.result);
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        waiting.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

async function waitFor(url) {
  for (let i = 0; i < 200; i++) {
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never answered`);
}

/** Self time per function in a CPU profile, idle and "(program)" left out. */
function selfTimes(profile) {
  const hits = new Map(profile.nodes.map((n) => [n.id, 0]));
  for (const id of profile.samples) hits.set(id, hits.get(id) + 1);
  const self = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const { functionName, url: script } = node.callFrame;
    const name = `${functionName || "(anonymous)"} ${script ? `[${path.basename(script)}]` : ""}`.trim();
    if (name === "(idle)" || name === "(program)") continue;
    self.set(name, (self.get(name) ?? 0) + hits.get(node.id));
    total += hits.get(node.id);
  }
  return { self, total };
}

try {
  const url = `${runtime.url}${PATH}`;
  await waitFor(url);
  for (let i = 0; i < 200; i++) await (await fetch(url)).arrayBuffer();
  const sessions = {};
  for (const [name, target] of Object.entries(runtime.targets)) {
    const session = await inspect(`ws://127.0.0.1:${INSPECTOR}/${target}`);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 100 });
    await session.send("Profiler.start");
    sessions[name] = session;
  }
  const { stdout } = await run(OHA, ["-z", `${SECONDS}s`, "-c", "16", "--no-tui", "--output-format", "json", url], { maxBuffer: 64 << 20 });
  const profiles = {};
  for (const [name, session] of Object.entries(sessions)) {
    profiles[name] = (await session.send("Profiler.stop")).profile;
    session.close();
  }
  const rps = JSON.parse(stdout).summary.requestsPerSec;
  await writeFile(path.join(results, "latest.cpuprofile"), JSON.stringify(profiles.edgecache));

  const { self, total } = selfTimes(profiles.edgecache);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 30));
  console.log(`${PATH} on ${BACKENDS.join("+")}${inMiniflare ? " (Miniflare)" : ""}: ${rps.toFixed(0)} req/s under the profiler; ${total} samples in JS and Wasm (idle and "(program)" left out)`);
  for (const [name, n] of top) console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`);
  for (const [name, profile] of Object.entries(profiles)) {
    if (name !== "edgecache") console.log(`${name}: ${selfTimes(profile).total} samples in the same time, beside edgecache's ${total}`);
  }
  console.log(`Full profile: bench/results/latest.cpuprofile (open in Chrome DevTools).`);
} finally {
  await runtime.stop();
  origin.close();
}
