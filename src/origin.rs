//! Forwarding a request to the origin, with a deadline for its response headers.
//!
//! For requests whose answers may be stored, headers that can change the answer without
//! being part of the key are dropped (the classic cache-poisoning vectors), and the host and
//! scheme the key was made from are sent instead, so an origin that builds links from
//! `X-Forwarded-Host` builds them from the keyed host. The client's own validators are not
//! sent on: the cache wants the full response to keep, and answers conditionals itself;
//! when it revalidates, it sends the stored response's validators instead.

use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, Response};

use crate::key::cookie_value;
use crate::policy::SURROGATE_NAME;
use crate::runtime::{copy_without, describe, name_list};

/// Marks requests edgecache sends, so a worker that forwards to itself stops at once.
pub const HOP_HEADER: &str = "x-edgecache-hop";

/// Request headers that change what some origins answer but are not part of the key.
const UNKEYED_OVERRIDES: &[&str] = &[
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-scheme",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-prefix",
    "x-host",
    "x-original-url",
    "x-rewrite-url",
    "x-original-host",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "forwarded",
    // Announces what a surrogate downstream can do, so it can change the answer (ESI or not):
    // on a stored answer, only edgecache's own capability is sent.
    "surrogate-capability",
];

/// The client's validators, never sent on for a request whose answer may be stored.
const CLIENT_VALIDATORS: &[&str] = &["if-none-match", "if-modified-since"];

thread_local! {
    /// What a request whose answer may be stored does not send on, as one JS array.
    static NOT_FORWARDED: js_sys::Array = name_list(&[UNKEYED_OVERRIDES, CLIENT_VALIDATORS].concat());
}

/// How a request is forwarded. Owns what it needs, so a background refresh can use it after
/// the client's response has gone.
#[derive(Clone)]
pub struct Forward {
    pub request: Request,
    pub url: Url,
    /// `ORIGIN`, or `None` to fetch the request's own URL (a worker on a route).
    pub origin: Option<Url>,
    /// The answer may be stored: drop unkeyed overrides and the client's validators.
    pub cacheable: bool,
    /// With a route's `vary_cookies`, only those cookies reach the origin, so it cannot
    /// personalise a stored page on a cookie the key does not carry.
    pub keep_cookies: Vec<String>,
    /// Conditional fields from a stored response being revalidated.
    pub validators: Vec<(String, String)>,
    /// Sent instead of the request's method (a HEAD revalidates the stored GET).
    pub method: Option<&'static str>,
    pub timeout_ms: u64,
    /// The route assembles ESI: say so in `Surrogate-Capability`.
    pub esi: bool,
}

/// Why the origin gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginError {
    /// Refused, reset, unresolvable, or a request the runtime could not build.
    Unreachable(String),
    /// No response headers within the deadline.
    Timeout(u64),
}

impl std::fmt::Display for OriginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginError::Unreachable(reason) => {
                write!(f, "the origin could not be reached: {reason}")
            }
            OriginError::Timeout(ms) => write!(f, "the origin did not answer within {ms} ms"),
        }
    }
}

impl Forward {
    pub async fn send(&self) -> Result<Response, OriginError> {
        let unreachable = |e: JsValue| OriginError::Unreachable(describe(&e));
        let headers = if self.cacheable {
            NOT_FORWARDED.with(|names| copy_without(&self.request.headers(), names))
        } else {
            Headers::new_with_headers(&self.request.headers())
        }
        .map_err(unreachable)?;
        if self.cacheable {
            let _ = headers.set("x-forwarded-host", self.url.host_str().unwrap_or_default());
            let _ = headers.set("x-forwarded-proto", self.url.scheme());
            if !self.keep_cookies.is_empty() {
                self.filter_cookies(&headers);
            }
        }
        for (name, value) in &self.validators {
            let _ = headers.set(name, value);
        }
        let _ = headers.append("surrogate-capability", &self.surrogate_capability());
        let _ = headers.set(HOP_HEADER, "1");

        let method = self
            .method
            .map_or_else(|| self.request.method(), str::to_string);
        let body = if method != "GET" && method != "HEAD" {
            self.request.body()
        } else {
            None
        };
        let answer = glue::fetch_within(
            &self.target_url(),
            &method,
            &headers,
            body.as_ref(),
            self.timeout_ms as f64,
        );
        match JsFuture::from(answer).await.map_err(unreachable)? {
            late if late.is_null() => Err(OriginError::Timeout(self.timeout_ms)),
            response => response.dyn_into::<Response>().map_err(unreachable),
        }
    }

    /// Edge Architecture's `Surrogate-Capability`, naming edgecache as `Surrogate-Control`
    /// targets it (`policy::SURROGATE_NAME`).
    fn surrogate_capability(&self) -> String {
        let esi = if self.esi { " ESI/1.0" } else { "" };
        format!("{SURROGATE_NAME}=\"Surrogate/1.0{esi}\"")
    }

    fn target_url(&self) -> String {
        match &self.origin {
            None => self.url.to_string(),
            Some(origin) => {
                let mut target = origin.clone();
                target.set_path(self.url.path());
                target.set_query(self.url.query());
                target.to_string()
            }
        }
    }

    fn filter_cookies(&self, headers: &Headers) {
        let Some(cookie) = headers.get("cookie").ok().flatten() else {
            return;
        };
        let kept: Vec<String> = self
            .keep_cookies
            .iter()
            .filter_map(|name| cookie_value(&cookie, name).map(|v| format!("{name}={v}")))
            .collect();
        if kept.is_empty() {
            let _ = headers.delete("cookie");
        } else {
            let _ = headers.set("cookie", &kept.join("; "));
        }
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
