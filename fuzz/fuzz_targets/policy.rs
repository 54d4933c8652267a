//! Storability and reuse over arbitrary header lists: never panics or overflows (fuzz builds
//! keep overflow checks), and every stored response obeys the rules that keep one user's
//! answer from another: no `no-store`, `private`, `Set-Cookie` or `Vary: *`; `Authorization`
//! only when allowed (another credential field counts as it); under a lifetime override, an
//! answer to a request with credentials only when its type agrees with the path's extension,
//! and never a status a `ttl_by_status` rule of 0 names; hop-by-hop, `Set-Cookie` and
//! stripped fields never kept; lifetimes and ages saturate at 2^31. A client's forced
//! refresh is limited only within the interval, and never when client directives are ignored.
#![no_main]

use arbitrary::Arbitrary;
use edgecache_core::http::directives::DELTA_SECONDS_MAX;
use edgecache_core::config::StatusTtl;
use edgecache_core::http::deception::content_type_agrees;
use edgecache_core::http::reuse::{client_verdict, usable_on_error, Forcing, RefreshPolicy};
use edgecache_core::http::revalidate::merge_not_modified;
use edgecache_core::http::{
    fields_to_store, format_http_date, governing_directives, storability, verdict, Exchange,
    Fields, Overrides, RequestFacts, StatusOverride, Storability, Verdict, UNSTORED_FIELDS,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Name {
    CacheControl,
    CdnCacheControl,
    SurrogateControl,
    EdgecacheCacheControl,
    Expires,
    Date,
    Age,
    Vary,
    SetCookie,
    Etag,
    LastModified,
    Connection,
    ContentLength,
    Pragma,
    Authorization,
    Cookie,
    ApiKey,
    ContentType,
    CloudflareCdnCacheControl,
    Other(String),
}

impl Name {
    /// Lowercase, as the runtime hands field names to the worker.
    fn text(&self) -> String {
        match self {
            Name::CacheControl => "cache-control".into(),
            Name::CdnCacheControl => "cdn-cache-control".into(),
            Name::SurrogateControl => "surrogate-control".into(),
            Name::EdgecacheCacheControl => "edgecache-cache-control".into(),
            Name::Expires => "expires".into(),
            Name::Date => "date".into(),
            Name::Age => "age".into(),
            Name::Vary => "vary".into(),
            Name::SetCookie => "set-cookie".into(),
            Name::Etag => "etag".into(),
            Name::LastModified => "last-modified".into(),
            Name::Connection => "connection".into(),
            Name::ContentLength => "content-length".into(),
            Name::Pragma => "pragma".into(),
            Name::Authorization => "authorization".into(),
            Name::Cookie => "cookie".into(),
            Name::ApiKey => "x-api-key".into(),
            Name::ContentType => "content-type".into(),
            Name::CloudflareCdnCacheControl => "cloudflare-cdn-cache-control".into(),
            Name::Other(name) => name.to_ascii_lowercase(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Value {
    Text(String),
    /// A valid HTTP-date around now, in seconds from `NOW`.
    Date(i32),
    Seconds(u64),
    Directives(Vec<(u8, Option<u64>)>),
}

const DIRECTIVES: &[&str] = &[
    "max-age",
    "s-maxage",
    "no-store",
    "no-cache",
    "private",
    "public",
    "must-revalidate",
    "proxy-revalidate",
    "stale-while-revalidate",
    "stale-if-error",
    "max-stale",
    "min-fresh",
    "only-if-cached",
    "immutable",
    "must-understand",
];

const NOW: i64 = 1_795_000_000;

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(text) => text.clone(),
            Value::Date(offset) => format_http_date(NOW + i64::from(*offset)),
            Value::Seconds(n) => n.to_string(),
            Value::Directives(list) => list
                .iter()
                .map(|(d, arg)| {
                    let name = DIRECTIVES[*d as usize % DIRECTIVES.len()];
                    match arg {
                        Some(n) => format!("{name}={n}"),
                        None => name.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    status: u16,
    response: Vec<(Name, Value)>,
    request: Vec<(Name, Value)>,
    update: Vec<(Name, Value)>,
    route_ttl: Option<u32>,
    default_ttl: u32,
    swr: u32,
    sie: u32,
    delay_ms: u16,
    age: u32,
    ttl_by_status: Vec<(u16, u16, u32)>,
    extension: Option<u8>,
    resident: u32,
    refresh_interval: u8,
    ignore_refresh: bool,
}

const EXTENSIONS: &[&str] = &["css", "js", "png", "html", "json", "php", "", "woff2"];

fn list(fields: &[(Name, Value)]) -> Vec<(String, String)> {
    fields.iter().map(|(n, v)| (n.text(), v.text())).collect()
}

fuzz_target!(|input: Input| {
    let response = list(&input.response);
    let request = list(&input.request);
    let credentials = ["authorization".to_string(), "cookie".into(), "x-api-key".into()];
    let facts = RequestFacts::of(&request, &credentials);
    let ttl_by_status: Vec<StatusTtl> = input
        .ttl_by_status
        .iter()
        .map(|&(a, b, ttl)| StatusTtl {
            first: a.min(b),
            last: a.max(b),
            ttl: u64::from(ttl),
        })
        .collect();
    let overrides = Overrides {
        route_ttl: input.route_ttl.map(u64::from),
        ttl_by_status: ttl_by_status.into(),
        default_ttl: u64::from(input.default_ttl),
        stale_while_revalidate: u64::from(input.swr),
        stale_if_error: u64::from(input.sie),
        extension: input
            .extension
            .map(|e| EXTENSIONS[e as usize % EXTENSIONS.len()].to_string()),
    };
    let status_override = overrides.for_status(input.status);
    if input.status >= 500 && !overrides.ttl_by_status.iter().any(|r| r.covers(input.status)) {
        assert_eq!(
            status_override,
            StatusOverride::None,
            "a route ttl overrode a server error"
        );
    }
    let exchange = Exchange {
        request_ms: NOW * 1000,
        response_ms: NOW * 1000 + i64::from(input.delay_ms),
        sent_ms: NOW * 1000,
    };
    let verdict_now = storability(&facts, input.status, &response, &overrides, exchange);
    let Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        vary,
        reuse,
    } = verdict_now
    else {
        return;
    };
    let cc = governing_directives(&response).cc;
    assert!((200..600).contains(&input.status) && ![206, 304].contains(&input.status));
    assert!(
        !facts.cache_control.no_store,
        "stored despite request no-store"
    );
    // RFC 9111 §5.2.2.3: must-understand overrides no-store for an understood status.
    assert!(
        (!cc.no_store || cc.must_understand) && !cc.private,
        "stored a no-store/private response"
    );
    assert!(
        response.field("set-cookie").is_none(),
        "stored a Set-Cookie"
    );
    assert!(!vary.iter().any(|v| v == "*"), "stored Vary: *");
    assert!(
        !facts.has_authorization || cc.public || cc.s_maxage.is_some() || cc.must_revalidate,
        "stored an answer to Authorization without permission"
    );
    assert_ne!(status_override, StatusOverride::Never, "stored a status a rule refuses");
    if matches!(status_override, StatusOverride::Lifetime(_)) && facts.has_credentials() {
        assert!(
            content_type_agrees(
                overrides.extension.as_deref(),
                response.field("content-type").as_deref()
            ),
            "stored a credentialed answer under an override against its extension"
        );
    }
    assert!(initial_age <= DELTA_SECONDS_MAX);
    if input.route_ttl.is_none() && overrides.ttl_by_status.is_empty() {
        assert!(
            lifetime <= DELTA_SECONDS_MAX.max(overrides.default_ttl),
            "lifetime {lifetime}"
        );
    }
    for name in &vary {
        assert!(!name.is_empty() && name.trim() == name && !name.contains(','));
        assert_eq!(*name, name.to_ascii_lowercase());
    }

    let kept = fields_to_store(response.clone(), &strip_fields, exchange.response_secs());
    let own_date = format_http_date(exchange.response_secs());
    for (name, value) in &kept {
        assert!(!UNSTORED_FIELDS.contains(&name.as_str()), "kept {name}");
        // A Date stripped by no-cache="date" is replaced by the cache's own receipt time
        // (RFC 9110 §6.6.1), never kept.
        assert!(
            !strip_fields.contains(name) || (name == "date" && *value == own_date),
            "kept stripped {name}"
        );
    }
    assert!(kept.field("date").is_some(), "a stored response has a Date");

    // Reuse: freshness, staleness and errors, at any age.
    let age = u64::from(input.age);
    match verdict(&reuse, age, lifetime, &facts.cache_control) {
        Verdict::Fresh => assert!(age < lifetime),
        Verdict::StaleAccepted | Verdict::StaleWhileRevalidate => {
            assert!(age >= lifetime && !reuse.must_revalidate);
            assert!(!reuse.no_cache && !facts.cache_control.no_cache);
        }
        Verdict::Revalidate => {}
    }
    if usable_on_error(&reuse, age, lifetime) {
        assert!(!reuse.must_revalidate);
    }
    let policy = RefreshPolicy {
        ignore: input.ignore_refresh,
        interval_secs: u64::from(input.refresh_interval),
    };
    let resident = u64::from(input.resident);
    let asked = verdict(&reuse, age, lifetime, &facts.cache_control);
    let (limited, forcing) = client_verdict(
        &reuse,
        age,
        lifetime,
        &facts.cache_control,
        resident,
        policy,
    );
    match forcing {
        Forcing::Limited => {
            assert!(!policy.ignore && resident < policy.interval_secs);
            assert_ne!(limited, Verdict::Revalidate);
        }
        Forcing::Forced => {
            assert!(!policy.ignore && resident >= policy.interval_secs);
            assert_eq!(limited, Verdict::Revalidate);
        }
        Forcing::None => {
            assert!(limited == asked || policy.ignore, "{limited:?} != {asked:?}");
        }
    }

    // A 304's fields merged into the stored ones never bring back framing fields.
    let merged = merge_not_modified(kept.clone(), &list(&input.update));
    let before = kept.field("content-length");
    assert_eq!(merged.field("content-length"), before);
});
