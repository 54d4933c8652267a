//! Asking the control plane: the Durable Object bound as `EDGECACHE_CONTROL`, one instance per
//! deployment (named by `key_prefix`). It is the single writer of purges and the home of the
//! purge log and the stats; `object.rs` is the object itself.

use std::fmt;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::runtime::describe;

/// The Durable Object namespace binding (`[[durable_objects.bindings]]` in wrangler.toml).
pub const BINDING: &str = "EDGECACHE_CONTROL";
/// The class exported by the worker (`new_sqlite_classes` in wrangler.toml's migrations).
pub const CLASS: &str = "ControlPlane";

/// How long a purge may take to be recorded before it is answered 503.
pub const PURGE_TIMEOUT_MS: u64 = 10_000;
/// How long a reader waits for the registry's sequence number.
pub const REGISTRY_TIMEOUT_MS: u64 = 2_000;
/// How long a stats report or read may take.
pub const STATS_TIMEOUT_MS: u64 = 5_000;

/// The control plane did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// It could not be asked, or answered with an error: what was asked did not happen.
    Failed(String),
    /// No answer came in time (ms): what was asked may have happened all the same.
    NoAnswer(u64),
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreachable::Failed(reason) => {
                write!(
                    f,
                    "the control plane ({BINDING}) could not be reached: {reason}"
                )
            }
            Unreachable::NoAnswer(ms) => {
                write!(
                    f,
                    "the control plane ({BINDING}) did not answer within {ms} ms"
                )
            }
        }
    }
}

/// The object's name for a deployment: one instance per `key_prefix`.
fn object_name(key_prefix: &str) -> String {
    format!("edgecache:{key_prefix}")
}

/// Sends one request to the deployment's object and returns its JSON text; a missing
/// binding, a thrown error or an answer that is not a 2xx is `Failed`, no answer within
/// `timeout_ms` is `NoAnswer`.
pub async fn ask(
    env: &Env,
    key_prefix: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout_ms: u64,
) -> Result<String, Unreachable> {
    let env: &JsValue = env;
    let answer = glue::ask_control(
        env,
        BINDING,
        &object_name(key_prefix),
        key_prefix,
        method,
        path,
        body,
        timeout_ms as f64,
    );
    let answer = JsFuture::from(answer)
        .await
        .map_err(|e| Unreachable::Failed(describe(&e)))?;
    if answer.is_null() {
        return Err(Unreachable::NoAnswer(timeout_ms));
    }
    answer
        .as_string()
        .ok_or_else(|| Unreachable::Failed("an answer that is not text".into()))
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;

    // In JavaScript, so that a binding a test wraps in a plain object (to count requests or
    // inject faults) is called as the runtime's own would be.
    #[wasm_bindgen(inline_js = "
export function askControl(env, binding, name, prefix, method, path, body, ms) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  const asked = (async () => {
    const namespace = env[binding];
    if (!namespace || typeof namespace.idFromName !== 'function') {
      throw new Error(`no Durable Object namespace bound as ${binding}`);
    }
    const stub = namespace.get(namespace.idFromName(name));
    const init = { method, headers: { 'x-edgecache-prefix': prefix } };
    if (body !== undefined && body !== null) init.body = body;
    const response = await stub.fetch('https://control.edgecache.internal' + path, init);
    const text = await response.text();
    if (!response.ok) throw new Error(`${response.status} ${text.slice(0, 200)}`);
    return text;
  })();
  return Promise.race([asked, late]).finally(() => clearTimeout(timer));
}
")]
    extern "C" {
        /// The object's answer as text, `null` when none came within `ms`; rejects when it
        /// could not be asked or answered with an error.
        #[wasm_bindgen(js_name = askControl)]
        #[allow(clippy::too_many_arguments)]
        pub fn ask_control(
            env: &JsValue,
            binding: &str,
            name: &str,
            prefix: &str,
            method: &str,
            path: &str,
            body: Option<&str>,
            ms: f64,
        ) -> js_sys::Promise;
    }
}
