// Runs the built worker (build/index.js + Wasm) on workerd through Miniflare, with real
// local KV and Cache API storage, in front of a test origin.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";
import readline from "node:readline";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const HOST = "http://edge.test";

/**
 * `persist`: a folder for KV and Cache API data, so that several workers (or restarts with
 * another configuration) share storage; `kvPersist` a folder for KV alone. Without them,
 * storage lives and dies with the worker.
 * `scriptPath`: another built worker (e.g. an example's `build/index.js`) instead of edgecache.
 * The worker's log lines are collected in `worker.logs` (printed too with EDGECACHE_TEST_LOGS=1).
 * `entry`: the source of a module run as the worker's entry point instead of `scriptPath`,
 * which it imports as "./index.js" (to wrap bindings and inject faults).
 * `inspectorPort`: opens workerd's V8 inspector there (tests/support/inspector.mjs).
 * `ratelimits`: Rate Limiting bindings, as Miniflare takes them
 * (`{ EDGECACHE_ADMIN_LIMITER: { simple: { limit: 10, period: 60 } } }`); none by default.
 */
export async function startWorker({ origin, config = {}, bindings = {}, kvNamespaces = ["EDGECACHE_KV"], persist, kvPersist, scriptPath = path.join(root, "build/index.js"), entry, inspectorPort, ratelimits } = {}) {
  const logs = [];
  const collect = (stream) => {
    readline.createInterface({ input: stream }).on("line", (line) => {
      logs.push(line);
      if (process.env.EDGECACHE_TEST_LOGS) console.log(line);
    });
  };
  const mf = new Miniflare({
    handleRuntimeStdio: (stdout, stderr) => {
      collect(stdout);
      collect(stderr);
    },
    ...(persist ? { kvPersist: path.join(persist, "kv"), cachePersist: path.join(persist, "cache") } : {}),
    // A KV folder of its own: two workers sharing it act as two locations of one deployment.
    ...(kvPersist ? { kvPersist } : {}),
    ...(entry
      ? {
          modulesRoot: path.dirname(scriptPath),
          modules: [
            { type: "ESModule", path: path.join(path.dirname(scriptPath), "test-entry.mjs"), contents: entry },
            { type: "ESModule", path: scriptPath },
            { type: "CompiledWasm", path: path.join(path.dirname(scriptPath), "index_bg.wasm") },
          ],
        }
      : {
          modules: true,
          scriptPath,
          modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
        }),
    compatibilityDate: "2026-04-20",
    ...(inspectorPort ? { inspectorPort } : {}),
    ...(ratelimits ? { ratelimits } : {}),
    kvNamespaces,
    cache: true,
    cf: false,
    bindings: { ...(origin ? { ORIGIN: origin.url } : {}), ...(config === null ? {} : { EDGECACHE: config }), ...bindings },
  });
  const url = await mf.ready;

  const worker = {
    mf,
    logs,
    /** The worker's real HTTP address on loopback, for clients other than dispatchFetch. */
    url,
    /** Fetches `path` through the worker; redirects are returned, not followed. */
    async fetch(target, init = {}) {
      const url = target.startsWith("http") ? target : HOST + target;
      const response = await mf.dispatchFetch(url, { redirect: "manual", ...init });
      const body = await response.text();
      return { status: response.status, headers: response.headers, body, cacheStatus: response.headers.get("cache-status") ?? "" };
    },
    /**
     * Waits until `path` is answered from storage (the store runs after the response, in
     * waitUntil), probing with HEAD so that GET counts at the origin stay exact.
     */
    async stored(target, init = {}, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const probe = await worker.fetch(target, { ...init, method: "HEAD" });
        if (probe.cacheStatus.includes("; hit")) return probe;
        if (Date.now() > deadline) throw new Error(`${target} was not stored within ${timeoutMs} ms: ${probe.cacheStatus}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /**
     * Fetches `target`, then waits until the worker logs that it stored an entry for it
     * (the store runs after the response, in waitUntil). Works for entries that are stale
     * or must be revalidated, which a probe could not tell from a miss.
     */
    async fetchStored(target, init = {}, timeoutMs = 5000) {
      const mark = logs.length;
      const response = await worker.fetch(target, init);
      const url = new URL(target, HOST);
      const key = `//${url.host}${url.pathname}`;
      const storedHere = (line) => {
        if (!line.includes('"edgecache":"stored"')) return false;
        const at = line.indexOf(key);
        return at >= 0 && ['"', "#", "?"].includes(line[at + key.length]);
      };
      const deadline = Date.now() + timeoutMs;
      while (!logs.slice(mark).some(storedHere)) {
        if (Date.now() > deadline) throw new Error(`${target} was not stored within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return response;
    },
    async dispose() {
      await mf.dispose();
    },
  };
  return worker;
}
