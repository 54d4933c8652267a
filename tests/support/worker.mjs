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
 * which it imports as "./index.js" (to wrap bindings and inject faults); it re-exports the
 * control plane's class unless it does so itself.
 * `control`: run the control plane's Durable Object (`EDGECACHE_CONTROL`, SQLite, in memory);
 * on by default for edgecache's own build.
 */
export async function startWorker({ origin, config = {}, bindings = {}, kvNamespaces = ["EDGECACHE_KV"], persist, kvPersist, scriptPath = DEFAULT_SCRIPT, entry, control = scriptPath === DEFAULT_SCRIPT } = {}) {
  const logs = [];
  const collect = collector(logs);
  const mf = new Miniflare({
    handleRuntimeStdio: (stdout, stderr) => {
      collect(stdout);
      collect(stderr);
    },
    ...(persist ? { kvPersist: path.join(persist, "kv"), cachePersist: path.join(persist, "cache") } : {}),
    // A KV folder of its own: two workers sharing it act as two locations of one deployment.
    ...(kvPersist ? { kvPersist } : {}),
    ...scriptOptions(scriptPath, entry && control ? withControlExport(entry) : entry),
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces,
    ...(control ? { durableObjects: { [CONTROL_BINDING]: { className: CONTROL_CLASS, useSQLite: true } } } : {}),
    cache: true,
    cf: false,
    bindings: { ...(origin ? { ORIGIN: origin.url } : {}), ...(config === null ? {} : { EDGECACHE: config }), ...bindings },
  });
  const url = await mf.ready;
  return client(mf, logs, url, (url, init) => mf.dispatchFetch(url, init));
}

const DEFAULT_SCRIPT = path.join(root, "build/index.js");
const COMPATIBILITY_DATE = "2026-04-20";
const CONTROL_BINDING = "EDGECACHE_CONTROL";
const CONTROL_CLASS = "ControlPlane";

function collector(logs) {
  return (stream) => {
    readline.createInterface({ input: stream }).on("line", (line) => {
      logs.push(line);
      if (process.env.EDGECACHE_TEST_LOGS) console.log(line);
    });
  };
}

function withControlExport(entry) {
  return entry.includes(CONTROL_CLASS) ? entry : `${entry}\nexport { ${CONTROL_CLASS} } from "./index.js";\n`;
}

/** Miniflare's options for the built worker, or for a test entry module wrapping it. */
function scriptOptions(scriptPath, entry, name = "test-entry") {
  return entry
    ? {
        modulesRoot: path.dirname(scriptPath),
        modules: [
          { type: "ESModule", path: path.join(path.dirname(scriptPath), `${name}.mjs`), contents: entry },
          { type: "ESModule", path: scriptPath },
          { type: "CompiledWasm", path: path.join(path.dirname(scriptPath), "index_bg.wasm") },
        ],
      }
    : {
        modules: true,
        scriptPath,
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
      };
}

/**
 * A test stand-in for one location of a deployment, as the entry module of one of several
 * workers in one Miniflare: its own Cache API (`caches.default` is replaced by a cache named
 * for the location, as every location of the real platform has its own), the control plane's
 * binding wrapped to count the requests made to it and to inject its faults, and a route of
 * its own, `/__test__/control`, that reads the count (GET) or sets the fault (POST
 * `{"fault": null | "fail" | "hang"}`).
 */
function locationEntry(name, cacheName = name) {
  return `
import worker from "./index.js";
export { ${CONTROL_CLASS} } from "./index.js";
const LOCATION = ${JSON.stringify(name)};
const test = { requests: 0, fault: null };
let ownCache;
function control(namespace) {
  return {
    idFromName: (id) => namespace.idFromName(id),
    get(id) {
      const stub = namespace.get(id);
      return {
        fetch(...args) {
          test.requests++;
          if (test.fault === "fail") return Promise.reject(new Error("injected fault: the control plane is unreachable"));
          if (test.fault === "hang") return new Promise(() => {});
          return stub.fetch(...args);
        },
      };
    },
  };
}
export default {
  async fetch(request, env, ctx) {
    if (!ownCache) {
      const cache = await caches.open(${JSON.stringify(`location:${cacheName}`)});
      Object.defineProperty(caches, "default", { value: cache, configurable: true });
      ownCache = cache;
    }
    if (new URL(request.url).pathname === "/__test__/control") {
      if (request.method === "POST") test.fault = (await request.json()).fault;
      return Response.json(test);
    }
    return worker.fetch(request, { ...env, ${CONTROL_BINDING}: control(env.${CONTROL_BINDING}) }, ctx);
  },
};
`;
}

/**
 * Several locations of one deployment (see `locationEntry`): workers in one Miniflare sharing
 * one control plane (hosted by the first) and one KV namespace, each with its own Cache API
 * and isolate. Each location has the interface of `startWorker`'s worker, plus
 * `control()` (the requests it made to the control plane) and `fault(kind)`.
 * `oneLocation`: the workers are isolates of one location instead, sharing one Cache API.
 */
export async function startLocations({ count = 2, origin, config = {}, bindings = {}, scriptPath = DEFAULT_SCRIPT, oneLocation = false } = {}) {
  const logs = [];
  const names = Array.from({ length: count }, (_, i) => `location-${i}`);
  const mf = new Miniflare({
    handleRuntimeStdio: (stdout, stderr) => {
      collector(logs)(stdout);
      collector(logs)(stderr);
    },
    cache: true,
    cf: false,
    workers: names.map((name, i) => ({
      name,
      ...scriptOptions(scriptPath, locationEntry(name, oneLocation ? "shared" : name), name),
      compatibilityDate: COMPATIBILITY_DATE,
      kvNamespaces: { EDGECACHE_KV: "edgecache-kv" },
      durableObjects: { [CONTROL_BINDING]: { className: CONTROL_CLASS, useSQLite: true, ...(i > 0 ? { scriptName: names[0] } : {}) } },
      bindings: { ...(origin ? { ORIGIN: origin.url } : {}), ...(config === null ? {} : { EDGECACHE: config }), ...bindings },
    })),
  });
  const url = await mf.ready;
  const locations = [];
  for (const name of names) {
    const fetcher = await mf.getWorker(name);
    const location = client(mf, logs, url, (url, init) => fetcher.fetch(url, init));
    location.name = name;
    location.control = async () => JSON.parse((await location.fetch("/__test__/control")).body);
    location.fault = async (fault) => location.fetch("/__test__/control", { method: "POST", body: JSON.stringify({ fault }) });
    location.dispose = async () => {};
    locations.push(location);
  }
  return { mf, logs, locations, dispose: () => mf.dispose() };
}

function client(mf, logs, url, send) {
  const worker = {
    mf,
    logs,
    /** The worker's real HTTP address on loopback, for clients other than dispatchFetch. */
    url,
    /** Fetches `path` through the worker; redirects are returned, not followed. */
    async fetch(target, init = {}) {
      const url = target.startsWith("http") ? target : HOST + target;
      const response = await send(url, { redirect: "manual", ...init });
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
