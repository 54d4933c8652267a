//! The request flow: look the request up in the route's tiers and answer from the first
//! fresh entry; otherwise forward it to the origin, stream the answer to the client, and store
//! it in the background (`ctx.wait_until`) when HTTP semantics allow.

use std::rc::Rc;

use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, ReadableStream, Request, Response};
use worker::{Context, Env};

use crate::conditional::is_not_modified;
use crate::config::{Backend, Config, Route};
use crate::entry::{Kind, Meta, FORMAT};
use crate::key::{cookie_value, normalize_header_value, normalize_query, CacheKey, Variant};
use crate::origin::{Forward, HOP_HEADER};
use crate::policy::{
    format_http_date, storability, Exchange, Fields, Overrides, RequestFacts, Storability,
};
use crate::reply::{self, Decoration};
use crate::runtime::{header_list, now_ms, read_limited, Body, JsFields};
use crate::status::{Fwd, Outcome, Reason};
use crate::store::{Entry, Store, Tier};

/// Everything read from the environment once per isolate.
pub struct Settings {
    pub config: Config,
    /// `ORIGIN`: where requests go; `None` forwards to the request's own URL.
    pub origin: Option<Url>,
}

/// What the request log line reports beyond the response itself.
#[derive(Default)]
pub struct Notes {
    pub outcome: Option<Outcome>,
    pub errors: Vec<String>,
}

/// Hop-by-hop fields (RFC 9110 §7.6.1) and fields the cache recomputes: never stored.
const UNSTORED_FIELDS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "age",
    "set-cookie",
];

pub async fn handle(
    request: &Request,
    env: &Env,
    ctx: &Context,
    settings: &Settings,
    notes: &mut Notes,
) -> Result<Response, JsValue> {
    let url = match Url::parse(&request.url()) {
        Ok(url) => url,
        Err(e) => {
            let outcome = Outcome::bypass(Reason::RouteBypass);
            return reply::plain(400, &format!("edgecache: bad request URL: {e}\n"), &outcome);
        }
    };
    let headers = request.headers();
    if headers.has(HOP_HEADER).unwrap_or(false) {
        let outcome = Outcome::bypass(Reason::LoopDetected);
        let message = "edgecache: this request came from edgecache itself (a forwarding loop); set ORIGIN to the site to cache\n";
        notes.outcome = Some(outcome.clone());
        return reply::plain(508, message, &outcome);
    }

    let config = &settings.config;
    let route = config.route_for(url.host_str().unwrap_or_default(), url.path());
    let method = request.method();
    let forward = |cacheable: bool| Forward {
        request,
        url: &url,
        origin: settings.origin.as_ref(),
        cacheable,
        keep_cookies: route.map_or(&[][..], |r| &r.vary_cookies[..]),
    };
    if method != "GET" && method != "HEAD" {
        return pass_through(forward(false), Fwd::Method, None, notes).await;
    }
    if route.is_some_and(|r| r.bypass) {
        return pass_through(
            forward(false),
            Fwd::Bypass,
            Some(Reason::RouteBypass),
            notes,
        )
        .await;
    }

    let plan = Plan::new(config, route, &url, &headers);
    let tiers = Rc::new(open_tiers(&plan, env, &url, config.memory_max_bytes, notes));
    let facts = RequestFacts::from_fields(&JsFields(&headers));
    let head = method == "HEAD";

    let lookup = lookup(&tiers, &plan, &headers, notes).await;
    let fwd = match lookup.found {
        Some(found) if !facts.forbids_stored_response() => {
            let now = now_ms();
            let outcome = Outcome::Hit {
                ttl: found.entry.meta.ttl(now),
                tier: tiers[found.tier].backend(),
            };
            let not_modified = is_not_modified(&JsFields(&headers), &found.entry.meta);
            let decoration = Decoration {
                outcome: &outcome,
                browser_ttl: plan.browser_ttl,
            };
            let response = reply::from_entry(
                &found.entry.meta,
                &found.entry.body,
                now,
                head,
                not_modified,
                &decoration,
            );
            if found.tier > 0 {
                ctx.wait_until(backfill(tiers.clone(), found));
            }
            notes.outcome = Some(outcome);
            return response;
        }
        Some(_) => Fwd::Request,
        None if lookup.vary_miss => Fwd::VaryMiss,
        None => Fwd::Miss,
    };

    let request_time = now_ms();
    let origin = match forward(true).send().await {
        Ok(origin) => origin,
        Err(error) => return origin_unreachable(fwd, error.0, notes),
    };
    let exchange = Exchange {
        request_time: request_time / 1000,
        response_time: now_ms() / 1000,
    };
    let status = origin.status();
    let origin_fields = header_list(&origin.headers());
    let verdict = if head {
        Storability::DontStore(Reason::HeadNotStored)
    } else if tiers.is_empty() {
        Storability::DontStore(Reason::StorageError)
    } else if content_length(&origin_fields).is_some_and(|len| len > config.max_body_bytes) {
        Storability::DontStore(Reason::TooLarge)
    } else {
        storability(
            &facts,
            status,
            &origin_fields,
            plan.overrides(config),
            exchange,
        )
    };

    let Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        vary,
    } = verdict
    else {
        let Storability::DontStore(reason) = verdict else {
            unreachable!()
        };
        let outcome = Outcome::Forward {
            fwd,
            status: Some(status),
            stored: false,
            reason: Some(reason),
        };
        let decoration = Decoration {
            outcome: &outcome,
            browser_ttl: None,
        };
        notes.outcome = Some(outcome.clone());
        // The client's validators were not sent on; answer them from what came back.
        let not_modified = status == 200 && is_not_modified(&JsFields(&headers), &origin_fields);
        return reply::from_origin(&origin, origin.body().as_ref(), not_modified, &decoration);
    };

    let entry_key = plan
        .key
        .with_variance(response_variance(&vary, &plan, &headers))
        .render();
    let meta = Meta {
        v: FORMAT,
        kind: Kind::Response,
        key: entry_key.clone(),
        status,
        headers: stored_fields(origin_fields, &strip_fields, exchange.response_time),
        stored_at: exchange.response_time * 1000,
        initial_age,
        lifetime,
        tags: plan.tags.clone(),
        vary: Vec::new(),
        body_len: 0,
    };
    let marker = (!vary.is_empty()).then(|| Meta {
        kind: Kind::Variants,
        key: plan.primary.clone(),
        status: 0,
        headers: Vec::new(),
        tags: Vec::new(),
        vary,
        ..meta.clone()
    });
    let not_modified = is_not_modified(&JsFields(&headers), &meta);
    let outcome = Outcome::Forward {
        fwd,
        status: Some(status),
        stored: true,
        reason: None,
    };
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: plan.browser_ttl,
    };
    notes.outcome = Some(outcome.clone());

    let (client_body, store_body) = match origin.body() {
        Some(body) => {
            let branches = body.tee();
            (
                Some(branches.get(0).unchecked_into::<ReadableStream>()),
                Some(branches.get(1).unchecked_into()),
            )
        }
        None => (None, None),
    };
    let write = Write {
        primary: plan.primary.clone(),
        entry_key,
        meta,
        marker,
    };
    ctx.wait_until(store(tiers, write, store_body, config.max_body_bytes));
    reply::from_origin(&origin, client_body.as_ref(), not_modified, &decoration)
}

/// The per-request cache plan: the key and where entries live.
struct Plan<'a> {
    route: Option<&'a Route>,
    key: CacheKey,
    primary: String,
    backends: &'a [Backend],
    browser_ttl: Option<u64>,
    tags: Vec<String>,
}

impl<'a> Plan<'a> {
    fn new(config: &'a Config, route: Option<&'a Route>, url: &Url, headers: &Headers) -> Plan<'a> {
        let query_rule = route.map(|r| r.query.clone()).unwrap_or_default();
        let mut variance = Vec::new();
        if let Some(route) = route {
            for name in &route.vary_headers {
                variance.push(header_variant(headers, name));
            }
            let cookies = headers.get("cookie").ok().flatten().unwrap_or_default();
            for name in &route.vary_cookies {
                variance.push(Variant {
                    name: format!("cookie.{name}"),
                    value: cookie_value(&cookies, name),
                });
            }
        }
        let mut host = url.host_str().unwrap_or_default().to_string();
        if let Some(port) = url.port() {
            host.push_str(&format!(":{port}"));
        }
        let key = CacheKey {
            prefix: config.key_prefix.clone(),
            version: config.version,
            scheme: url.scheme().to_string(),
            host,
            path: url.path().to_string(),
            query: normalize_query(url.query().unwrap_or_default(), &query_rule),
            variance,
        };
        Plan {
            route,
            primary: key.render(),
            key,
            backends: route.map_or(&config.backends[..], |r| &r.backends[..]),
            browser_ttl: route.and_then(|r| r.browser_ttl),
            tags: route.map(|r| r.tags.clone()).unwrap_or_default(),
        }
    }

    fn overrides(&self, config: &Config) -> Overrides {
        Overrides {
            route_ttl: self.route.and_then(|r| r.ttl),
            default_ttl: config.default_ttl,
        }
    }
}

fn header_variant(headers: &Headers, name: &str) -> Variant {
    Variant {
        name: name.to_string(),
        value: headers
            .get(name)
            .ok()
            .flatten()
            .map(|v| normalize_header_value(name, &v)),
    }
}

/// The variant key parts for a response's `Vary` fields. A route that keys on named cookies
/// has already put the cookies that matter into the primary key, so `Vary: Cookie` does not
/// split it further on the rest of the cookie header.
fn response_variance(vary: &[String], plan: &Plan, headers: &Headers) -> Vec<Variant> {
    let cookies_keyed = plan.route.is_some_and(|r| !r.vary_cookies.is_empty());
    vary.iter()
        .filter(|name| !(cookies_keyed && name.as_str() == "cookie"))
        .map(|name| header_variant(headers, name))
        .collect()
}

fn open_tiers(
    plan: &Plan,
    env: &Env,
    url: &Url,
    memory_budget: u64,
    notes: &mut Notes,
) -> Vec<Tier> {
    let url_base = format!(
        "{}://{}",
        url.scheme(),
        url.host_str().unwrap_or("edgecache.invalid")
    );
    plan.backends
        .iter()
        .filter_map(
            |&backend| match Tier::open(backend, env, &url_base, memory_budget) {
                Ok(tier) => Some(tier),
                Err(e) => {
                    notes.errors.push(e.to_string());
                    None
                }
            },
        )
        .collect()
}

struct Found {
    tier: usize,
    entry: Entry,
    entry_key: String,
    marker: Option<Entry>,
}

struct Lookup {
    found: Option<Found>,
    /// Some tier knew the URL's variants but not this request's.
    vary_miss: bool,
}

/// Reads the tiers in order; the first fresh entry wins. A failing tier is noted and skipped.
async fn lookup(tiers: &[Tier], plan: &Plan<'_>, headers: &Headers, notes: &mut Notes) -> Lookup {
    let mut vary_miss = false;
    for (index, tier) in tiers.iter().enumerate() {
        let entry = match read(tier, &plan.primary, notes).await {
            Some(entry) => entry,
            None => continue,
        };
        if entry.meta.kind == Kind::Response {
            return Lookup {
                found: Some(Found {
                    tier: index,
                    entry,
                    entry_key: plan.primary.clone(),
                    marker: None,
                }),
                vary_miss,
            };
        }
        let entry_key = plan
            .key
            .with_variance(response_variance(&entry.meta.vary, plan, headers))
            .render();
        match read(tier, &entry_key, notes).await {
            Some(variant) if variant.meta.kind == Kind::Response => {
                return Lookup {
                    found: Some(Found {
                        tier: index,
                        entry: variant,
                        entry_key,
                        marker: Some(entry),
                    }),
                    vary_miss,
                };
            }
            _ => vary_miss = true,
        }
    }
    Lookup {
        found: None,
        vary_miss,
    }
}

/// One tier's fresh entry under `key`, checking the stored key so a hashed key can never
/// answer for another.
async fn read(tier: &Tier, key: &str, notes: &mut Notes) -> Option<Entry> {
    match tier.get(key).await {
        Ok(Some(entry)) if entry.meta.key == key && entry.meta.is_fresh(now_ms()) => Some(entry),
        Ok(_) => None,
        Err(e) => {
            notes.errors.push(e.to_string());
            None
        }
    }
}

/// Copies an entry found in a lower tier into the faster tiers above it.
async fn backfill(tiers: Rc<Vec<Tier>>, found: Found) {
    let keep = found.entry.meta.ttl(now_ms()).max(0) as u64;
    for tier in &tiers[..found.tier] {
        if let Some(marker) = &found.marker {
            log_failure(tier.put(&marker.meta.key, marker, keep).await);
        }
        log_failure(tier.put(&found.entry_key, &found.entry, keep).await);
    }
}

/// What the background store writes once the body has been read.
struct Write {
    primary: String,
    entry_key: String,
    meta: Meta,
    marker: Option<Meta>,
}

/// Reads the stored branch of the body (up to the size limit) and writes the entry, and the
/// `Vary` marker, to every tier. A body that fails or overflows is not stored at all.
async fn store(tiers: Rc<Vec<Tier>>, write: Write, body: Option<ReadableStream>, limit: u64) {
    let body = match body {
        None => Vec::new(),
        Some(stream) => match read_limited(stream, limit).await {
            Ok(Body::Complete(bytes)) => bytes,
            Ok(Body::TooLarge) => return log_reason(&write.entry_key, Reason::TooLarge),
            Err(_) => return log_reason(&write.entry_key, Reason::BodyError),
        },
    };
    let meta = Meta {
        body_len: body.len() as u64,
        ..write.meta
    };
    let keep = meta.ttl(now_ms()).max(0) as u64;
    let entry = Entry {
        meta,
        body: Rc::from(body),
    };
    let marker = write.marker.map(|meta| Entry {
        meta,
        body: Rc::from(Vec::new()),
    });
    for tier in tiers.iter() {
        if let Some(marker) = &marker {
            log_failure(tier.put(&write.primary, marker, keep).await);
        }
        log_failure(tier.put(&write.entry_key, &entry, keep).await);
    }
}

fn log_failure(result: Result<(), crate::store::StoreError>) {
    if let Err(e) = result {
        worker::console_error!(
            "{}",
            serde_json::json!({ "edgecache": "store-failed", "error": e.to_string() })
        );
    }
}

fn log_reason(key: &str, reason: Reason) {
    worker::console_warn!(
        "{}",
        serde_json::json!({ "edgecache": "not-stored", "key": key, "reason": reason.as_str() })
    );
}

/// Forwards a request the cache does not answer, adding only `Cache-Status`.
async fn pass_through(
    forward: Forward<'_>,
    fwd: Fwd,
    reason: Option<Reason>,
    notes: &mut Notes,
) -> Result<Response, JsValue> {
    let origin = match forward.send().await {
        Ok(origin) => origin,
        Err(error) => return origin_unreachable(fwd, error.0, notes),
    };
    let outcome = Outcome::Forward {
        fwd,
        status: Some(origin.status()),
        stored: false,
        reason,
    };
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: None,
    };
    notes.outcome = Some(outcome.clone());
    reply::from_origin(&origin, origin.body().as_ref(), false, &decoration)
}

fn origin_unreachable(fwd: Fwd, error: String, notes: &mut Notes) -> Result<Response, JsValue> {
    let outcome = Outcome::Forward {
        fwd,
        status: None,
        stored: false,
        reason: Some(Reason::OriginUnreachable),
    };
    notes.errors.push(format!("origin: {error}"));
    notes.outcome = Some(outcome.clone());
    reply::plain(
        502,
        &format!("edgecache: the origin could not be reached: {error}\n"),
        &outcome,
    )
}

fn content_length(fields: &[(String, String)]) -> Option<u64> {
    fields
        .field("content-length")
        .and_then(|v| v.trim().parse().ok())
}

/// The origin's fields as stored: without hop-by-hop fields, those the cache recomputes,
/// those `private="…"`/`no-cache="…"` name, and with a `Date` if the origin sent none
/// (RFC 9110 §6.6.1: a recipient with a clock "MUST … append a corresponding Date").
fn stored_fields(
    fields: Vec<(String, String)>,
    strip: &[String],
    response_time: i64,
) -> Vec<(String, String)> {
    let connection_named: Vec<String> = fields
        .field("connection")
        .unwrap_or_default()
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let mut kept: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(name, _)| {
            !UNSTORED_FIELDS.contains(&name.as_str())
                && !strip.contains(name)
                && !connection_named.contains(name)
        })
        .collect();
    if kept.field("date").is_none() {
        kept.push(("date".into(), format_http_date(response_time)));
    }
    kept
}
