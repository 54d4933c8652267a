// A bounded soak (issue 7, `make soak`): many concurrent keep-alive connections on loopback
// for a fixed time against the built worker on workerd (Miniflare), mixing hits on a hot set,
// misses on ever-new URLs with bodies of up to 48 KB, and authenticated purges through the
// admin API, while the memory tier's size is read from `/_edgecache/stats` every second.
// Passes when no request failed or got a wrong or partial body, and the memory tier never
// held more than `memory_max_bytes`. Starts and stops everything it uses itself.
//
//   node tests/soak/soak.mjs [--seconds 45] [--connections 1000]
import http from "node:http";
import { parseArgs } from "node:util";
import { startLocations } from "../support/worker.mjs";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: process.env.SOAK_SECONDS ?? "45" },
    connections: { type: "string", default: process.env.SOAK_CONNECTIONS ?? "1000" },
  },
});
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
// A hard stop, whatever happens to the worker or the origin (here rather than coreutils'
// `timeout`, which macOS lacks).
setTimeout(() => {
  console.error(`soak: not finished within ${SECONDS + 90} s`);
  process.exit(1);
}, (SECONDS + 90) * 1000).unref();
const MEMORY_MAX_BYTES = 3 * 1024 * 1024;
const HOT = 300;
const TOKEN = "soak-admin-token";

/**
 * Body size of a path, fixed per path so a short body is detectable: the hot set (200 B to
 * 8 KB: about 1.2 MB of bodies, 2.4 MB as the tier counts entries) fits the memory tier,
 * the cold URLs (up to 48 KB) keep evicting.
 */
function sizeOf(path) {
  let h = 0;
  for (const c of path) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 200 + (h % ((path.startsWith("/hot/") ? 8 : 48) * 1024));
}
function bodyOf(path, n) {
  const head = `${path} #${n} `;
  return head + ".".repeat(Math.max(0, sizeOf(path) - head.length));
}

// The origin: cacheable answers whose body names the path, of a size fixed by the path.
const counts = new Map();
let originRequests = 0;
const origin = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    originRequests++;
    const path = new URL(req.url, "http://o").pathname;
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    const body = bodyOf(path, n);
    res.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=300", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
origin.keepAliveTimeout = 30000;
await new Promise((r) => origin.listen(0, "127.0.0.1", r));

// One location (tests/support/worker.mjs): its entry module counts the requests made to the
// control plane, which are compared with the rate docs/control-plane.md states.
const PROPAGATION_S = 2;
const deployment = await startLocations({
  count: 1,
  origin: { url: `http://127.0.0.1:${origin.address().port}` },
  config: { backends: ["memory"], memory_max_bytes: MEMORY_MAX_BYTES, purge_propagation_s: PROPAGATION_S },
  bindings: { ADMIN_TOKEN: TOKEN },
});
const [worker] = deployment.locations;
const base = new URL(worker.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS });

function request(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: base.hostname, port: base.port, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", (error) => resolve({ status: 0, error }));
    });
    req.setTimeout(15000, () => req.destroy(new Error("no answer within 15 s")));
    req.on("error", (error) => resolve({ status: 0, error }));
    req.end(body);
  });
}

const stats = { requests: 0, hits: 0, collapsed: 0, misses: 0, purges: 0, statsReads: 0, errors: 0, maxMemory: 0, memorySamples: 0 };
const failures = [];
const fail = (what) => {
  stats.errors++;
  if (failures.length < 20) failures.push(what);
};

function check(path, got) {
  stats.requests++;
  if (got.status !== 200) return fail(`${path}: status ${got.status} ${got.error?.message ?? got.body?.slice(0, 200) ?? ""}`);
  if (!got.body.startsWith(`${path} #`)) return fail(`${path}: the body of another URL: ${got.body.slice(0, 60)}`);
  if (got.body.length !== sizeOf(path)) return fail(`${path}: ${got.body.length} bytes, not ${sizeOf(path)}`);
  const status = got.headers["cache-status"] ?? "";
  if (status.includes("; hit")) stats.hits++;
  else if (status.includes("collapsed")) stats.collapsed++;
  else stats.misses++;
}

const deadline = Date.now() + SECONDS * 1000;
let cold = 0;
async function client(id) {
  while (Date.now() < deadline) {
    const path = Math.random() < 0.8 ? `/hot/${Math.floor(Math.random() * HOT)}` : `/cold/${id}-${cold++}`;
    check(path, await request("GET", path));
  }
}

async function purger() {
  let i = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const body = i++ % 5 === 4 ? { prefixes: ["/hot/1"] } : { urls: Array.from({ length: 5 }, () => `${base.origin}/hot/${Math.floor(Math.random() * HOT)}`) };
    const got = await request("POST", "/_edgecache/purge", { headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    stats.purges++;
    if (got.status !== 200 || !JSON.parse(got.body).ok) fail(`purge: ${got.status} ${got.body?.slice(0, 200)}`);
  }
}

async function watcher() {
  while (Date.now() < deadline) {
    const got = await request("GET", "/_edgecache/stats", { headers: { authorization: `Bearer ${TOKEN}` } });
    stats.statsReads++;
    if (got.status !== 200) fail(`stats: ${got.status}`);
    else {
      const used = JSON.parse(got.body).memory_bytes;
      stats.maxMemory = Math.max(stats.maxMemory, used);
      stats.memorySamples++;
      if (used > MEMORY_MAX_BYTES) fail(`memory tier at ${used} bytes, over ${MEMORY_MAX_BYTES}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const started = Date.now();
let exitCode = 0;
try {
  await Promise.all([...Array.from({ length: CONNECTIONS }, (_, i) => client(i)), purger(), watcher()]);
  const seconds = (Date.now() - started) / 1000;

  // The control plane's totals are the outcomes the clients saw: each request counted once.
  // (`/stats` carries this isolate's unreported counts; a report still on its way is waited for.)
  let totals;
  for (let i = 0; i < 30; i++) {
    const got = await request("GET", "/_edgecache/stats", { headers: { authorization: `Bearer ${TOKEN}` } });
    stats.statsReads++;
    totals = got.status === 200 ? JSON.parse(got.body).day.total : null;
    // Requests that failed on the way never reached the worker, or were counted there but not
    // seen here: either way they already fail the soak.
    if (totals && totals.hits + totals.stale + totals.misses + totals.bypasses >= stats.hits + stats.collapsed + stats.misses) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const counted = totals ? { served: totals.hits + totals.stale, misses: totals.misses, bypasses: totals.bypasses } : null;
  const seen = { served: stats.hits + stats.collapsed, misses: stats.misses, bypasses: 0 };
  if (JSON.stringify(counted) !== JSON.stringify(seen)) fail(`stats totals ${JSON.stringify(counted)} are not what the clients saw, ${JSON.stringify(seen)}`);

  // Requests to the control plane: one per purge and per /stats read, and otherwise at most one
  // registry check per purge_propagation_s and one stats report per 10 s (docs/control-plane.md).
  const control = (await worker.control()).requests;
  const background = control - stats.purges - stats.statsReads;
  const allowed = Math.ceil(seconds / PROPAGATION_S) + Math.ceil(seconds / 10) + 2;
  const perMinute = (n) => ((n * 60) / seconds).toFixed(1);
  console.log(
    `soak: control plane asked ${control} times in ${seconds.toFixed(1)} s: ${stats.purges} purges, ${stats.statsReads} stats reads, ` +
      `${background} registry checks and stats reports (${perMinute(background)} per minute; stated at most ${60 / PROPAGATION_S + 6} per location and isolate; ${perMinute(control)} per minute in all)`,
  );
  if (background > allowed) fail(`${background} registry checks and stats reports in ${seconds.toFixed(1)} s, over the stated ${allowed}`);

  const serverErrors = worker.logs.filter((l) => l.includes('"status":500') || l.includes("panicked")).length;
  if (serverErrors) fail(`${serverErrors} log lines show a 500 or a panic`);
  console.log(
    `soak: ${CONNECTIONS} connections, ${seconds.toFixed(1)} s, ${stats.requests} requests (${Math.round(stats.requests / seconds)}/s), ` +
      `${stats.hits} hits, ${stats.collapsed} collapsed, ${stats.misses} misses, ${stats.purges} purges, ${originRequests} origin requests, ` +
      `memory tier max ${stats.maxMemory} of ${MEMORY_MAX_BYTES} bytes over ${stats.memorySamples} samples, ` +
      `stats totals ${JSON.stringify(counted)}, ${stats.errors} errors`,
  );
  if (stats.errors) {
    console.error(failures.join("\n"));
    exitCode = 1;
  } else if (stats.hits === 0 || stats.misses === 0 || stats.purges === 0 || stats.memorySamples < 3) {
    console.error("soak: the mix was not exercised (no hits, misses, purges or memory samples)");
    exitCode = 1;
  } else if (stats.maxMemory < MEMORY_MAX_BYTES / 2) {
    console.error("soak: the memory tier never came near its budget, so eviction was not exercised");
    exitCode = 1;
  }
} finally {
  agent.destroy();
  await deployment.dispose();
  origin.closeAllConnections();
  await new Promise((r) => origin.close(r));
}
process.exit(exitCode);
