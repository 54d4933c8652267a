//! Failed admin authentications, rate-limited per client address with the Workers Rate
//! Limiting binding `EDGECACHE_ADMIN_LIMITER` (`[[ratelimits]]` in wrangler.toml).
//!
//! Only failures are counted, so an admin's own calls never use up the limit. The binding can
//! only count (asking it is a failure counted), so each isolate remembers the clients the
//! binding has found over the limit (`throttle`) and refuses their next attempts itself,
//! before any token is compared, for `BLOCK_S`. Without the binding (or when it fails) the
//! isolate counts failures itself, with the same limit, and says so in its log once.

use std::cell::{Cell, RefCell};

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::runtime::{describe, now_ms};
use edgecache_core::admin::throttle::Throttle;

/// The Rate Limiting binding's name.
pub const BINDING: &str = "EDGECACHE_ADMIN_LIMITER";
/// Failures per client and period when this isolate counts them: as wrangler.toml configures
/// the binding.
pub const FALLBACK_LIMIT: u32 = 10;
pub const FALLBACK_PERIOD_S: u64 = 60;
/// How long a client the binding found over its limit is refused here, and its `Retry-After`:
/// the longest period a binding can have (10 or 60 s), which the worker cannot read.
pub const BLOCK_S: u64 = 60;
/// Clients this isolate keeps track of at a time.
const TRACKED_CLIENTS: usize = 4096;

thread_local! {
    static THROTTLE: RefCell<Throttle> = RefCell::new(Throttle::new(
        FALLBACK_LIMIT,
        FALLBACK_PERIOD_S as i64 * 1000,
        TRACKED_CLIENTS,
    ));
    static WARNED: Cell<bool> = const { Cell::new(false) };
}

/// Seconds `client` must wait before trying a token again, if it is over the limit.
pub fn blocked(client: &str) -> Option<u64> {
    THROTTLE.with(|t| t.borrow().blocked(client, now_ms()))
}

/// Counts a failed authentication of `client`: `Some(seconds to wait)` when it is one too many.
pub async fn failed(env: &Env, client: &str) -> Option<u64> {
    let reason = match limiter(env) {
        Some((binding, limit)) => match ask(&binding, &limit, client).await {
            Ok(true) => return None,
            Ok(false) => {
                THROTTLE.with(|t| t.borrow_mut().block(client, now_ms(), BLOCK_S));
                return Some(BLOCK_S);
            }
            Err(error) => format!("the {BINDING} binding failed: {error}"),
        },
        None => format!("no {BINDING} rate limiting binding"),
    };
    warn_once(&reason);
    THROTTLE.with(|t| t.borrow_mut().fail(client, now_ms()))
}

/// The binding and its `limit` method, if the environment has a rate limiter under `BINDING`.
fn limiter(env: &Env) -> Option<(JsValue, js_sys::Function)> {
    let binding = js_sys::Reflect::get(env, &JsValue::from_str(BINDING))
        .ok()
        .filter(JsValue::is_object)?;
    let limit = js_sys::Reflect::get(&binding, &JsValue::from_str("limit"))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    Some((binding, limit))
}

/// `binding.limit({ key: client })`: whether the client is still within its limit.
async fn ask(binding: &JsValue, limit: &js_sys::Function, client: &str) -> Result<bool, String> {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"key".into(), &JsValue::from_str(client))
        .map_err(|e| describe(&e))?;
    let promise = limit
        .call1(binding, &options)
        .map_err(|e| describe(&e))?
        .dyn_into::<js_sys::Promise>()
        .map_err(|_| "limit() did not return a promise".to_string())?;
    let outcome = JsFuture::from(promise).await.map_err(|e| describe(&e))?;
    js_sys::Reflect::get(&outcome, &"success".into())
        .ok()
        .and_then(|s| s.as_bool())
        .ok_or_else(|| "limit() gave no `success`".to_string())
}

fn warn_once(reason: &str) {
    if WARNED.with(|w| w.replace(true)) {
        return;
    }
    worker::console_warn!(
        "{}",
        serde_json::json!({
            "edgecache": "admin-rate-limit",
            "error": reason,
            "fallback": format!(
                "failed admin logins are limited in this isolate only ({FALLBACK_LIMIT} per {FALLBACK_PERIOD_S} s per client address); add [[ratelimits]] {BINDING} to wrangler.toml"
            ),
        })
    );
}
