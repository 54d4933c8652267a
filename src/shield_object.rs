//! The shield's Durable Object class, `Shield` (bound as `EDGECACHE_SHIELD`; wrangler.toml's
//! migration `shield-v1`): one object per shard of keys, which every location asks on a miss
//! instead of the origin (`shield = true` in the policy). It runs the same flow as the proxy,
//! in the shield's role (`flow::shield`), and keeps nothing in its storage: its entries live
//! in the isolate's memory tier and the deployment's shared tiers. `entry.mjs` exports the
//! class under its wrangler name and builds it again after a Wasm crash.

use std::rc::Rc;

use url::Url;
use wasm_bindgen::JsValue;
use worker::{durable_object, Context, DurableObject, Env, Request, Response, State};

use edgecache_core::status::{Outcome, Reason};

use crate::control::stats_report;
use crate::flow;
use crate::flow::error::RequestError;
use crate::flow::origin::OriginError;
use crate::flow::report::Handled;
use crate::runtime::now_ms;
use crate::{counted_tags, log_request, sent_bytes, settings};

#[durable_object(fetch)]
pub struct Shield {
    state: State,
    env: Env,
}

impl DurableObject for Shield {
    fn new(state: State, env: Env) -> Self {
        Shield { state, env }
    }

    /// A location's miss, answered for every location. Its errors are the location's to fail
    /// open on: a broken configuration or URL is an error, and the location then asks the
    /// origin itself.
    async fn fetch(&self, request: Request) -> worker::Result<Response> {
        // A Durable Object has no execution context: its state's waitUntil stands in for one.
        let ctx = Context::new(glue::context_of(self.state.as_raw()));
        serve(Clone::clone(request.inner()), self.env.clone(), ctx)
            .await
            .map(Response::from)
            .map_err(worker::Error::from)
    }
}

async fn serve(
    request: web_sys::Request,
    env: Env,
    ctx: Context,
) -> Result<web_sys::Response, JsValue> {
    use edgecache_core::decide::shield::{origin_failed, ORIGIN_FAILED_FIELD};
    let started = now_ms();
    let ctx = Rc::new(ctx);
    let settings =
        settings(&env).map_err(|e| JsValue::from_str(&format!("edgecache shield: {e}")))?;
    let url = Url::parse(&request.url())
        .map_err(|e| JsValue::from_str(&format!("edgecache shield: bad URL: {e}")))?;
    let role = flow::shield::Role::Shield;
    if request.method() == flow::shield::INVALIDATE_METHOD {
        let headers = request.headers();
        let errors = flow::invalidate(role, &env, &settings.config, &url, &headers, None).await;
        let status = if errors.is_empty() { 204 } else { 500 };
        let outcome = Outcome::bypass(Reason::Admin);
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return flow::reply::plain(status, &text.join("\n"), &outcome);
    }
    let Handled { response, report } =
        flow::handle_at(role, &request, &url, &env, &ctx, &settings, None).await;
    let response = response?;
    // Out of time before the origin could be asked (a request that waited out its location's
    // deadline for another's fetch whose answer was still streaming in): that says nothing of
    // the origin, which did answer that fetch. The location fails open, as when the shield
    // does not answer in time, instead of giving its client a 504 it never had.
    let out_of_time = |e: &RequestError| matches!(e, RequestError::Origin(OriginError::NoTimeLeft));
    if report.errors.iter().any(out_of_time) {
        return Err(JsValue::from_str(
            "edgecache shield: no time left to ask the origin",
        ));
    }
    // An error page of the shield's own (no answer from the origin) is not an answer: the
    // location acts on the failure itself (stale-if-error, or its own error page).
    if let Some(how) = origin_failed(&report.outcome) {
        let _ = response.headers().set(ORIGIN_FAILED_FIELD, how);
    }
    // What the shield answered without asking the origin, it counts as kept from the origin
    // (the location counts the request); and it reports what it counted, its origin requests
    // included.
    let host = edgecache_core::request::target::canonical_host(&url);
    let route = report.route.as_deref().unwrap_or("default");
    let tags = counted_tags(&settings.config, &report);
    let due = if edgecache_core::control::stats::kept_from_origin(&report.outcome) {
        let bytes = sent_bytes(&request.method(), &response, report.bytes_from_cache);
        stats_report::record_shield_kept(route, &host, tags, bytes)
    } else {
        stats_report::due()
    };
    if let Some(delta) = due {
        let key_prefix = settings.config.key_prefix.clone();
        ctx.wait_until(stats_report::flush(env.clone(), key_prefix, delta));
    }
    if settings.config.request_log.wants(
        matches!(report.outcome, Outcome::Hit { .. }),
        !report.errors.is_empty(),
    ) {
        log_request(
            "SHIELD",
            &url,
            &Ok(Clone::clone(&response)),
            &report,
            started,
        );
    }
    Ok(response)
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen(inline_js = "
export function contextOf(state) {
  return { waitUntil: (promise) => state.waitUntil(promise), passThroughOnException() {} };
}
")]
    extern "C" {
        /// An execution context whose `waitUntil` is the object's.
        #[wasm_bindgen(js_name = contextOf)]
        pub fn context_of(
            state: &worker::worker_sys::DurableObjectState,
        ) -> worker::worker_sys::Context;
    }
}
