//! Forwarding a request to the origin, with a deadline for its response headers.
//!
//! A request whose answer may be stored is sent as its key describes it, and nothing more:
//! the URL is rebuilt from the key (canonical host and path, only the query pieces the key
//! keeps, so `utm_content="><script>` never reaches an origin that would reflect it into a
//! page stored for `/page`), and of the client's fields only those the configuration lets
//! through (`Plan::forwards`: the negotiation fields, `Origin`, the credentials, the key's own
//! fields and `forward_headers`), each as the key holds it (`field_value`: the negotiation
//! fields in their canonical form). Every other field, `X-Forwarded-*`, `X-Real-IP`,
//! `True-Client-IP`, `Forwarded`, `X-Original-URL`, method overrides and the like, stays
//! behind, and the edge sets `X-Forwarded-Host` and `X-Forwarded-Proto` from the key. The
//! client's own validators are not sent on either: the cache wants the full response to
//! keep, and answers conditionals itself; when it revalidates, it sends the stored
//! response's validators instead. A fetch that refreshes a stored entry leaves behind the
//! credentials its key does not hold (`withheld`, `decide::refresh`): it asks as anyone with
//! the key would. Requests that are not cacheable (other methods, bypass
//! rules, a `Range` whose answer cannot be kept as a part) go as the client sent them.

use std::cell::Cell;
use std::rc::Rc;

use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, Response};

use crate::flow::shield::{self, Asked, ShieldNamespace, ShieldRequest};
use crate::runtime::{copy_only, describe, name_list};
use edgecache_core::control::origin_times::OriginAnswer;
use edgecache_core::decide::answer::AnsweredBy;
use edgecache_core::decide::arrival::HOP_HEADER;
use edgecache_core::decide::shield::{via, Sending, Via, DEADLINE_FIELD};
use edgecache_core::http::SURROGATE_NAME;
use edgecache_core::request::field_value::{is_canonical, keyed_value};
use edgecache_core::request::key::cookie_value;
use edgecache_core::request::plan::Plan;
use edgecache_core::request::target::Target;

/// How a request is forwarded. Owns what it needs, so a background refresh can use it after
/// the client's response has gone.
#[derive(Clone)]
pub struct Forward {
    pub request: Request,
    /// What is fetched: the origin's URL when `ORIGIN` is set, else the request's own.
    pub url: String,
    /// `Some` for a request whose answer may be stored: what it sends on of the client's.
    pub cacheable: Option<Rc<Cacheable>>,
    /// Conditional fields from a stored response being revalidated.
    pub validators: Vec<(String, String)>,
    /// On a cacheable request, the client's fields the URL's responses vary on: sent on too.
    pub vary_fields: Vec<String>,
    /// The client's credential fields that stay behind (`decide::refresh::sent`): a stored
    /// entry is refreshed as anyone with its key would ask for it.
    pub withheld: Vec<String>,
    /// Sent instead of the request's method (a HEAD revalidates the stored GET).
    pub method: Option<&'static str>,
    pub timeout_ms: u64,
    /// The route assembles ESI: say so in `Surrogate-Capability`.
    pub esi: bool,
    /// On a shielded route, the shield a cacheable request may be sent to instead.
    pub shield: Option<Rc<ShieldRoute>>,
    /// A client's forced refresh (`fwd=request`): the shield is asked with `no-cache` too.
    pub refresh: bool,
    /// Who answered the last `send`.
    pub answered_by: Cell<AnsweredBy>,
}

/// What a cacheable request on a shielded route needs to be sent to the shield.
pub struct ShieldRoute {
    pub namespace: ShieldNamespace,
    /// The key the answer is stored under: its shard's.
    pub key: String,
    /// The URL the client asked for as the key says it (not the origin's).
    pub url: String,
    /// The request carries credentials: never through the shield.
    pub credentials: bool,
    /// An ESI include whose key carries more than its route's (never through the shield).
    pub keyed_beyond_route: bool,
}

/// What a request whose answer may be stored sends on of the client's request.
pub struct Cacheable {
    /// The client's fields that are sent on (lowercase); every other one stays behind.
    pub fields: Vec<String>,
    /// With a route's `vary_cookies`, only those cookies reach the origin, so it cannot
    /// personalise a stored page on a cookie the key does not carry.
    pub keep_cookies: Vec<String>,
    /// The keyed host and scheme, sent as `X-Forwarded-Host` and `X-Forwarded-Proto`.
    pub host: String,
    pub scheme: String,
}

/// `path_and_query` (`/a?b`) on `origin` when it is set, else at `scheme_and_authority`
/// (`https://host[:port]`, the request's own).
fn fetched_url(origin: Option<&Url>, scheme_and_authority: &str, path_and_query: &str) -> String {
    match origin {
        Some(origin) => format!("{}{path_and_query}", origin.origin().ascii_serialization()),
        None => format!("{scheme_and_authority}{path_and_query}"),
    }
}

/// `/path?query` of `path` and `query` (no `?` for an empty query).
fn path_and_query(path: &str, query: Option<&str>) -> String {
    match query.filter(|q| !q.is_empty()) {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    }
}

impl Forward {
    /// The client's request as it is (other methods, bypass rules, a `Range` pass).
    pub fn as_sent(request: &Request, url: &Url, origin: Option<&Url>, timeout_ms: u64) -> Forward {
        let url = match origin {
            None => url.to_string(),
            Some(origin) => format!(
                "{}{}",
                origin.origin().ascii_serialization(),
                path_and_query(url.path(), url.query())
            ),
        };
        Forward {
            request: Clone::clone(request),
            url,
            cacheable: None,
            validators: Vec::new(),
            vary_fields: Vec::new(),
            withheld: Vec::new(),
            method: None,
            timeout_ms,
            esi: false,
            shield: None,
            refresh: false,
            answered_by: Cell::new(AnsweredBy::Origin),
        }
    }

    /// A request whose answer may be stored under `plan`'s key, sent as the key says.
    pub fn for_key(
        request: &Request,
        plan: &Plan,
        target: &Target,
        origin: Option<&Url>,
        keep_cookies: Vec<String>,
        timeout_ms: u64,
        esi: bool,
    ) -> Forward {
        let authority = format!("{}://{}", target.scheme, target.authority());
        let path_and_query = path_and_query(&target.path, Some(&plan.key.query));
        Forward {
            request: Clone::clone(request),
            url: fetched_url(origin, &authority, &path_and_query),
            cacheable: Some(Rc::new(Cacheable {
                fields: plan.forwarded_fields(),
                keep_cookies,
                host: target.host.clone(),
                scheme: target.scheme.clone(),
            })),
            validators: Vec::new(),
            vary_fields: Vec::new(),
            withheld: Vec::new(),
            method: None,
            timeout_ms,
            esi,
            shield: None,
            refresh: false,
            answered_by: Cell::new(AnsweredBy::Origin),
        }
    }

    /// The client-facing URL of `target` as `plan`'s key says it: what the shield is asked.
    pub fn key_url(plan: &Plan, target: &Target) -> String {
        let authority = format!("{}://{}", target.scheme, target.authority());
        format!(
            "{authority}{}",
            path_and_query(&target.path, Some(&plan.key.query))
        )
    }
}

/// Why the origin gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginError {
    /// Refused, reset, unresolvable, or a request the runtime could not build.
    Unreachable(String),
    /// No response headers within the deadline.
    Timeout(u64),
    /// Not sent: the deadline was spent before the request could be (at the shield, the
    /// asking location's). Handled as a timeout, but says nothing of the origin.
    NoTimeLeft,
}

impl std::fmt::Display for OriginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginError::Unreachable(reason) => {
                write!(f, "the origin could not be reached: {reason}")
            }
            OriginError::Timeout(ms) => write!(f, "the origin did not answer within {ms} ms"),
            OriginError::NoTimeLeft => write!(f, "no time was left to ask the origin"),
        }
    }
}

impl Forward {
    /// Sends the request to the origin, or to the shield when the route is shielded and the
    /// core says this request may go there; a shield that cannot be asked fails open to the
    /// origin. `answered_by` says which.
    pub async fn send(&self) -> Result<Response, OriginError> {
        self.answered_by.set(AnsweredBy::Origin);
        if let Some(answer) = self.send_to_shield().await {
            return answer;
        }
        if self.timeout_ms == 0 {
            // No time left to wait for an answer (at the shield: the location's deadline is
            // spent): the origin is not asked for one nobody would wait for.
            return Err(OriginError::NoTimeLeft);
        }
        let unreachable = |e: JsValue| OriginError::Unreachable(describe(&e));
        let headers = self.client_headers().map_err(unreachable)?;
        if let Some(cacheable) = &self.cacheable {
            let _ = headers.set("x-forwarded-host", &cacheable.host);
            let _ = headers.set("x-forwarded-proto", &cacheable.scheme);
        }
        for (name, value) in &self.validators {
            let _ = headers.set(name, value);
        }
        // Set by the edge, never the client's (Edge Architecture Specification §3: what this
        // surrogate will do), on passed requests too, so an origin can trust what it offers.
        let _ = headers.set("surrogate-capability", &self.surrogate_capability());
        let _ = headers.set(HOP_HEADER, "1");

        let method = self.method();
        let body = if method != "GET" && method != "HEAD" {
            self.request.body()
        } else {
            None
        };
        let started = crate::runtime::now_ms();
        let answer = glue::fetch_within(
            &self.url,
            &method,
            &headers,
            body.as_ref(),
            self.timeout_ms as f64,
        );
        let answer = match JsFuture::from(answer).await.map_err(unreachable) {
            Ok(late) if late.is_null() => Err(OriginError::Timeout(self.timeout_ms)),
            Ok(response) => response.dyn_into::<Response>().map_err(unreachable),
            Err(error) => Err(error),
        };
        let ms = (crate::runtime::now_ms() - started).max(0) as u64;
        crate::control::stats_report::record_origin(answered(&answer, ms));
        answer
    }

    fn method(&self) -> String {
        self.method
            .map_or_else(|| self.request.method(), str::to_string)
    }

    /// The shield's answer, or `None` when the request goes to the origin: not shielded, not
    /// for the shield (`decide::shield::via`), or the shield could not be asked.
    async fn send_to_shield(&self) -> Option<Result<Response, OriginError>> {
        let route = self.shield.as_ref()?;
        let sending = Sending {
            enabled: true,
            shards: route.namespace.shards,
            key: &route.key,
            credentials: route.credentials,
            part: self.validators.iter().any(|(name, _)| name == "range"),
            keyed_beyond_route: route.keyed_beyond_route,
        };
        let Via::Shield { shard } = via(&sending) else {
            return None;
        };
        let headers = self.client_headers().ok()?;
        for (name, value) in &self.validators {
            let _ = headers.set(name, value);
        }
        if self.refresh {
            let _ = headers.set("cache-control", "no-cache");
        }
        let deadline = crate::runtime::now_ms() + self.timeout_ms as i64;
        let _ = headers.set(DEADLINE_FIELD, &deadline.to_string());
        let method = self.method();
        let request = ShieldRequest {
            namespace: &route.namespace,
            shard: &shard,
            url: &route.url,
            method: &method,
            headers: &headers,
            timeout_ms: self.timeout_ms,
        };
        match shield::ask(&request).await {
            Asked::Answer(response) => {
                self.answered_by.set(AnsweredBy::Shield);
                Some(Ok(response))
            }
            Asked::OriginFailed(how) if how == "origin-timeout" => {
                Some(Err(OriginError::Timeout(self.timeout_ms)))
            }
            Asked::OriginFailed(how) => Some(Err(OriginError::Unreachable(format!(
                "the shield could not reach it ({how})"
            )))),
            Asked::Unavailable(why) => {
                worker::console_warn!(
                    "{}",
                    serde_json::json!({
                        "edgecache": "shield-unavailable",
                        "shard": shard,
                        "error": why,
                        "then": "the origin, from this location",
                    })
                );
                self.answered_by.set(AnsweredBy::OriginShieldUnavailable);
                None
            }
        }
    }

    /// The client's fields this request sends on: on a cacheable request only those the key
    /// lets through (only the keyed cookies, none it withholds); otherwise all of them.
    fn client_headers(&self) -> Result<Headers, JsValue> {
        match &self.cacheable {
            Some(cacheable) => {
                let names: Vec<&str> = cacheable
                    .fields
                    .iter()
                    .chain(&self.vary_fields)
                    .map(String::as_str)
                    .collect();
                let headers = copy_only(&self.request.headers(), &name_list(&names))?;
                canonicalise(&headers, &names);
                if !cacheable.keep_cookies.is_empty() {
                    filter_cookies(&headers, &cacheable.keep_cookies);
                }
                for name in &self.withheld {
                    let _ = headers.delete(name);
                }
                Ok(headers)
            }
            None => Headers::new_with_headers(&self.request.headers()),
        }
    }

    /// Edge Architecture's `Surrogate-Capability`, naming edgecache as `Surrogate-Control`
    /// targets it (`policy::SURROGATE_NAME`).
    fn surrogate_capability(&self) -> String {
        let esi = if self.esi { " ESI/1.0" } else { "" };
        format!("{SURROGATE_NAME}=\"Surrogate/1.0{esi}\"")
    }
}

/// How an origin request ended, as the stats count it (`origin_times`).
fn answered(answer: &Result<Response, OriginError>, ms: u64) -> OriginAnswer {
    match answer {
        Ok(response) => OriginAnswer::Status {
            ms,
            status: response.status(),
        },
        Err(OriginError::Timeout(_) | OriginError::NoTimeLeft) => OriginAnswer::Timeout,
        Err(OriginError::Unreachable(_)) => OriginAnswer::Unreachable,
    }
}

/// Writes each of `names` that the key holds in a canonical form (`field_value`) as the key
/// holds it, or drops it when nothing readable is left: the origin reads what the key says,
/// so an odd spelling cannot have its answer stored for the ordinary one.
fn canonicalise(headers: &Headers, names: &[&str]) {
    for name in names.iter().filter(|name| is_canonical(name)) {
        let Some(value) = headers.get(name).ok().flatten() else {
            continue;
        };
        match keyed_value(name, &value) {
            Some(canonical) if canonical == value => {}
            Some(canonical) => {
                let _ = headers.set(name, &canonical);
            }
            None => {
                let _ = headers.delete(name);
            }
        }
    }
}

/// Leaves only the `keep` cookies in `headers`' `Cookie`.
fn filter_cookies(headers: &Headers, keep: &[String]) {
    let Some(cookie) = headers.get("cookie").ok().flatten() else {
        return;
    };
    let kept: Vec<String> = keep
        .iter()
        .filter_map(|name| cookie_value(&cookie, name).map(|v| format!("{name}={v}")))
        .collect();
    if kept.is_empty() {
        let _ = headers.delete("cookie");
    } else {
        let _ = headers.set("cookie", &kept.join("; "));
    }
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;
    use web_sys::{Headers, ReadableStream};

    // The deadline is kept in JavaScript, beside the fetch it bounds: one call from Wasm
    // instead of a request init built field by field, an abort controller, and a Rust timer
    // whose callback crosses back into Wasm. It bounds the response headers only; a body that
    // is still arriving is not cut off.
    #[wasm_bindgen(inline_js = "
export function fetchWithin(url, method, headers, body, ms) {
  const controller = new AbortController();
  const init = { method, headers, redirect: 'manual', signal: controller.signal };
  if (body) init.body = body;
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => { controller.abort(); resolve(null); }, ms);
  });
  const settled = (response) => { clearTimeout(timer); return response; };
  const failed = (error) => { clearTimeout(timer); throw error; };
  let answer;
  try {
    answer = fetch(url, init);
  } catch (error) {
    answer = Promise.reject(error);
  }
  return Promise.race([answer.then(settled, failed), late]);
}
")]
    extern "C" {
        /// The origin's `Response`, or `null` when its headers did not come within `ms`
        /// (the request is then aborted).
        #[wasm_bindgen(js_name = fetchWithin)]
        pub fn fetch_within(
            url: &str,
            method: &str,
            headers: &Headers,
            body: Option<&ReadableStream>,
            ms: f64,
        ) -> js_sys::Promise;
    }
}
