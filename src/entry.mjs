// The worker's JavaScript entry point: hands each request straight to the Wasm `fetch`.
//
// worker-build's own entry wraps every request in a WorkerEntrypoint instance behind two
// Proxies; on a cache hit that wrapping cost as much as the cache itself. This keeps only
// what it is for: after a Wasm trap (a Rust panic), the next request runs on a fresh
// instance instead of a poisoned one.
import * as wasm from "./index.js";

// The control plane's Durable Object class (bound as EDGECACHE_CONTROL in wrangler.toml): a
// Durable Object class must be exported by the worker's main module.
export { ControlPlane } from "./control_object.mjs";

const init = wasm.__worker_init_state();

function reinitialiseAfterCrash() {
  if (init.criticalError) {
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
 * The shield (bound as EDGECACHE_SHIELD; `shield = true` in the policy): one object per shard
 * of keys, which every location asks on a miss instead of the origin, running the same Wasm
 * flow in the shield's role (src/flow/shield.rs). A Durable Object has no execution context:
 * its state's waitUntil stands in for one.
 */
// Looked up by name: a library build of the crate (without the `proxy` feature, as the
// low-level API's example worker is) has no shield entry point, and binds no Shield.
const SHIELD_ENTRY = "shieldFetch";

export class Shield {
  constructor(state, env) {
    this.env = env;
    this.ctx = {
      waitUntil: (promise) => state.waitUntil(promise),
      passThroughOnException() {},
    };
  }

  fetch(request) {
    return run(wasm[SHIELD_ENTRY], request, this.env, this.ctx);
  }
}
