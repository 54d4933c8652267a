//! The admin API under `admin_path` (default `/_edgecache`): purge, stats, key inspection
//! and the purge log. Every route needs `Authorization: Bearer <token>`; answers are JSON,
//! `Cache-Control: no-store`, and never touch the origin or the cache's own entries.

pub mod dashboard;
pub mod error;
pub mod limit;

use std::rc::Rc;

use serde_json::{json, Value};
use url::Url;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, Response};
use worker::{Context, Env};

use crate::control::plane::{self, Unreachable, PURGE_TIMEOUT_MS, REGISTRY_TIMEOUT_MS};
use crate::control::registry_copy;
use crate::runtime::{describe, headers_from, now_ms, JsFields};
use crate::settings::Settings;
use crate::store::{open_tiers, MemoryStore, Operation, TierError};
use edgecache_core::admin::auth::{authorize, client_address};
use edgecache_core::config::{Backend, Config};
use edgecache_core::control::registry::{PurgeRequest, Registry, Standing};
use edgecache_core::control::rules::{Page, PurgeCommand};
use edgecache_core::request::plan::Plan;
use edgecache_core::request::target::{canonical_host, canonical_prefix, Target};
use edgecache_core::status::{Outcome, Reason};
use edgecache_core::storage::record::Kind;
use error::AdminError;

/// Purge bodies larger than this are refused.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Answers an admin request and logs one line for it (`admin_log`), failed ones included.
pub async fn handle(
    request: &Request,
    url: &Url,
    env: &Env,
    ctx: &Rc<Context>,
    settings: &Settings,
) -> Result<Response, JsValue> {
    let forwarded_ip = request.headers().get("cf-connecting-ip").ok().flatten();
    let client = client_address(forwarded_ip.as_deref());
    let mut token = None;
    let answer = answer(request, url, env, ctx, settings, &client, &mut token).await;
    let status = answer.as_ref().map_or(500, |r| r.status());
    let route = &url.path()[settings.config.admin_path.len()..];
    let line = edgecache_core::admin::log::line(
        &request.method(),
        route,
        &client,
        token.as_deref(),
        status,
    );
    if status < 400 {
        worker::console_log!("{line}");
    } else {
        worker::console_warn!("{line}");
    }
    answer
}

/// `token` is set to the label of the token that was accepted.
async fn answer(
    request: &Request,
    url: &Url,
    env: &Env,
    ctx: &Rc<Context>,
    settings: &Settings,
    client: &str,
    token: &mut Option<String>,
) -> Result<Response, JsValue> {
    let config = &settings.config;
    let route = &url.path()[config.admin_path.len()..];
    if request.method() == "GET" || request.method() == "HEAD" {
        if route.is_empty() {
            return redirect(&format!("{}/", config.admin_path));
        }
        if let Some(file) = dashboard::serve(route) {
            return file;
        }
    }
    // A client over the limit of failed attempts is refused before any token is compared.
    if let Some(wait) = limit::blocked(client) {
        return too_many_failures(wait);
    }
    let authorization = request.headers().get("authorization").ok().flatten();
    let Some(label) = authorize(authorization.as_deref(), &settings.tokens) else {
        if let Some(wait) = limit::failed(env, client).await {
            return too_many_failures(wait);
        }
        // No detail: which part was wrong is nobody's business.
        return respond(401, &json!({ "error": "unauthorized" }));
    };
    *token = Some(label.clone());
    match (request.method().as_str(), route) {
        ("POST", "/purge") => purge(request, url, env, ctx, config, &label).await,
        (_, "/purge") => respond(405, &json!({ "error": "use POST" })),
        ("GET", "/stats") => stats(env, config).await,
        ("GET", "/inspect") => inspect(url, env, config).await,
        ("GET", "/purges") => purge_log(url, env, config).await,
        _ => respond(
            404,
            &json!({ "error": format!("no admin route {route:?}") }),
        ),
    }
}

fn redirect(location: &str) -> Result<Response, JsValue> {
    let headers = headers_from(&[
        ("location".to_string(), location.to_string()),
        ("cache-control".to_string(), "no-store".to_string()),
    ]);
    let init = web_sys::ResponseInit::new();
    init.set_status(308);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(None, &init)
}

/// A JSON answer that no cache keeps.
pub fn respond(status: u16, body: &Value) -> Result<Response, JsValue> {
    let mut fields = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("cache-control".to_string(), "no-store".to_string()),
        (
            "cache-status".to_string(),
            Outcome::bypass(Reason::Admin).cache_status(),
        ),
    ];
    if status == 401 {
        fields.push(("www-authenticate".into(), "Bearer".into()));
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers(&headers_from(&fields));
    Response::new_with_opt_str_and_init(Some(&format!("{body}\n")), &init)
}

/// `429` with `Retry-After`: too many failed authentications from this client.
fn too_many_failures(wait_secs: u64) -> Result<Response, JsValue> {
    let response = respond(429, &json!({ "error": "too many failed attempts" }))?;
    response
        .headers()
        .set("retry-after", &wait_secs.to_string())?;
    Ok(response)
}

/// The control plane's answer to a purge.
#[derive(serde::Deserialize)]
struct Recorded {
    registry: Registry,
    entry: edgecache_core::control::rules::LogEntry,
}

async fn purge(
    request: &Request,
    admin_url: &Url,
    env: &Env,
    ctx: &Rc<Context>,
    config: &Config,
    label: &str,
) -> Result<Response, JsValue> {
    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return respond(
            413,
            &json!({ "error": format!("the body is over {MAX_BODY_BYTES} bytes") }),
        );
    }
    let body = JsFuture::from(request.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    if body.len() > MAX_BODY_BYTES {
        return respond(
            413,
            &json!({ "error": format!("the body is over {MAX_BODY_BYTES} bytes") }),
        );
    }
    let mut purge = match PurgeRequest::parse(&body) {
        Ok(purge) => purge,
        Err(error) => return respond(400, &json!({ "error": error })),
    };

    // Targets are matched against keys, so they are normalised as keys are.
    let empty = Headers::new()?;
    let mut url_plans = Vec::new();
    for target in &mut purge.urls {
        let Ok(url) = Url::parse(target) else {
            continue;
        };
        let canonical = Target::of(&url, config.case_insensitive_paths);
        let plan = Plan::new(
            config,
            &config.routing(&canonical),
            &canonical,
            &JsFields(&empty),
            None,
        );
        *target = plan.key.url();
        url_plans.push(plan);
    }
    for prefix in &mut purge.prefixes {
        *prefix = canonical_prefix(prefix, config.case_insensitive_paths);
    }

    // The control plane records the purge (registry and log, in one transaction) or nothing:
    // without its answer the purge is refused, and no tier is touched.
    let command = PurgeCommand {
        request: purge.clone(),
        token: label.to_string(),
        at: now_ms(),
    };
    let command = match serde_json::to_string(&command) {
        Ok(command) => command,
        Err(e) => return not_recorded(&e.to_string()),
    };
    let answer = plane::ask(
        env,
        &config.key_prefix,
        "POST",
        "/purge",
        Some(&command),
        PURGE_TIMEOUT_MS,
    )
    .await;
    let recorded: Recorded = match answer.map(|text| serde_json::from_str(&text)) {
        Ok(Ok(recorded)) => recorded,
        Ok(Err(e)) => {
            return not_answered(&format!("the control plane's answer is unreadable: {e}"))
        }
        Err(error @ Unreachable::NoAnswer(_)) => return not_answered(&error.to_string()),
        Err(error @ Unreachable::Failed(_)) => return not_recorded(&error.to_string()),
    };
    let at = recorded.entry.at;
    let seq = recorded.entry.seq;
    let registry = recorded.registry;
    let removed_from_memory = if purge.soft {
        0
    } else {
        MemoryStore::purge(&registry)
    };
    // The tiers the purged URLs' entries could not be removed from here (the registry
    // refuses those entries all the same): each failure once, however many URLs met it.
    let mut not_deleted: Vec<TierError> = Vec::new();
    if !purge.soft {
        // The entries of purged URLs are removed outright where that is possible: this
        // isolate's memory, this data center's Cache API, KV and R2 (every backend).
        for plan in &url_plans {
            // Every backend, whatever the route uses now: entries stored under an earlier
            // configuration must go too. One that is not bound is left out (and reported).
            let opened = open_tiers(&Backend::ALL, env, &plan.url_base, config.memory_max_bytes);
            let failed = crate::flow::lookup::delete_all(&opened.tiers, &plan.primary).await;
            // A backend the configuration does not name may well be unbound: not a failure.
            let named = |backend: Backend| {
                config.backends.contains(&backend)
                    || config.routes.iter().any(|r| r.backends.contains(&backend))
            };
            let unopened = opened.failed.into_iter().filter(|e| named(e.backend));
            for error in unopened.chain(failed) {
                if !not_deleted.contains(&error) {
                    not_deleted.push(error);
                }
            }
            crate::flow::coalesce::clear_pass(&plan.primary);
        }
    }

    let effect = if purge.soft { "stale" } else { "purged" };
    let mut results: Vec<Value> = Vec::new();
    results.extend(
        purge
            .urls
            .iter()
            .map(|u| json!({ "type": "url", "target": u, "effect": effect })),
    );
    results.extend(
        purge
            .prefixes
            .iter()
            .map(|p| json!({ "type": "prefix", "target": p, "effect": effect })),
    );
    results.extend(
        purge
            .tags
            .iter()
            .map(|t| json!({ "type": "tag", "target": t, "effect": effect })),
    );
    if purge.all {
        results.push(json!({ "type": "all", "effect": effect }));
    }
    registry_copy::adopt(ctx, config, &canonical_host(admin_url), registry);
    let site = config.workers_cache.as_deref();
    if let Some(done) = crate::workers_cache::purge(ctx, &purge, site) {
        ctx.wait_until(done);
    }

    respond(
        200,
        &json!({
            "ok": true,
            "seq": seq,
            "at": at,
            "soft": purge.soft,
            "results": results,
            "removed_from_memory": removed_from_memory,
            "not_deleted": not_deleted.iter().map(|e| json!({
                "backend": e.backend.as_str(),
                "operation": e.operation.as_str(),
                "error": e.to_string(),
            })).collect::<Vec<_>>(),
            "effective_here": "now",
            "effective_everywhere_within_s": config.purge_propagation_s,
        }),
    )
}

/// A purge the control plane did not record: nothing was changed anywhere, so the client may
/// send it again.
fn not_recorded(error: &str) -> Result<Response, JsValue> {
    worker::console_error!(
        "{}",
        json!({ "edgecache": "purge-not-recorded", "error": error })
    );
    respond(
        503,
        &json!({ "error": format!("the purge was not recorded, nothing was purged: {error}"), "recorded": false }),
    )
}

/// A purge the control plane may have recorded (in one transaction: whole, if at all) without
/// its answer reaching this isolate: nothing was purged here. Sending it again is harmless;
/// the purge log says whether it was recorded.
fn not_answered(error: &str) -> Result<Response, JsValue> {
    worker::console_error!(
        "{}",
        json!({ "edgecache": "purge-unanswered", "error": error })
    );
    respond(
        503,
        &json!({ "error": format!("the purge may have been recorded or not (whole if at all: see /purges), and nothing was purged here: {error}"), "recorded": null }),
    )
}

/// `GET /purges?before=&limit=`: the purge log, newest first, a page at a time; `next` is
/// the `before` of the following page.
async fn purge_log(url: &Url, env: &Env, config: &Config) -> Result<Response, JsValue> {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let page = match Page::parse(param("before").as_deref(), param("limit").as_deref()) {
        Ok(page) => page,
        Err(error) => return respond(400, &json!({ "error": error })),
    };
    let path = format!("/purges?before={}&limit={}", page.before, page.limit);
    let answer = plane::ask(
        env,
        &config.key_prefix,
        "GET",
        &path,
        None,
        REGISTRY_TIMEOUT_MS,
    )
    .await;
    #[derive(serde::Deserialize)]
    struct Purges {
        purges: Vec<edgecache_core::control::rules::LogEntry>,
    }
    match answer.map(|text| serde_json::from_str::<Purges>(&text)) {
        Ok(Ok(log)) => {
            let seqs: Vec<u64> = log.purges.iter().map(|e| e.seq).collect();
            respond(
                200,
                &json!({ "purges": log.purges, "next": page.next(&seqs) }),
            )
        }
        Ok(Err(e)) => respond(
            503,
            &json!({ "error": format!("the control plane's purge log is unreadable: {e}") }),
        ),
        Err(error) => respond(503, &json!({ "error": error.to_string() })),
    }
}

/// Every isolate's counts for the last hour and the last day, read from the control plane in
/// one request (which also carries this isolate's unreported counts).
async fn stats(env: &Env, config: &Config) -> Result<Response, JsValue> {
    let sums = match crate::control::stats_report::read(env, &config.key_prefix, None).await {
        Ok(sums) => sums,
        Err(error) => return respond(503, &json!({ "error": error.to_string() })),
    };
    let mut report = edgecache_core::control::stats::report(&sums);
    report["memory_bytes"] = json!(MemoryStore::used());
    report["memory_max_bytes"] = json!(config.memory_max_bytes);
    report["purge_propagation_s"] = json!(config.purge_propagation_s);
    report["config"] = json!({
        "routes": config.routes.iter().map(|r| json!({
            "path": r.path.as_str(),
            "ttl": r.ttl,
            "browser_ttl": r.browser_ttl,
            "bypass": r.bypass,
            "backends": r.backends.iter().map(|b| b.as_str()).collect::<Vec<_>>(),
            "tags": r.tags,
        })).collect::<Vec<_>>(),
        "backends": config.backends.iter().map(|b| b.as_str()).collect::<Vec<_>>(),
        "version": config.version,
    });
    respond(200, &report)
}

/// `GET /inspect?url=…&header=Name:Value`: the key a request would use and what each of its
/// route's tiers holds under it.
async fn inspect(url: &Url, env: &Env, config: &Config) -> Result<Response, JsValue> {
    let params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let Some(target) = params
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.clone())
    else {
        return respond(400, &json!({ "error": "give the URL to inspect as ?url=" }));
    };
    let Ok(target) = Url::parse(&target) else {
        return respond(
            400,
            &json!({ "error": format!("{target:?} is not an absolute URL") }),
        );
    };
    let headers = Headers::new()?;
    for (_, value) in params.iter().filter(|(k, _)| k == "header") {
        let Some((name, value)) = value.split_once(':') else {
            return respond(
                400,
                &json!({ "error": format!("header {value:?} is not Name:Value") }),
            );
        };
        if let Err(e) = headers.append(name.trim(), value.trim()) {
            return respond(
                400,
                &json!({ "error": format!("header {name:?}: {}", describe(&e)) }),
            );
        }
    }
    let name = edgecache_core::control::stats::kept_url_name(&target);
    let target = Target::of(&target, config.case_insensitive_paths);
    let routing = config.routing(&target);
    let route = routing.route;
    // Passed as a request with these headers would be: by its route, or by a cookie named
    // in `bypass_cookies` (`header=Cookie:sessionid=…`).
    let cookie = headers.get("cookie").ok().flatten();
    let bypass_cookie = config.bypass_cookie(&target, &routing, cookie.as_deref());
    let bypass = if routing.bypass {
        Bypass::Route
    } else if let Some(name) = &bypass_cookie {
        Bypass::Cookie(name)
    } else {
        Bypass::No
    };
    let plan = Plan::new(config, &routing, &target, &JsFields(&headers), None);
    let opened = open_tiers(&plan.backends, env, &plan.url_base, config.memory_max_bytes);
    let mut errors: Vec<AdminError> = opened.failed.into_iter().map(AdminError::Tier).collect();
    let tiers = opened.tiers;
    let registry = registry_copy::current(env, config, &target.host).await;
    let now = now_ms();
    let mut found = Vec::new();
    for tier in &tiers {
        let backend = tier.backend().as_str();
        let mut key = plan.primary.clone();
        let failed = |e| AdminError::Tier(TierError::new(tier.backend(), Operation::Read, e));
        let mut entry = tier
            .get(&key)
            .await
            .map_err(|e| errors.push(failed(e)))
            .ok()
            .flatten();
        if let Some(marker) = entry.as_ref().filter(|e| e.meta.kind == Kind::Variants) {
            key = plan.variant_key(&marker.meta.vary, &JsFields(&headers));
            entry = tier
                .get(&key)
                .await
                .map_err(|e| errors.push(failed(e)))
                .ok()
                .flatten();
        }
        found.push(match entry.filter(|e| e.meta.key == key) {
            None => json!({ "backend": backend, "key": key, "present": false }),
            Some(entry) => {
                let meta = &entry.meta;
                let standing = match registry.standing_under(
                    &meta.url,
                    &meta.tags,
                    &plan.tags,
                    meta.purged_from(),
                ) {
                    Standing::Valid => "valid",
                    Standing::Stale => "soft-purged",
                    Standing::Purged => "purged",
                    Standing::Unknown => "unknown",
                };
                json!({
                    "backend": backend,
                    "key": key,
                    "present": true,
                    "status": meta.status,
                    "age": meta.age(now),
                    "ttl": meta.ttl(now),
                    "stored_at": meta.stored_at,
                    "tags": meta.tags,
                    "vary": meta.vary,
                    "bytes": entry.body.len(),
                    "headers": meta.headers,
                    "reuse": meta.reuse,
                    "purge_standing": standing,
                    // Parts of a response (Range answers): the complete length and the byte
                    // ranges held.
                    "parts": meta.parts,
                })
            }
        });
    }
    // Why it was not stored: the reasons the last day's requests for this URL were not stored
    // or not looked up, as the stats keep them (by traffic, `unstored_urls`).
    // And the last reason this key was not stored, as the control plane keeps it per key
    // (`why`): this isolate's notes are sent first, so a request it answered is there.
    let id = edgecache_core::control::why::key_id(&plan.primary);
    let (not_stored, last) = match crate::control::stats_report::read(env, &config.key_prefix, Some(id)).await {
        Ok(sums) => (
            sums
                .day
                .names
                .get(&edgecache_core::control::stats::Dimension::Unstored)
                .and_then(|names| names.names.get(&name))
                .map(|held| json!({ "requests": held.tally.misses + held.tally.bypasses, "reasons": held.tally.reasons, "error": held.error })),
            sums.why.map(|note| {
                json!({
                    "reason": note.reason,
                    "how": note.how,
                    "status": note.status,
                    "at": note.at,
                    "ago_s": (now - note.at).max(0) / 1000,
                })
            }),
        ),
        Err(error) => {
            errors.push(AdminError::Control(error));
            (None, None)
        }
    };
    let mut words = why_in_words(route, bypass, &found, not_stored.as_ref());
    if let Some(last) = &last {
        words.push(last_in_words(last));
    }
    respond(
        200,
        &json!({
            "url": plan.key.url(),
            "key": plan.primary,
            "route": route.map(|r| r.path.as_str()),
            "bypass": bypass != Bypass::No,
            "bypass_cookie": bypass_cookie,
            "tiers": found,
            "stats_name": name,
            "not_stored": not_stored,
            "last_not_stored": last,
            "why": words,
            "errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    )
}

/// Whether a request to the inspected URL, with the headers given, is passed unlooked-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bypass<'a> {
    No,
    /// Its route says `bypass = true`.
    Route,
    /// It carries this cookie, named in `bypass_cookies`.
    Cookie(&'a str),
}

/// The key's last request that was not stored, in words.
fn last_in_words(last: &Value) -> String {
    let how = match last["how"].as_str() {
        Some("bypass") => "bypassed (never looked up)",
        _ => "sent to the origin and its answer not stored",
    };
    let status = last["status"]
        .as_u64()
        .map_or(String::new(), |s| format!(", status {s}"));
    format!(
        "Last not stored {} s ago: {how}, because {}{status}.",
        last["ago_s"],
        last["reason"].as_str().unwrap_or("of no reason given")
    )
}

/// The inspector's answer in words: the route's rule, what each tier holds, and why the last
/// day's requests for the URL were not stored.
fn why_in_words(
    route: Option<&edgecache_core::config::Route>,
    bypass: Bypass,
    tiers: &[Value],
    not_stored: Option<&Value>,
) -> Vec<String> {
    let mut words = Vec::new();
    words.push(match (bypass, route) {
        (Bypass::Route, _) => format!(
            "{} is bypassed: its requests go to the origin as sent and are never looked up or stored.",
            route.map_or("The URL".to_string(), |r| format!("Route {}", r.path.as_str()))
        ),
        (Bypass::Cookie(name), _) => format!(
            "A request with the cookie {name} is bypassed (bypass_cookies): it goes to the origin as sent and is never looked up or stored; without it, {}.",
            route.map_or("the default policy applies".to_string(), |r| format!("route {} applies", r.path.as_str()))
        ),
        (Bypass::No, Some(r)) => format!("Route {} applies.", r.path.as_str()),
        (Bypass::No, None) => "No route matches: the default policy applies.".into(),
    });
    for tier in tiers {
        let backend = tier["backend"].as_str().unwrap_or_default();
        words.push(if tier["present"] == json!(true) {
            format!(
                "{backend}: stored (status {}, {} s of freshness left).",
                tier["status"], tier["ttl"]
            )
        } else {
            format!("{backend}: not stored.")
        });
    }
    if let Some(not) = not_stored {
        let reasons: Vec<String> = not["reasons"]
            .as_object()
            .map(|r| r.iter().map(|(k, n)| format!("{k} ({n})")).collect())
            .unwrap_or_default();
        let requests = match not["requests"].as_u64() {
            Some(1) => "1 of its requests was".to_string(),
            n => format!("{} of its requests were", n.unwrap_or(0)),
        };
        words.push(format!(
            "In the last day, {requests} not stored: {}.",
            if reasons.is_empty() {
                "no reason given".into()
            } else {
                reasons.join(", ")
            }
        ));
    }
    words
}
