// Runs the built worker (build/index.js + Wasm) on workerd through Miniflare, with real
// local KV and Cache API storage and the control plane's Durable Object, in front of a test
// origin.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const HOST = "http://edge.test";

/** The compatibility date of wrangler.toml: tests run the worker as it is deployed. */
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(fs.readFileSync(path.join(root, "wrangler.toml"), "utf8"))[1];

const DEFAULT_SCRIPT = path.join(root, "build/index.js");
const CONTROL_BINDING = "EDGECACHE_CONTROL";
const CONTROL_CLASS = "ControlPlane";
const SHIELD_BINDING = "EDGECACHE_SHIELD";
const SHIELD_CLASS = "Shield";

/**
 * Miniflare bindings from plain values, as Miniflare 4's `bindings` made them: a string is a
 * text binding, anything else JSON.
 */
export function plainBindings(values) {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, typeof value === "string" ? { type: "text", value } : { type: "json", value }]));
}

/**
 * Miniflare 5 Rate Limiting bindings (`{ type: "rate-limit", namespace, simple }`) from
 * `{ NAME: { simple: { limit, period }, namespace_id? } }`, the shape of wrangler.toml's
 * `[[ratelimits]]` (and of Miniflare 4's `ratelimits`). `period` is 60 unless given.
 */
export function rateLimitBindings(ratelimits = {}) {
  return Object.fromEntries(
    Object.entries(ratelimits).map(([name, { namespace_id, simple }]) => [
      name,
      { type: "rate-limit", namespace: namespace_id ?? name, simple: { limit: simple.limit, period: simple.period ?? 60 } },
    ]),
  );
}

/**
 * edgecache's Durable Objects in Miniflare 5 (as wrangler.toml declares them), the control
 * plane and the shield: `exports` for the worker that hosts the classes, with SQLite storage,
 * and `binding(host)` for every worker that asks them, the host included.
 */
export const controlPlane = {
  exports: {
    [CONTROL_CLASS]: { type: "durable-object", storage: "sqlite" },
    [SHIELD_CLASS]: { type: "durable-object", storage: "sqlite" },
  },
  binding: (host) => ({
    [CONTROL_BINDING]: { type: "durable-object", worker: host, exportName: CONTROL_CLASS },
    [SHIELD_BINDING]: { type: "durable-object", worker: host, exportName: SHIELD_CLASS },
  }),
};

/** A path as keys hold it (RFC 3986 §6.2.2): unreserved characters decoded, other escapes in upper case. */
export function canonicalPath(path) {
  return path.replace(/%([0-9a-fA-F]{2})/g, (escape, hex) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/**
 * `persist`: a folder for KV, Cache API and Durable Object data, so that several workers (or
 * restarts with another configuration) share storage; `kvPersist` a folder for KV alone.
 * Without them, storage lives and dies with the worker.
 * `scriptPath`: another built worker (e.g. an example's `build/index.js`) instead of edgecache.
 * The worker's log lines are collected in `worker.logs` (printed too with EDGECACHE_TEST_LOGS=1).
 * `entry`: the source of a module run as the worker's entry point instead of `scriptPath`,
 * which it imports as "./index.js" (to wrap bindings and inject faults); it re-exports the
 * control plane's class unless it does so itself.
 * `control`: run the control plane's Durable Object (`EDGECACHE_CONTROL`, SQLite); on by
 * default for edgecache's own build.
 * `inspectorPort`: opens workerd's V8 inspector there, 0 for any free port
 * (`worker.inspectorUrl()`, tests/support/inspector.mjs).
 * `ratelimits`: Rate Limiting bindings, as wrangler.toml's `[[ratelimits]]` declare them
 * (`{ EDGECACHE_ADMIN_LIMITER: { simple: { limit: 10, period: 60 } } }`); none by default.
 * `r2Buckets`: R2 bucket bindings (`["EDGECACHE_R2"]`), local to the worker like its KV;
 * none by default (`worker.mf.getR2Bucket(name)` reads one from the test).
 */
export async function startWorker({ origin, config = {}, bindings = {}, kvNamespaces = ["EDGECACHE_KV"], r2Buckets = [], persist, kvPersist, scriptPath = DEFAULT_SCRIPT, entry, control = scriptPath === DEFAULT_SCRIPT, inspectorPort, ratelimits } = {}) {
  const logs = [];
  // Miniflare 5 keeps every resource under one folder (`<folder>/kv`, `<folder>/cache`). A KV
  // folder of its own (two workers sharing it act as two locations of one deployment, each
  // with its own Cache API) is linked in as `kv` of a folder that is this worker's alone.
  let storage = persist;
  let scratch;
  if (kvPersist) {
    storage ??= scratch = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-worker-"));
    fs.mkdirSync(storage, { recursive: true });
    fs.mkdirSync(kvPersist, { recursive: true });
    fs.rmSync(path.join(storage, "kv"), { recursive: true, force: true });
    fs.symlinkSync(path.resolve(kvPersist), path.join(storage, "kv"), "dir");
  }
  const name = "edgecache";
  const mf = new Miniflare({
    handleStructuredLogs: collector(logs),
    ...(storage ? { resourcePersistencePath: storage } : {}),
    // No discovery of, or by, other Miniflare or wrangler processes on this machine.
    enableDevRegistry: false,
    // workerd's own V8 inspector (no proxy in front of it); port 0 picks a free one, which
    // `worker.inspectorUrl()` tells.
    ...(inspectorPort !== undefined ? { inspectorPort } : {}),
    cf: false,
    workers: [
      {
        config: {
          name,
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: manifest(scriptPath, entry && control ? withControlExport(entry) : entry),
          ...(control ? { exports: controlPlane.exports } : {}),
          env: {
            ...Object.fromEntries(kvNamespaces.map((name) => [name, { type: "kv", id: name }])),
            ...Object.fromEntries(r2Buckets.map((name) => [name, { type: "r2", name }])),
            ...rateLimitBindings(ratelimits),
            ...(control ? controlPlane.binding(name) : {}),
            ...plainBindings({ ...(origin ? { ORIGIN: origin.url } : {}), ...(config === null ? {} : { EDGECACHE: config }), ...bindings }),
          },
        },
        dev: { cacheAPI: true },
      },
    ],
  });
  const url = await mf.ready;
  return client(mf, logs, url, (url, init) => mf.dispatchFetch(url, init), async () => {
    await mf.dispose();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });
}

/** Collects the runtime's log lines into `logs` (and prints them with EDGECACHE_TEST_LOGS=1). */
function collector(logs) {
  return ({ message }) => {
    for (const line of message.split("\n")) {
      logs.push(line);
      if (process.env.EDGECACHE_TEST_LOGS) console.log(line);
    }
  };
}

function withControlExport(entry) {
  const missing = [CONTROL_CLASS, SHIELD_CLASS].filter((name) => !new RegExp(`export \\{[^}]*\\b${name}\\b`).test(entry));
  return missing.length ? `${entry}\nexport { ${missing.join(", ")} } from "./index.js";\n` : entry;
}

/**
 * The manifest of the built worker (`index.js` and its Wasm beside it), or of `entry` (a
 * module named `<entryName>.mjs`) in front of it.
 */
function manifest(scriptPath, entry, entryName = "test-entry") {
  const dir = path.dirname(scriptPath);
  const modules = {
    "index.js": { type: "esm", contents: fs.readFileSync(scriptPath, "utf8") },
    "index_bg.wasm": { type: "wasm", contents: new Uint8Array(fs.readFileSync(path.join(dir, "index_bg.wasm"))) },
  };
  if (entry) modules[`${entryName}.mjs`] = { type: "esm", contents: entry };
  return { mainModule: entry ? `${entryName}.mjs` : "index.js", modulesRoot: dir, modules };
}

/**
 * A test stand-in for one location of a deployment, as the entry module of one of several
 * workers in one Miniflare: its own Cache API (`caches.default` is replaced by a cache named
 * for the location, as every location of the real platform has its own), the control plane's
 * and the shield's bindings wrapped to count the requests made to them and to inject their
 * faults, and a route of its own, `/__test__/control`, that reads the counts (GET) or sets the
 * faults (POST `{"fault": null | "fail" | "hang"}` for the control plane,
 * `{"shieldFault": null | "fail" | "hang" | "overloaded"}` for the shield).
 */
function locationEntry(name, cacheName = name) {
  return `
import worker from "./index.js";
export { ${CONTROL_CLASS}, ${SHIELD_CLASS} } from "./index.js";
const LOCATION = ${JSON.stringify(name)};
const test = { requests: 0, fault: null, shieldRequests: 0, shieldFault: null };
let ownCache;
function wrapped(namespace, count, fault, what) {
  return {
    idFromName: (id) => namespace.idFromName(id),
    get(id, options) {
      const stub = namespace.get(id, options);
      return {
        fetch(...args) {
          test[count]++;
          if (test[fault] === "fail") return Promise.reject(new Error("injected fault: " + what + " is unreachable"));
          if (test[fault] === "overloaded") return Promise.reject(new Error("Durable Object is overloaded. Too many requests queued."));
          if (test[fault] === "hang") return new Promise(() => {});
          return stub.fetch(...args);
        },
      };
    },
  };
}
const control = (namespace) => wrapped(namespace, "requests", "fault", "the control plane");
const shield = (namespace) => namespace && wrapped(namespace, "shieldRequests", "shieldFault", "the shield");
export default {
  async fetch(request, env, ctx) {
    if (!ownCache) {
      const cache = await caches.open(${JSON.stringify(`location:${cacheName}`)});
      Object.defineProperty(caches, "default", { value: cache, configurable: true });
      ownCache = cache;
    }
    if (new URL(request.url).pathname === "/__test__/control") {
      if (request.method === "POST") Object.assign(test, await request.json());
      return Response.json(test);
    }
    return worker.fetch(request, { ...env, ${CONTROL_BINDING}: control(env.${CONTROL_BINDING}), ${SHIELD_BINDING}: shield(env.${SHIELD_BINDING}) }, ctx);
  },
};
`;
}

/**
 * Several locations of one deployment (see `locationEntry`): workers in one Miniflare sharing
 * one control plane (hosted by the first) and one KV namespace, each with its own Cache API
 * and isolate. Each location has the interface of `startWorker`'s worker, plus
 * `control()` (the requests it made to the control plane and to the shield), `fault(kind)` and
 * `shieldFault(kind)`.
 * `oneLocation`: the workers are isolates of one location instead, sharing one Cache API.
 */
export async function startLocations({ count = 2, origin, config = {}, bindings = {}, scriptPath = DEFAULT_SCRIPT, oneLocation = false } = {}) {
  const logs = [];
  const names = Array.from({ length: count }, (_, i) => `location-${i}`);
  const mf = new Miniflare({
    handleStructuredLogs: collector(logs),
    enableDevRegistry: false,
    cf: false,
    workers: names.map((name, i) => ({
      config: {
        name,
        compatibilityDate: COMPATIBILITY_DATE,
        manifest: manifest(scriptPath, locationEntry(name, oneLocation ? "shared" : name), name),
        // The first location hosts the object; every location (the first too) binds it.
        ...(i === 0 ? { exports: controlPlane.exports } : {}),
        env: {
          EDGECACHE_KV: { type: "kv", id: "edgecache-kv" },
          // One bucket, as in production: R2 is global, so every location sees the same one.
          EDGECACHE_R2: { type: "r2", name: "edgecache-r2" },
          ...controlPlane.binding(names[0]),
          ...plainBindings({ ...(origin ? { ORIGIN: origin.url } : {}), ...(config === null ? {} : { EDGECACHE: config }), ...bindings }),
        },
      },
      dev: { cacheAPI: true },
    })),
  });
  const url = await mf.ready;
  const locations = [];
  for (const name of names) {
    const fetcher = await mf.getWorker(name);
    const location = client(mf, logs, url, (url, init) => fetcher.fetch(url, init), async () => {});
    location.name = name;
    location.control = async () => JSON.parse((await location.fetch("/__test__/control")).body);
    location.fault = async (fault) => location.fetch("/__test__/control", { method: "POST", body: JSON.stringify({ fault }) });
    location.shieldFault = async (shieldFault) => location.fetch("/__test__/control", { method: "POST", body: JSON.stringify({ shieldFault }) });
    locations.push(location);
  }
  return { mf, logs, locations, dispose: () => mf.dispose() };
}

/** The interface tests use: `fetch`, `stored`, `fetchStored` and `dispose`, over `send`. */
function client(mf, logs, url, send, dispose) {
  const worker = {
    mf,
    logs,
    /** The worker's real HTTP address on loopback, for clients other than dispatchFetch. */
    url,
    /** workerd's inspector (`ws://127.0.0.1:<port>`), when `inspectorPort` was given. */
    inspectorUrl: () => mf.getInspectorURL(),
    /** Fetches `path` through the worker; redirects are returned, not followed. */
    async fetch(target, init = {}) {
      const url = target.startsWith("http") ? target : HOST + target;
      const response = await send(url, { redirect: "manual", ...init });
      const body = await response.text();
      return { status: response.status, headers: response.headers, body, cacheStatus: response.headers.get("cache-status") ?? "" };
    },
    /** As `fetch`, with the body as bytes (a `Buffer`). */
    async fetchBytes(target, init = {}) {
      const url = target.startsWith("http") ? target : HOST + target;
      const response = await send(url, { redirect: "manual", ...init });
      const bytes = Buffer.from(await response.arrayBuffer());
      return { status: response.status, headers: response.headers, bytes, cacheStatus: response.headers.get("cache-status") ?? "" };
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
      const key = `//${url.host}${canonicalPath(url.pathname)}`;
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
    dispose,
  };
  return worker;
}
