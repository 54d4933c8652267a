// The one set-up of the integration tests: an origin on loopback that records every request
// (tests/support/origin.mjs) and the built worker in front of it (workerd through Miniflare,
// tests/support/worker.mjs), started together and stopped together, the worker first.
//
// A suite whose tests share them calls `withWorker(options)` in its `describe`: both start in
// a `before` hook and stop in an `after` hook. It returns `{ origin, worker }` (or
// `{ origin, deployment }` with `locations`), handles that stand for what the hook started,
// usable in tests and in hooks registered after the call:
//
//   describe("purging (memory)", () => {
//     const { origin, worker } = withWorker({ bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory"] } });
//     before(() => origin.on("/tagged", { headers: { "cache-control": "max-age=600" } }));
//     it("purges a URL", async () => { await worker.fetch("/tagged"); ... });
//   });
//
// One test that needs its own calls `setup(options)` and stops what it started itself:
//
//   const { origin, worker, dispose } = await setup({ config: { backends: ["kv"] } });
//   try { ... } finally { await dispose(); }
//
// Options are startWorker's (`config`, `bindings`, `kvNamespaces`, `r2Buckets`, `persist`, `kvPersist`,
// `scriptPath`, `entry`, `control`, `inspectorPort`, `ratelimits`; tests/support/worker.mjs;
// an option startWorker learns later, a binding of another kind, passes through as it is),
// and:
// - `origin`: "recording" (the default) starts a tests/support/origin.mjs origin; "hostile" a
//   tests/support/hostile-origin.mjs one; both are closed by `dispose`. `null`: no origin (no
//   ORIGIN binding). An origin started elsewhere (another suite's, or any `{ url }`) is used
//   and left open: several workers can stand in front of one origin.
// - `locations: { count, oneLocation }`: several locations of one deployment
//   (`startLocations`) instead of one worker; the result has `deployment` instead of `worker`.
// `withWorker(() => options)` reads the options when its hook runs, for values an earlier
// `before` hook made (a folder for `kvPersist`).
//
// A suite whose tests each start their own worker in front of one origin calls
// `withOrigin()` ("recording", or "hostile") for `{ origin }`, and passes it on:
// `const { worker } = await setup({ origin, config })`; `dispose` (or `worker.dispose()`,
// the same then) stops that worker and leaves the suite's origin to its `after` hook.
//
// Every server listens on 127.0.0.1 only. `setup` stops the origin it started if the worker
// fails to start, so a broken build fails the test instead of leaving a server behind.
import { after, before } from "node:test";
import { startOrigin } from "./origin.mjs";
import { startHostileOrigin } from "./hostile-origin.mjs";
import { startLocations, startWorker } from "./worker.mjs";

const ORIGINS = { recording: startOrigin, hostile: startHostileOrigin };

/**
 * Starts the origin and the worker (or the locations) in front of it. Returns
 * `{ origin, worker, fetch, dispose }` (`deployment` instead of `worker` with `locations`);
 * `fetch` is the worker's, `dispose` stops the worker, then the origin if it started it.
 */
export async function setup({ origin = "recording", locations, ...options } = {}) {
  const owned = typeof origin === "string";
  if (owned && !ORIGINS[origin]) throw new Error(`unknown origin "${origin}": "recording", "hostile", null or a started origin`);
  const server = owned ? await ORIGINS[origin]() : origin ?? undefined;
  const closeOrigin = async () => {
    if (owned) await server.close();
  };
  let running;
  try {
    running = locations ? await startLocations({ ...locations, ...options, origin: server }) : await startWorker({ ...options, origin: server });
  } catch (error) {
    await closeOrigin();
    throw error;
  }
  const dispose = async () => {
    try {
      await running.dispose();
    } finally {
      await closeOrigin();
    }
  };
  return locations
    ? { origin: server, deployment: running, dispose }
    : { origin: server, worker: running, fetch: (target, init) => running.fetch(target, init), dispose };
}

/**
 * Starts the origin and the worker before the tests of the enclosing `describe` and stops
 * them after; returns handles for them (see the top of this file). `options` as `setup`'s, or
 * a function that returns them when the hook runs.
 */
export function withWorker(options = {}) {
  let running;
  before(async () => {
    running = await setup(typeof options === "function" ? options() : options);
  });
  after(async () => {
    await running?.dispose();
  });
  return {
    origin: handle("origin", () => running?.origin),
    worker: handle("worker", () => running?.worker),
    deployment: handle("deployment", () => running?.deployment),
  };
}

/** Starts an origin ("recording" or "hostile") before the enclosing `describe`'s tests and closes it after; returns `{ origin }`, a handle for it. */
export function withOrigin(kind = "recording") {
  if (!ORIGINS[kind]) throw new Error(`unknown origin "${kind}": "recording" or "hostile"`);
  let origin;
  before(async () => {
    origin = await ORIGINS[kind]();
  });
  after(async () => {
    await origin?.close();
  });
  return { origin: handle("origin", () => origin) };
}

/**
 * A stand-in for an object a `before` hook starts later: every property is read from (and
 * written to) the object itself, methods bound to it.
 */
function handle(what, current) {
  const target = () => {
    const value = current();
    if (!value) throw new Error(`the ${what} is not running: use it in a test, or in a hook registered after withWorker()`);
    return value;
  };
  return new Proxy(Object.create(null), {
    get(_, key) {
      const object = target();
      const value = Reflect.get(object, key, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
    set: (_, key, value) => Reflect.set(target(), key, value),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor(_, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
  });
}
