//! Asking the shield instead of the origin (`edgecache_core::decide::shield` decides when and
//! which shard): the request goes, as the origin would have been sent it, to the shard's
//! Durable Object (`Shield` in `entry.mjs`), which runs this same flow in the role of the
//! shield (`Role::Shield`): its own memory tier and the route's shared tiers, one origin
//! request per key for the whole fleet, and answers made for caches (every field the origin
//! sent, `Cache-Status` named `edgecache-shield`).
//!
//! When the shard cannot be asked (the binding throws, the object is overloaded or does not
//! answer within `origin_timeout_ms`), the location goes to the origin itself: the shield
//! fails open, and the answer then carries no `edgecache-shield` member.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Response};

use crate::runtime::describe;
use edgecache_core::decide::shield::ORIGIN_FAILED_FIELD;

/// Where a request is answered: at a location (the edge), or at the shield for every location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Edge,
    Shield,
}

/// The binding `wrangler.toml` declares for the shield's Durable Object class.
pub const SHIELD_BINDING: &str = "EDGECACHE_SHIELD";

/// A location's way to its shield: the namespace, where objects are placed, how many.
#[derive(Clone)]
pub struct ShieldNamespace {
    pub namespace: JsValue,
    pub location_hint: Option<String>,
    pub shards: u32,
}

impl ShieldNamespace {
    /// The `EDGECACHE_SHIELD` binding of `env`, if the worker has one.
    pub fn of(env: &worker::Env, location_hint: Option<String>, shards: u32) -> Option<Self> {
        let namespace = js_sys::Reflect::get(env, &JsValue::from_str(SHIELD_BINDING)).ok()?;
        if namespace.is_undefined() || namespace.is_null() {
            return None;
        }
        Some(ShieldNamespace {
            namespace,
            location_hint,
            shards,
        })
    }
}

/// One request to one shard.
pub struct ShieldRequest<'a> {
    pub namespace: &'a ShieldNamespace,
    pub shard: &'a str,
    /// The URL the client asked for, as the key says it (the shield computes the same key).
    pub url: &'a str,
    pub method: &'a str,
    pub headers: &'a Headers,
    pub timeout_ms: u64,
}

/// What asking the shield came to.
pub enum Asked {
    /// The shield's answer, to be judged as the origin's.
    Answer(Response),
    /// The shield reached no origin (`origin-timeout`, `origin-unreachable`): the location
    /// acts as if its own request had failed.
    OriginFailed(String),
    /// The shield could not be asked: the location goes to the origin itself.
    Unavailable(String),
}

/// Sends `request` to its shard and waits for the answer's headers at most `timeout_ms`.
pub async fn ask(request: &ShieldRequest<'_>) -> Asked {
    let promise = glue::shield_fetch(
        &request.namespace.namespace,
        request.shard,
        request.namespace.location_hint.as_deref(),
        request.url,
        request.method,
        request.headers,
        request.timeout_ms as f64,
    );
    let answer = match JsFuture::from(promise).await {
        Err(error) => return Asked::Unavailable(describe(&error)),
        Ok(late) if late.is_null() => {
            return Asked::Unavailable(format!("no answer within {} ms", request.timeout_ms))
        }
        Ok(answer) => answer,
    };
    let Ok(response) = answer.dyn_into::<Response>() else {
        return Asked::Unavailable("the shield's answer is not a response".into());
    };
    match response.headers().get(ORIGIN_FAILED_FIELD).ok().flatten() {
        Some(how) => Asked::OriginFailed(how),
        None => Asked::Answer(response),
    }
}

/// Tells the shard that a location invalidated `url` (RFC 9111 §4.4, an unsafe method's
/// success): the shield drops its copy too. `headers` are the client's, for the key's variant.
pub async fn invalidate(
    namespace: &ShieldNamespace,
    shard: &str,
    url: &str,
    headers: &Headers,
    timeout_ms: u64,
) -> Result<(), String> {
    let promise = glue::shield_fetch(
        &namespace.namespace,
        shard,
        namespace.location_hint.as_deref(),
        url,
        INVALIDATE_METHOD,
        headers,
        timeout_ms as f64,
    );
    match JsFuture::from(promise).await {
        Err(error) => Err(describe(&error)),
        Ok(late) if late.is_null() => Err(format!("no answer within {timeout_ms} ms")),
        Ok(answer) => match answer.dyn_into::<Response>() {
            Ok(response) if response.ok() => Ok(()),
            Ok(response) => Err(format!("the shield answered {}", response.status())),
            Err(_) => Err("the shield's answer is not a response".into()),
        },
    }
}

/// The method a location's invalidation reaches the shield with: never one a client's
/// request could carry there (only the worker's own binding reaches the shield).
pub const INVALIDATE_METHOD: &str = "PURGE";

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;
    use web_sys::Headers;

    // Like the origin's `fetchWithin`: one call, the deadline kept beside the fetch it bounds.
    // A shard that throws (overloaded, reset, not deployed) rejects; one that is late
    // resolves to null.
    #[wasm_bindgen(inline_js = "
export function shieldFetch(namespace, shard, hint, url, method, headers, ms) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); });
  const settled = (response) => { clearTimeout(timer); return response; };
  const failed = (error) => { clearTimeout(timer); throw error; };
  let answer;
  try {
    const id = namespace.idFromName(shard);
    const stub = hint ? namespace.get(id, { locationHint: hint }) : namespace.get(id);
    answer = stub.fetch(url, { method, headers, redirect: 'manual' });
  } catch (error) {
    answer = Promise.reject(error);
  }
  return Promise.race([answer.then(settled, failed), late]);
}
")]
    extern "C" {
        /// The shard's `Response`, or `null` when its headers did not come within `ms`.
        #[wasm_bindgen(js_name = shieldFetch)]
        pub fn shield_fetch(
            namespace: &JsValue,
            shard: &str,
            hint: Option<&str>,
            url: &str,
            method: &str,
            headers: &Headers,
            ms: f64,
        ) -> js_sys::Promise;
    }
}
