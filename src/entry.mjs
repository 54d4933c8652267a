// The worker's JavaScript entry point: hands each request straight to the Wasm `fetch`.
//
// worker-build's own entry wraps every request in a WorkerEntrypoint instance behind two
// Proxies; on a cache hit that wrapping cost as much as the cache itself. This keeps only
// what it is for: after a Wasm trap (a Rust panic), the next request runs on a fresh
// instance instead of a poisoned one.
import { DurableObject } from "cloudflare:workers";
import * as wasm from "./index.js";

const init = wasm.__worker_init_state();

// A Rust panic mid-call (after the call's first await) traps in a job of the runtime's, not in
// the call: the call's promise would then never settle, and its caller (a location asking the
// shield, a worker asking the control plane) waits for its own deadline. workers-rs's panic hook
// sets `criticalError` as the panic begins: from there, every call into the Durable Objects
// still under way is rejected, and the caller fails open at once.
const underWay = new Set();
// Read as a plain variable on each request; `init.criticalError` is its accessor.
let critical = init.criticalError;
Object.defineProperty(init, "criticalError", {
  get: () => critical,
  set(value) {
    critical = value;
    if (!value) return;
    const error = new Error("edgecache: the Wasm instance crashed during this call");
    for (const reject of underWay) reject(error);
    underWay.clear();
  },
});

function reinitialiseAfterCrash() {
  if (critical) {
    console.error("edgecache: reinitialising Wasm after a crash");
    wasm.__wbg_reset_state();
    init.criticalError = false;
    init.instanceId++;
  }
}

function noteCrash(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error("edgecache: Wasm crashed", error);
    init.criticalError = true;
  }
  throw error;
}

addEventListener("error", (event) => {
  if (event.error instanceof WebAssembly.RuntimeError) init.criticalError = true;
});

/** Runs one Wasm entry point, noting a crash so the next request starts afresh. */
function run(entry, request, env, ctx) {
  reinitialiseAfterCrash();
  try {
    // A `Response` when the Wasm answered without waiting (a memory hit), else a `Promise`.
    const answer = entry(request, env, ctx);
    return answer instanceof Promise ? answer.catch(noteCrash) : answer;
  } catch (error) {
    return noteCrash(error);
  }
}

export default {
  fetch(request, env, ctx) {
    return run(wasm.fetch, request, env, ctx);
  },
};

/**
 * A Durable Object class written in Rust (`#[durable_object]`: a class of the Wasm module's
 * glue, looked up by `name`), exported under its wrangler.toml name. Its Rust instance lives
 * in the Wasm instance's memory: after a crash, the next call builds it again, from the same
 * state and environment, on the fresh instance. Everything it keeps is in its SQLite storage.
 * (worker-build's shim wraps such classes in a Proxy to the same end; this is that, for the
 * one method they have.)
 */
function rustDurableObject(name) {
  return class extends DurableObject {
    #inner = null;
    #instanceId = -1;

    fetch(request) {
      reinitialiseAfterCrash();
      try {
        if (this.#instanceId !== init.instanceId) {
          // Looked up by name: a library build of the crate (without the `proxy` feature, as
          // the low-level API's example worker is) has no such class, and binds none.
          const Class = wasm[name];
          if (typeof Class !== "function") throw new Error(`edgecache: this build has no ${name}`);
          this.#inner = new Class(this.ctx, this.env);
          this.#instanceId = init.instanceId;
        }
        return settledOnCrash(this.#inner.fetch(request)).catch(noteCrash);
      } catch (error) {
        return noteCrash(error);
      }
    }
  };
}

/** `promise`, or its rejection when the Wasm instance crashes before it settles. */
function settledOnCrash(promise) {
  let reject;
  const crashed = new Promise((_, no) => {
    reject = no;
  });
  underWay.add(reject);
  return Promise.race([promise, crashed]).finally(() => underWay.delete(reject));
}

/**
 * The control plane (bound as EDGECACHE_CONTROL): one object per deployment, the single
 * writer of purges, home of the purge log and the stats (src/control/object.rs).
 */
export const ControlPlane = rustDurableObject("ControlPlane");

/**
 * The shield (bound as EDGECACHE_SHIELD; `shield = true` in the policy): one object per shard
 * of keys, which every location asks on a miss instead of the origin, running the same Wasm
 * flow in the shield's role (src/flow/shield.rs).
 */
export const Shield = rustDurableObject("Shield");
