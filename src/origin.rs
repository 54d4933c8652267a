//! Forwarding a request to the origin.
//!
//! For requests whose answers may be stored, headers that can change the answer without
//! being part of the key are dropped (the classic cache-poisoning vectors), and the host and
//! scheme the key was made from are sent instead, so an origin that builds links from
//! `X-Forwarded-Host` builds them from the keyed host.

use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, RequestRedirect, Response, WorkerGlobalScope};

use crate::key::cookie_value;
use crate::runtime::describe;

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
];

/// Validators are removed from requests whose answer may be stored: the cache wants the full
/// response to keep, and answers the client's conditional itself.
const CLIENT_VALIDATORS: &[&str] = &["if-none-match", "if-modified-since"];

/// How a request is forwarded.
pub struct Forward<'a> {
    pub request: &'a Request,
    pub url: &'a Url,
    /// `ORIGIN`, or `None` to fetch the request's own URL (a worker on a route).
    pub origin: Option<&'a Url>,
    /// The answer may be stored: drop unkeyed overrides and validators.
    pub cacheable: bool,
    /// With a route's `vary_cookies`, only those cookies reach the origin, so it cannot
    /// personalise a stored page on a cookie the key does not carry.
    pub keep_cookies: &'a [String],
}

/// Why the origin gave no response.
pub struct OriginError(pub String);

impl Forward<'_> {
    pub async fn send(&self) -> Result<Response, OriginError> {
        let target = self.target_url();
        let headers = Headers::new_with_headers(&self.request.headers())
            .map_err(|e| OriginError(describe(&e)))?;
        if self.cacheable {
            for name in UNKEYED_OVERRIDES.iter().chain(CLIENT_VALIDATORS) {
                let _ = headers.delete(name);
            }
            let _ = headers.set("x-forwarded-host", self.url.host_str().unwrap_or_default());
            let _ = headers.set("x-forwarded-proto", self.url.scheme());
            if !self.keep_cookies.is_empty() {
                self.filter_cookies(&headers);
            }
        }
        let _ = headers.set(HOP_HEADER, "1");

        let init = RequestInit::new();
        let method = self.request.method();
        init.set_method(&method);
        init.set_headers(&headers);
        init.set_redirect(RequestRedirect::Manual);
        if method != "GET" && method != "HEAD" {
            if let Some(body) = self.request.body() {
                init.set_body(&body);
            }
        }
        let request = Request::new_with_str_and_init(&target, &init)
            .map_err(|e| OriginError(describe(&e)))?;
        let global: WorkerGlobalScope = js_sys::global().unchecked_into();
        let response = JsFuture::from(global.fetch_with_request(&request))
            .await
            .map_err(|e| OriginError(describe(&e)))?;
        response
            .dyn_into::<Response>()
            .map_err(|e: JsValue| OriginError(describe(&e)))
    }

    fn target_url(&self) -> String {
        match self.origin {
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
