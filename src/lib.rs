//! edgecache: Django's cache framework, rebuilt for the edge.
//!
//! This crate is the glue that carries out on the Workers runtime what the pure core
//! (`edgecache_core`: HTTP caching semantics, keys, routing, configuration, purges, ESI
//! parsing) decides:
//!
//! - `flow`: a request from lookup to answer: serve, revalidate, coalesce, fetch and store,
//!   assemble ESI pages;
//! - `store`: the storage backends (`Backend::ALL`: memory, Cache API, KV, R2) behind one
//!   trait;
//! - `control`: the control plane's Durable Object and each isolate's copy of what it holds;
//! - `admin`: the admin API and the dashboard;
//! - `runtime`: adapters to JavaScript; `lowlevel`: Django's low-level cache API;
//!   `workers_cache`: Workers Cache in front; the fetch entry point below.
#![forbid(unsafe_code)]

pub mod admin;
pub mod control;
pub mod flow;
pub mod lowlevel;
pub mod runtime;
pub mod settings;
#[cfg(feature = "proxy")]
pub mod shield_object;
pub mod store;
pub mod workers_cache;

#[cfg(feature = "proxy")]
use std::rc::Rc;

use url::Url;
#[cfg(feature = "proxy")]
use wasm_bindgen::JsValue;
#[cfg(feature = "proxy")]
use worker::{Context, Env};

#[cfg(feature = "proxy")]
use edgecache_core::admin::path::{reach, AdminReach};
#[cfg(feature = "proxy")]
use edgecache_core::config::{shown, Config, ConfigError, ConfigErrors, RequestLog};
#[cfg(feature = "proxy")]
use edgecache_core::decide::arrival::{at_entry, AtEntry, Entering};
#[cfg(feature = "proxy")]
use edgecache_core::request::target::Target;
#[cfg(feature = "proxy")]
use edgecache_core::status::{Outcome, Reason};
#[cfg(feature = "proxy")]
use flow::error::RequestError;
#[cfg(feature = "proxy")]
use flow::report::{Handled, Report};
#[cfg(feature = "proxy")]
use runtime::now_ms;
#[cfg(feature = "proxy")]
use settings::Settings;

/// The `[vars]` entry holding the cache policy.
pub const CONFIG_VAR: &str = "EDGECACHE";
/// The `[vars]` entry naming the origin; empty or absent forwards to the request's own URL.
pub const ORIGIN_VAR: &str = "ORIGIN";
/// Secrets holding admin tokens: one, labelled `admin`, and `label:token,…`.
pub const ADMIN_TOKEN_VAR: &str = "ADMIN_TOKEN";
pub const ADMIN_TOKENS_VAR: &str = "ADMIN_TOKENS";
/// What every request gets while the configuration is broken: nothing about it.
pub const CONFIG_ERROR_PAGE: &str = "edgecache: internal configuration error\n";

#[cfg(feature = "proxy")]
thread_local! {
    /// Settings are read and validated once per isolate: the environment never changes
    /// within one.
    static SETTINGS: std::cell::OnceCell<Result<Rc<Settings>, String>> = const { std::cell::OnceCell::new() };
}

/// The proxy's entry point, exported as `fetch` only with the `proxy` feature (on by
/// default): a project using edgecache as a library (`default-features = false`) has its own.
///
/// Not `#[event(fetch)]`: that glue builds a `worker::Request` (reading `request.cf`, which
/// the runtime materialises anew on each read) and always answers with a `Promise`. Here a
/// request that completes without waiting (a memory-tier hit) is answered with its
/// `Response` directly (`runtime::now_or_later`).
#[cfg(feature = "proxy")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = fetch)]
pub fn fetch_export(
    request: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> JsValue {
    runtime::now_or_later(async move {
        serve(request, env, Context::new(ctx))
            .await
            .map(JsValue::from)
    })
}

#[cfg(feature = "proxy")]
async fn serve(
    request: web_sys::Request,
    env: Env,
    ctx: Context,
) -> Result<web_sys::Response, JsValue> {
    let started = now_ms();
    let ctx = Rc::new(ctx);
    let settings = settings(&env);
    // Parsed once, here: the admin check, the proxy and the log line all read it.
    let url = Url::parse(&request.url()).map_err(|e| e.to_string());
    // The admin path is matched on the canonical path routing reads: `/%5Fedgecache/stats` is
    // the admin API, and a reading of it (`//_edgecache`, `/_edgecache;x`) is refused.
    let canonical = match (&url, &settings) {
        (Ok(url), Ok(s)) => Some(Target::of(url, s.config.case_insensitive_paths)),
        _ => None,
    };
    let entry = Entering {
        url_valid: url.is_ok(),
        config_valid: settings.is_ok(),
        admin: match (&canonical, &settings) {
            (Some(target), Ok(s)) => reach(&s.config, target),
            _ => AdminReach::Outside,
        },
    };
    let (url, handled) = match (at_entry(&entry), url, &settings) {
        (AtEntry::Refuse { status, outcome }, Err(e), _) => {
            let page = format!("edgecache: bad request URL: {e}\n");
            return flow::reply::plain(status, &page, &outcome);
        }
        (AtEntry::Admin { .. }, Ok(mut url), Ok(settings)) => {
            if let Some(target) = &canonical {
                url.set_path(&target.path);
            }
            return admin::handle(&request, &url, &env, &ctx, settings).await;
        }
        (AtEntry::Refuse { status, outcome }, Ok(url), Ok(_)) => {
            let page =
                "edgecache: this path spells the admin API's otherwise; use its canonical path\n";
            let response = flow::reply::plain(status, page, &outcome);
            (
                url,
                Handled {
                    response,
                    report: Report::of(outcome, Vec::new()),
                },
            )
        }
        (AtEntry::Flow, Ok(url), Ok(settings)) => {
            let stripped = without_admin_credential(&request, &settings.tokens);
            let request = stripped.as_ref().unwrap_or(&request);
            let handled = flow::handle(request, &url, &env, &ctx, settings, None).await;
            (url, handled)
        }
        (AtEntry::Refuse { status, outcome }, Ok(url), Err(error)) => {
            // The public learns nothing of the configuration; the operator finds it in the
            // log (and in `make check` before a deploy), and the developer running `make dev`
            // on the error page (`config::shown`).
            worker::console_error!(
                "{}",
                serde_json::json!({
                    "edgecache": "config-error",
                    "error": edgecache_core::redact::text(error),
                    "fix": format!("wrangler.toml ([vars] {CONFIG_VAR} / {ORIGIN_VAR}); `make check` validates it before a deploy"),
                })
            );
            let dev_var = js_sys::Reflect::get(&env, &JsValue::from_str(shown::DEV_VAR))
                .ok()
                .and_then(|v| v.as_string());
            let page = if shown::errors_shown(dev_var.as_deref(), url.host_str()) {
                shown::error_page(&edgecache_core::redact::text(error))
            } else {
                CONFIG_ERROR_PAGE.to_string()
            };
            let response = flow::reply::plain(status, &page, &outcome);
            let report = Report::of(outcome, vec![RequestError::Config(error.clone())]);
            (url, Handled { response, report })
        }
        (at, _, _) => {
            return Err(JsValue::from_str(&format!(
                "edgecache: no way to answer {at:?}"
            )))
        }
    };
    let Handled {
        response,
        mut report,
    } = handled;
    let response = response.or_else(|e| {
        report
            .errors
            .push(RequestError::Response(runtime::describe(&e)));
        flow::reply::plain(
            502,
            "edgecache: could not build a response\n",
            &Outcome::bypass(Reason::BodyError),
        )
    });
    if let (Ok(settings), Ok(response)) = (&settings, &response) {
        if settings.config.workers_cache.is_some() {
            workers_cache::tell(
                response,
                report.asked.as_ref(),
                report.kept.as_ref(),
                report.template,
            );
        }
    }
    let hit = matches!(report.outcome, Outcome::Hit { .. });
    let request_log = settings
        .as_ref()
        .map_or(RequestLog::All, |s| s.config.request_log);
    if request_log.wants(hit, !report.errors.is_empty()) {
        log_request(&request.method(), &url, &response, &report, started);
    }
    if let Ok(settings) = &settings {
        let host = edgecache_core::request::target::canonical_host(&url);
        let target = edgecache_core::control::stats::url_name(&url);
        let status = response.as_ref().ok().map(|r| r.status());
        if let Some((reason, how)) = edgecache_core::control::stats::not_stored(&report.outcome) {
            control::stats_report::note_not_stored(
                key_id(&settings.config, &url, &request.headers()),
                edgecache_core::control::why::NotStored {
                    reason: reason.to_string(),
                    how: how.to_string(),
                    status,
                    at: now_ms(),
                },
            );
        }
        let due = control::stats_report::record(&edgecache_core::control::stats::Seen {
            route: report.route.as_deref().unwrap_or("default"),
            host: &host,
            url: &target,
            status,
            outcome: &report.outcome,
            bytes: response.as_ref().map_or(0, |r| {
                sent_bytes(&request.method(), r, report.bytes_from_cache)
            }),
            tags: counted_tags(&settings.config, &report),
        });
        if let Some(delta) = due {
            let key_prefix = settings.config.key_prefix.clone();
            ctx.wait_until(control::stats_report::flush(env.clone(), key_prefix, delta));
        }
    }
    response
}

/// The body bytes `response` sent of the `stored` bytes it was answered from
/// (`stats::body_bytes_sent`).
#[cfg(feature = "proxy")]
pub(crate) fn sent_bytes(method: &str, response: &web_sys::Response, stored: u64) -> u64 {
    let range = response.headers().get("content-range").ok().flatten();
    edgecache_core::control::stats::body_bytes_sent(
        method,
        Some(response.status()),
        range.as_deref(),
        stored,
    )
}

/// The tags a request is counted under: its entry's (the route's and the origin's
/// `Cache-Tag`s), else its route's.
#[cfg(feature = "proxy")]
pub(crate) fn counted_tags<'r>(
    config: &'r edgecache_core::config::Config,
    report: &'r Report,
) -> &'r [String] {
    if report.tags.is_empty() {
        route_tags(config, report.route.as_deref())
    } else {
        &report.tags
    }
}

/// The tags of the route whose pattern is `route` (none for the default policy).
#[cfg(feature = "proxy")]
pub(crate) fn route_tags<'c>(
    config: &'c edgecache_core::config::Config,
    route: Option<&str>,
) -> &'c [String] {
    route
        .and_then(|path| config.routes.iter().find(|r| r.path.as_str() == path))
        .map_or(&[], |r| r.tags.as_slice())
}

/// The id (`why::key_id`) of the key a request for `url` with `headers` is stored under, as
/// the inspector computes it for the same URL and headers.
#[cfg(feature = "proxy")]
fn key_id(config: &edgecache_core::config::Config, url: &Url, headers: &web_sys::Headers) -> i64 {
    let target = Target::of(url, config.case_insensitive_paths);
    let routing = config.routing(&target);
    let plan = edgecache_core::request::plan::Plan::new(
        config,
        &routing,
        &target,
        &runtime::JsFields(headers),
        None,
    );
    edgecache_core::control::why::key_id(&plan.primary)
}

/// A copy of `request` without its `Authorization` when that presents one of the admin tokens
/// (`None` otherwise): an admin credential is never forwarded to the origin, whatever the path
/// it came with. The flow then treats the request as the origin sees it, without credentials.
#[cfg(feature = "proxy")]
fn without_admin_credential(
    request: &web_sys::Request,
    tokens: &[edgecache_core::admin::auth::Token],
) -> Option<web_sys::Request> {
    if tokens.is_empty() {
        return None;
    }
    let authorization = request.headers().get("authorization").ok().flatten();
    if !edgecache_core::admin::auth::presents_admin_token(authorization.as_deref(), tokens) {
        return None;
    }
    let copy = runtime::copy_without(&request.headers(), &runtime::name_list(&["authorization"]))
        .and_then(|headers| {
            let init = web_sys::RequestInit::new();
            init.set_headers(&headers);
            web_sys::Request::new_with_request_and_init(request, &init)
        });
    match copy {
        Ok(copy) => Some(copy),
        // The runtime could not copy it: the credential still must not reach the origin.
        Err(_) => {
            let _ = request.headers().delete("authorization");
            None
        }
    }
}

/// This isolate's settings, read and validated on its first request (the proxy's or the
/// shield's, which share the isolate).
#[cfg(feature = "proxy")]
pub(crate) fn settings(env: &Env) -> Result<Rc<Settings>, String> {
    SETTINGS.with(|s| s.get_or_init(|| load_settings(env).map(Rc::new)).clone())
}

#[cfg(feature = "proxy")]
/// Reads `EDGECACHE` (an object, or a string holding JSON) and `ORIGIN` from the environment;
/// what is wrong with either, every problem, one a line.
fn load_settings(env: &Env) -> Result<Settings, String> {
    let raw =
        js_sys::Reflect::get(env, &JsValue::from_str(CONFIG_VAR)).unwrap_or(JsValue::UNDEFINED);
    let config = if raw.is_undefined() || raw.is_null() {
        Ok(Config::default())
    } else if let Some(text) = raw.as_string() {
        Config::from_json(&text)
    } else {
        // The object wrangler.toml's table becomes, read as it is (no JSON text in between).
        serde_wasm_bindgen::from_value::<serde_json::Value>(raw)
            .map_err(|e| ConfigErrors::one(ConfigError::Syntax(e.to_string())))
            .and_then(Config::from_value)
    }
    .map_err(|e| e.to_string());
    let origin = js_sys::Reflect::get(env, &JsValue::from_str(ORIGIN_VAR))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let secret = |name: &str| {
        js_sys::Reflect::get(env, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    let tokens = edgecache_core::admin::auth::tokens(
        secret(ADMIN_TOKEN_VAR).as_deref(),
        secret(ADMIN_TOKENS_VAR).as_deref(),
    );
    match (config, parse_origin(&origin)) {
        (Ok(config), Ok(origin)) => Ok(Settings {
            config,
            origin,
            tokens,
        }),
        (config, origin) => Err([config.err(), origin.err()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// `ORIGIN` must be an absolute http(s) URL without a path, query or fragment.
pub fn parse_origin(text: &str) -> Result<Option<Url>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(text).map_err(|e| format!("{ORIGIN_VAR}: {text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{ORIGIN_VAR}: {text:?} must be an http:// or https:// URL with a host"
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{ORIGIN_VAR}: {text:?} must not have a path, query or fragment"
        ));
    }
    Ok(Some(url))
}

#[cfg(feature = "proxy")]
/// One JSON line per request, for `wrangler tail`. The query string is left out: it may
/// carry tokens. Written directly rather than through a `serde_json::Value` tree: this runs
/// on every hit.
pub(crate) fn log_request(
    method: &str,
    url: &Url,
    response: &Result<web_sys::Response, JsValue>,
    report: &Report,
    started: i64,
) {
    let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let status = response.as_ref().map_or(0, |r| r.status());
    let (cache, cache_status) = (
        text(report.outcome.label()),
        text(&report.outcome.cache_status()),
    );
    // Errors may quote a URL or a key: their values are hidden (`redact`).
    let errors: Vec<String> = report
        .errors
        .iter()
        .map(|e| edgecache_core::redact::text(&e.to_string()))
        .collect();
    let errors = serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into());
    let line = format!(
        "{{\"edgecache\":\"request\",\"method\":{},\"host\":{},\"path\":{},\"status\":{status},\"cache\":{cache},\"cache_status\":{cache_status},\"errors\":{errors},\"ms\":{}}}",
        text(method),
        text(url.host_str().unwrap_or_default()),
        text(url.path()),
        now_ms() - started,
    );
    if report.errors.is_empty() {
        worker::console_log!("{line}");
    } else {
        worker::console_warn!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[cfg(feature = "proxy")]
    #[test]
    fn origin_must_be_a_bare_http_url() {
        assert!(parse_origin("").unwrap().is_none());
        assert_eq!(
            parse_origin("http://127.0.0.1:8000")
                .unwrap()
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8000/"
        );
        assert!(parse_origin("ftp://x").is_err());
        assert!(parse_origin("http://x/path").is_err());
        assert!(parse_origin("not a url").is_err());
    }

    #[cfg(feature = "proxy")]
    #[test]
    fn hosts_are_taken_in_punycode() {
        // The runtime serialises request URLs with Punycode hosts; Unicode IDNA is left out
        // of the build (see Cargo.toml), so ORIGIN must be written the same way.
        assert!(parse_origin("https://xn--bcher-kva.example").is_ok());
        assert!(parse_origin("https://bücher.example").is_err());
    }
}
