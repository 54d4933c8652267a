// `make profile`: where a request's CPU goes. Runs the worker built with its names section
// (`build-profile/`) on raw workerd in front of the bench origin, loads one path with oha while
// V8's sampling profiler runs (over workerd's inspector), and prints the functions with the
// most self time. Run under `node --experimental-websocket` (Node 20 has no WebSocket global).
//
//   PROFILE_PATH=/private PROFILE_BACKENDS=memory PROFILE_SECONDS=6 make profile
import { spawn, execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { startOrigin } from "./origin.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const results = path.join(root, "bench/results");
const WORKERD = path.join(root, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");
const PATH = process.env.PROFILE_PATH ?? "/hit";
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 6);
const BACKENDS = (process.env.PROFILE_BACKENDS ?? "memory").split(",");
const OHA = process.env.OHA ?? "oha";
const PORT = 9390;
const INSPECTOR = 9391;

const origin = await startOrigin();
const config = JSON.stringify({ backends: BACKENDS, default_ttl: 600, request_log: process.env.PROFILE_LOG ?? "all" });
await mkdir(results, { recursive: true });
const capnp = path.join(results, "profile.capnp");
const embed = (file) => path.relative(results, path.join(root, file));
await writeFile(
  capnp,
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "edgecache", worker = (modules = [(name = "index.js", esModule = embed "${embed("build-profile/index.js")}"), (name = "index_bg.wasm", wasm = embed "${embed("build-profile/index_bg.wasm")}")], compatibilityDate = "2026-04-20", bindings = [(name = "ORIGIN", text = "${origin.url}"), (name = "EDGECACHE", json = ${JSON.stringify(config)})], globalOutbound = "net")),
    (name = "net", network = (allow = ["public", "private", "local"]))],
  sockets = [(name = "edgecache", address = "127.0.0.1:${PORT}", http = (), service = "edgecache")]
);
`,
);
const workerd = spawn(WORKERD, ["serve", capnp, "--experimental", `--inspector-addr=127.0.0.1:${INSPECTOR}`], { stdio: ["ignore", "ignore", "inherit"] });

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

try {
  const url = `http://127.0.0.1:${PORT}${PATH}`;
  await waitFor(url);
  for (let i = 0; i < 200; i++) await (await fetch(url)).arrayBuffer();
  const session = await inspect(`ws://127.0.0.1:${INSPECTOR}/edgecache`);
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: 100 });
  await session.send("Profiler.start");
  const { stdout } = await run(OHA, ["-z", `${SECONDS}s`, "-c", "16", "--no-tui", "--output-format", "json", url], { maxBuffer: 64 << 20 });
  const { profile } = await session.send("Profiler.stop");
  session.close();
  const rps = JSON.parse(stdout).summary.requestsPerSec;
  await writeFile(path.join(results, "latest.cpuprofile"), JSON.stringify(profile));

  // Self time per function, from the sample counts of the profile's nodes.
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
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 30));
  console.log(`${PATH} on ${BACKENDS.join("+")}: ${rps.toFixed(0)} req/s under the profiler; ${total} samples in JS and Wasm (idle and "(program)" left out)`);
  for (const [name, n] of top) console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`);
  console.log(`Full profile: bench/results/latest.cpuprofile (open in Chrome DevTools).`);
} finally {
  workerd.kill();
  origin.close();
}
