//! Glue between the Workers Cache decisions (`fields`, `purge`) and the runtime: setting the
//! fields on a response, and calling `ctx.cache.purge` where the runtime has it (a deployed
//! worker; local workerd has no `ctx.cache`).

use std::future::Future;

use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;
use worker::Context;

use url::Url;

use crate::flow::context::RequestContext;
use crate::runtime::describe;
use edgecache_core::control::registry::PurgeRequest;
use edgecache_core::http::Fields;
use edgecache_core::workers_cache::emit::{emit, CacheAsked, Case, Kept, CDN_FIELD, TAG_FIELD};
use edgecache_core::workers_cache::purge::{calls, PurgeCall};
use edgecache_core::workers_cache::site_of;

/// What Workers Cache must know of a cacheable request for `url` (canonically `target`),
/// `site` being `workers_cache`.
pub fn asked(site: &str, url: &Url, job: &RequestContext, head: bool) -> CacheAsked {
    let target = &job.sending.target;
    let key = &job.plan.key;
    // `/a?` and `/a` are two spellings: only the one the key holds is as keyed.
    let query_as_keyed = match url.query() {
        None => key.query.is_empty(),
        Some(query) => !query.is_empty() && query == key.query,
    };
    let mut path_and_query = key.path.clone();
    if !key.query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&key.query);
    }
    CacheAsked {
        same_site: site == site_of(&target.scheme, &target.authority()),
        head,
        as_keyed: url.path() == key.path && query_as_keyed,
        credentials: job.facts.has_credentials(),
        origin: job.headers.field("origin").is_some(),
        keyed_fields: job.plan.cookies_keyed
            || job.plan.cookies_bypass
            || !job.plan.keyed_headers.is_empty(),
        path_and_query,
    }
}

/// Sets the fields that tell Workers Cache what it may keep of `response`. A response whose
/// fields cannot be changed (a `101` passed through) is left alone: Workers Cache never keeps
/// one.
pub fn tell(response: &Response, asked: Option<&CacheAsked>, kept: Option<&Kept>, assembled: bool) {
    let headers = response.headers();
    let vary = headers.get("vary").ok().flatten();
    let emitted = emit(&Case {
        asked,
        kept,
        assembled,
        status: response.status(),
        vary: vary.as_deref(),
    });
    let _ = headers.set(CDN_FIELD, &emitted.cdn_cache_control);
    if let Some(tags) = &emitted.cache_tag {
        let _ = headers.set(TAG_FIELD, tags);
    }
}

/// Asks Workers Cache to purge what `request` purges (its URLs and prefixes already in the
/// form keys hold), when the runtime offers `ctx.cache.purge`: the calls are made now, and
/// the returned future waits for their answers and logs any failure
/// (`"edgecache":"runtime-cache-purge-failed"`). `None` when there is nothing to ask.
pub fn purge(
    ctx: &Context,
    request: &PurgeRequest,
    site: Option<&str>,
) -> Option<impl Future<Output = ()>> {
    let context: &JsValue = ctx.as_ref().as_ref();
    let cache = js_sys::Reflect::get(context, &"cache".into())
        .ok()
        .filter(JsValue::is_object)?;
    let purge_fn: js_sys::Function = js_sys::Reflect::get(&cache, &"purge".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let calls = calls(request, site);
    if calls.is_empty() {
        return None;
    }
    let pending: Vec<Result<js_sys::Promise, JsValue>> = calls
        .iter()
        .map(|call| {
            purge_fn
                .call1(&cache, &options(call))
                .and_then(|answer| answer.dyn_into::<js_sys::Promise>())
        })
        .collect();
    Some(async move {
        for answer in pending {
            let result = match answer {
                Ok(promise) => JsFuture::from(promise).await,
                Err(error) => Err(error),
            };
            if let Some(error) = failure(result) {
                worker::console_warn!(
                    "{}",
                    json!({ "edgecache": "runtime-cache-purge-failed", "error": edgecache_core::redact::text(&error) })
                );
            }
        }
    })
}

/// The options object of one call: `{tags, pathPrefixes}` or `{purgeEverything: true}`.
fn options(call: &PurgeCall) -> JsValue {
    let options = js_sys::Object::new();
    let set = |name: &str, value: &JsValue| {
        let _ = js_sys::Reflect::set(&options, &name.into(), value);
    };
    let strings = |items: &[String]| items.iter().map(JsValue::from).collect::<js_sys::Array>();
    if call.purge_everything {
        set("purgeEverything", &JsValue::TRUE);
    } else {
        if !call.tags.is_empty() {
            set("tags", &strings(&call.tags));
        }
        if !call.path_prefixes.is_empty() {
            set("pathPrefixes", &strings(&call.path_prefixes));
        }
    }
    options.into()
}

/// What went wrong with one call: it threw or was rejected, or it answered
/// `{success: false, errors: [{code, message}]}`.
fn failure(result: Result<JsValue, JsValue>) -> Option<String> {
    let answer = match result {
        Ok(answer) => answer,
        Err(error) => return Some(describe(&error)),
    };
    let success = js_sys::Reflect::get(&answer, &"success".into()).ok()?;
    if success.is_falsy() && !success.is_undefined() {
        let errors = js_sys::Reflect::get(&answer, &"errors".into()).unwrap_or(JsValue::NULL);
        let text = js_sys::JSON::stringify(&errors)
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        return Some(format!("Workers Cache refused the purge: {text}"));
    }
    None
}
