// Runs the built worker (build/index.js + Wasm) on workerd through Miniflare, with real
// local KV and Cache API storage, in front of a test origin.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const HOST = "http://edge.test";

/** The compatibility date of wrangler.toml: tests run the worker as it is deployed. */
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(fs.readFileSync(path.join(root, "wrangler.toml"), "utf8"))[1];

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

/** A path as keys hold it (RFC 3986 §6.2.2): unreserved characters decoded, other escapes in upper case. */
export function canonicalPath(path) {
  return path.replace(/%([0-9a-fA-F]{2})/g, (escape, hex) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/**
 * `persist`: a folder for KV and Cache API data, so that several workers (or restarts with
 * another configuration) share storage; `kvPersist` a folder for KV alone. Without them,
 * storage lives and dies with the worker.
 * `scriptPath`: another built worker (e.g. an example's `build/index.js`) instead of edgecache.
 * The worker's log lines are collected in `worker.logs` (printed too with EDGECACHE_TEST_LOGS=1).
 * `entry`: the source of a module run as the worker's entry point instead of `scriptPath`,
 * which it imports as "./index.js" (to wrap bindings and inject faults).
 * `inspectorPort`: opens workerd's V8 inspector there, 0 for any free port
 * (`worker.inspectorUrl()`, tests/support/inspector.mjs).
 * `ratelimits`: Rate Limiting bindings, as wrangler.toml's `[[ratelimits]]` declare them
 * (`{ EDGECACHE_ADMIN_LIMITER: { simple: { limit: 10, period: 60 } } }`); none by default.
 */
export async function startWorker({ origin, config = {}, bindings = {}, kvNamespaces = ["EDGECACHE_KV"], persist, kvPersist, scriptPath = path.join(root, "build/index.js"), entry, inspectorPort, ratelimits } = {}) {
  const logs = [];
  const collect = ({ message }) => {
    for (const line of message.split("\n")) {
      logs.push(line);
      if (process.env.EDGECACHE_TEST_LOGS) console.log(line);
    }
  };
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
  // The built worker (`index.js` and its Wasm beside it), or `entry` in front of it.
  const dir = path.dirname(scriptPath);
  const modules = {
    "index.js": { type: "esm", contents: fs.readFileSync(scriptPath, "utf8") },
    "index_bg.wasm": { type: "wasm", contents: new Uint8Array(fs.readFileSync(path.join(dir, "index_bg.wasm"))) },
  };
  if (entry) modules["test-entry.mjs"] = { type: "esm", contents: entry };
  const mf = new Miniflare({
    handleStructuredLogs: collect,
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
          name: "edgecache",
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: { mainModule: entry ? "test-entry.mjs" : "index.js", modulesRoot: dir, modules },
          env: {
            ...Object.fromEntries(kvNamespaces.map((name) => [name, { type: "kv", id: name }])),
            ...rateLimitBindings(ratelimits),
            ...plainBindings({ ...(origin ? { ORIGIN: origin.url } : {}), ...(config === null ? {} : { EDGECACHE: config }), ...bindings }),
          },
        },
        dev: { cacheAPI: true },
      },
    ],
  });
  const url = await mf.ready;

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
    async dispose() {
      await mf.dispose();
      if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
  return worker;
}
