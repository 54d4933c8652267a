//! HTTP caching semantics for a shared cache (RFC 9111): may this response be stored, for how
//! long is it fresh, and how old is it now. Pure functions of headers and the time, which is
//! always passed in (`SystemTime::now()` panics on wasm32).

pub mod conditional;
pub mod deception;
pub mod directives;
pub mod range;
pub mod reuse;
pub mod revalidate;
mod targeted;

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::config::StatusTtl;
use crate::status::Reason;
pub use directives::CacheControl;
pub use reuse::{verdict, Verdict};

/// Response fields that carry directives for edgecache's own storage, most specific first
/// (RFC 9213 §2.1). When one is present, valid and non-empty, `Cache-Control` and `Expires`
/// are ignored for storage. edgecache runs on Cloudflare's edge and takes
/// `Cloudflare-CDN-Cache-Control` (Cloudflare's own targeted field, which ranks above
/// `CDN-Cache-Control` for Cloudflare's caches) as meant for it: below its own field, above
/// the one every CDN reads.
pub const TARGETED_FIELDS: &[&str] = &[
    "edgecache-cache-control",
    "cloudflare-cdn-cache-control",
    "cdn-cache-control",
    "surrogate-control",
];

/// The targeted fields meant for edgecache alone, removed before a response reaches the
/// client: its own, `Cloudflare-CDN-Cache-Control` (which Cloudflare does not pass downstream
/// either) and `Surrogate-Control` (which Edge Architecture has a surrogate remove).
/// `CDN-Cache-Control` speaks to every CDN on the way and is passed on, as Cloudflare does.
pub const CONSUMED_FIELDS: &[&str] = &[
    "edgecache-cache-control",
    "cloudflare-cdn-cache-control",
    "surrogate-control",
];

/// Hop-by-hop fields (RFC 9110 §7.6.1), and fields the cache recomputes or never keeps.
pub const UNSTORED_FIELDS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authentication-info",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "age",
    "set-cookie",
];

/// Read access to a header section, whatever holds it (a JS `Headers`, a stored list).
pub trait Fields {
    /// All field lines of `name` (lowercase) joined by `", "`, or `None` if absent.
    fn field(&self, name: &str) -> Option<String>;
}

impl Fields for [(String, String)] {
    fn field(&self, name: &str) -> Option<String> {
        let mut joined: Option<String> = None;
        for (n, v) in self {
            if n.eq_ignore_ascii_case(name) {
                match &mut joined {
                    Some(j) => {
                        j.push_str(", ");
                        j.push_str(v);
                    }
                    None => joined = Some(v.clone()),
                }
            }
        }
        joined
    }
}

impl Fields for Vec<(String, String)> {
    fn field(&self, name: &str) -> Option<String> {
        Fields::field(self.as_slice(), name)
    }
}

/// What the cache knows about the request when judging a response to it.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub cache_control: CacheControl,
    /// `Authorization`, or another credential field than `Cookie` (`X-Api-Key`): RFC 9111
    /// §3.5 applies to them all.
    pub has_authorization: bool,
    pub has_cookie: bool,
}

impl RequestFacts {
    /// The facts of a request, with `credentials` the configured credential fields
    /// (lowercase; `cookie` among them counts as a cookie, the rest as `Authorization`).
    pub fn of(fields: &(impl Fields + ?Sized), credentials: &[String]) -> RequestFacts {
        let mut facts = RequestFacts::from_fields(fields);
        facts.has_authorization |= credentials
            .iter()
            .filter(|name| name.as_str() != "cookie")
            .any(|name| fields.field(name).is_some());
        facts
    }

    /// Any credential at all: the answer may be this user's.
    pub fn has_credentials(&self) -> bool {
        self.has_authorization || self.has_cookie
    }

    pub fn from_fields(fields: &(impl Fields + ?Sized)) -> RequestFacts {
        let cache_control = match fields.field("cache-control") {
            Some(cc) => CacheControl::parse(&cc),
            // RFC 9111 §5.4: Pragma is only consulted when Cache-Control is absent.
            None => CacheControl {
                no_cache: fields
                    .field("pragma")
                    .is_some_and(|p| p.to_ascii_lowercase().contains("no-cache")),
                ..CacheControl::default()
            },
        };
        RequestFacts {
            cache_control,
            has_authorization: fields.field("authorization").is_some(),
            has_cookie: fields.field("cookie").is_some(),
        }
    }
}

/// The operator's settings that bear on one response: a route's TTL override and lifetimes
/// by status, the configured heuristic, and the stale windows used when the response names
/// none.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub route_ttl: Option<u64>,
    /// Looked up in order; the first rule covering the status applies.
    pub ttl_by_status: Rc<[StatusTtl]>,
    pub default_ttl: u64,
    pub stale_while_revalidate: u64,
    pub stale_if_error: u64,
    /// The extension of the request's path, which a response's `Content-Type` must agree
    /// with to be stored under an override for a request with credentials.
    pub extension: Option<String>,
}

/// The statuses a route's `ttl` applies to: the successful and permanently redirecting ones
/// RFC 9110 calls heuristically cacheable. Errors (a `404`, a `503`) keep the origin's own
/// lifetime unless a `ttl_by_status` rule names them, so an override never keeps a passing
/// error for a day.
pub fn ttl_applies_to(status: u16) -> bool {
    matches!(status, 200 | 203 | 204 | 300 | 301 | 308)
}

/// What the operator's overrides say about a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOverride {
    /// The origin's own lifetime applies.
    None,
    /// This lifetime, in seconds, whatever the origin says of freshness.
    Lifetime(u64),
    /// A `ttl_by_status` rule of 0: never stored.
    Never,
}

impl Overrides {
    pub fn for_status(&self, status: u16) -> StatusOverride {
        if let Some(rule) = self.ttl_by_status.iter().find(|r| r.covers(status)) {
            return match rule.ttl {
                0 => StatusOverride::Never,
                ttl => StatusOverride::Lifetime(ttl),
            };
        }
        match self.route_ttl {
            Some(ttl) if ttl_applies_to(status) => StatusOverride::Lifetime(ttl),
            _ => StatusOverride::None,
        }
    }
}

/// How a stored response may be reused once stale, decided when it is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reuse {
    /// Seconds it may be served stale while one refresh runs (RFC 5861 §3).
    #[serde(default)]
    pub swr: u64,
    /// Seconds it may be served stale when the origin fails (RFC 5861 §4).
    #[serde(default)]
    pub sie: u64,
    /// `must-revalidate`/`proxy-revalidate` (and `s-maxage`, which implies the latter for a
    /// shared cache unless stale directives say otherwise): never served stale.
    #[serde(default)]
    pub must_revalidate: bool,
    /// `no-cache`: never served without revalidation, even when fresh.
    #[serde(default)]
    pub no_cache: bool,
    /// It carries `ETag` or `Last-Modified`, so revalidation can be a conditional request.
    #[serde(default)]
    pub validators: bool,
}

impl Reuse {
    /// Seconds to keep it after it goes stale: its stale windows, or `keep_stale` when it can
    /// be revalidated cheaply.
    pub fn stale_keep(&self, keep_stale: u64) -> u64 {
        let revalidation = if self.validators { keep_stale } else { 0 };
        if self.must_revalidate {
            return revalidation;
        }
        self.swr.max(self.sie).max(revalidation)
    }
}

/// The directives that govern edgecache's own storage of a response, and whether they came
/// from a targeted field.
pub struct Governing {
    pub cc: CacheControl,
    pub targeted: bool,
}

/// RFC 9213 §2.2: a cache "MUST select the first (in target list order) field with a valid,
/// non-empty value and use its value to determine the caching policy for the response, and
/// it MUST ignore the Cache-Control and Expires header fields in that response".
/// `Surrogate-Control` predates Structured Fields and is read as leniently as
/// `Cache-Control`; the others (`Cloudflare-CDN-Cache-Control` too) must be valid
/// dictionaries (`targeted`).
pub fn governing_directives(response: &(impl Fields + ?Sized)) -> Governing {
    for name in TARGETED_FIELDS {
        let Some(value) = response.field(name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let directives = if *name == "surrogate-control" {
            match surrogate_directives(&value) {
                // Every directive was for another surrogate: nothing here is ours.
                ours if ours.trim().is_empty() => continue,
                ours => ours,
            }
        } else {
            match targeted::as_cache_control(&value) {
                Some(directives) => directives,
                None => continue,
            }
        };
        return Governing {
            cc: CacheControl::parse(&directives),
            targeted: true,
        };
    }
    Governing {
        cc: CacheControl::parse(&response.field("cache-control").unwrap_or_default()),
        targeted: false,
    }
}

/// The name edgecache answers to in `Surrogate-Control` targets (`max-age=60;edgecache`) and
/// announces in `Surrogate-Capability`.
pub const SURROGATE_NAME: &str = "edgecache";

/// Edge Architecture's `Surrogate-Control`: a directive targeted at another surrogate
/// (`max-age=60;other`) is not ours, one targeted at us loses its target, and the part of
/// `max-age=60+30` after `+` (for a surrogate's own use) is dropped.
fn surrogate_directives(value: &str) -> String {
    value
        .split(',')
        .filter_map(|directive| match directive.split_once(';') {
            None => Some(directive),
            Some((directive, target)) => target
                .trim()
                .eq_ignore_ascii_case(SURROGATE_NAME)
                .then_some(directive),
        })
        .map(|d| d.split('+').next().unwrap_or(d))
        .collect::<Vec<_>>()
        .join(",")
}

/// When a response was asked for and when it arrived, in milliseconds since the epoch (kept
/// to the millisecond: rounding each to whole seconds could age a response by a second it
/// never spent).
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    pub request_ms: i64,
    pub response_ms: i64,
}

impl Exchange {
    /// The response time in whole seconds, for comparisons with HTTP dates.
    pub fn response_secs(&self) -> i64 {
        self.response_ms.div_euclid(1000)
    }
}

/// The verdict on a response: stored with a lifetime, or not, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storability {
    Store {
        /// Freshness lifetime in seconds (RFC 9111 §4.2.1).
        lifetime: u64,
        /// The corrected initial age in seconds (RFC 9111 §4.2.3).
        initial_age: u64,
        /// Fields named by `private="…"` and `no-cache="…"`, to drop before storing.
        strip_fields: Vec<String>,
        /// The `Vary` field names (lowercase), empty when the response does not vary.
        vary: Vec<String>,
        reuse: Reuse,
    },
    DontStore(Reason),
}

/// Status codes RFC 9110 §15.1 defines as heuristically cacheable.
pub fn is_heuristically_cacheable(status: u16) -> bool {
    matches!(
        status,
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// The final statuses RFC 9110 defines, whose caching rules edgecache implements (for
/// `must-understand`); 206 and 304 are never stored.
fn understands(status: u16) -> bool {
    matches!(status, 200..=205 | 300..=305 | 307 | 308 | 400..=417 | 421 | 422 | 426 | 500..=505)
}

/// Decides whether a shared cache may store a response to a GET (RFC 9111 §3), and for how
/// long it is fresh. `Set-Cookie` is refused outright, stricter than the RFC: a cookie is
/// one user's, and serving it to another is the worst thing a shared cache can do.
pub fn storability(
    request: &RequestFacts,
    status: u16,
    response: &(impl Fields + ?Sized),
    overrides: &Overrides,
    exchange: Exchange,
) -> Storability {
    use Storability::DontStore;
    let Governing { cc, targeted } = governing_directives(response);

    // §3: "the request method is understood by the cache" and "the response status code is
    // final": 1xx, and 304 (which carries no representation), are never stored. 206 is a
    // part of a representation, which this cache does not assemble.
    if status == 206 {
        return DontStore(Reason::PartialContent);
    }
    if !(200..600).contains(&status) || status == 304 {
        return DontStore(Reason::UncacheableStatus);
    }
    // §3: "the no-store cache directive is not present in the request" nor the response.
    if request.cache_control.no_store {
        return DontStore(Reason::RequestNoStore);
    }
    // §5.2.2.3: with must-understand, a status whose caching rules the cache does not
    // implement is never stored, and one it does overrides no-store.
    if cc.must_understand && !understands(status) {
        return DontStore(Reason::UncacheableStatus);
    }
    if cc.no_store && !cc.must_understand {
        return DontStore(Reason::NoStore);
    }
    // §3: "if the cache is shared: the private response directive is either not present or
    // allows a shared cache to store a modified response".
    if cc.private {
        return DontStore(Reason::Private);
    }
    if response.field("set-cookie").is_some() {
        return DontStore(Reason::SetCookie);
    }
    // §3: "if the cache is shared: the Authorization header field is not present in the
    // request or a response directive is present that explicitly allows shared caching"
    // (§3.5: public, s-maxage or must-revalidate).
    if request.has_authorization && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate) {
        return DontStore(Reason::Authorization);
    }
    // §4.1: "A stored response with a Vary header field value containing a member "*"
    // always fails to match."
    let vary = vary_fields(response);
    if vary.iter().any(|f| f == "*") {
        return DontStore(Reason::VaryStar);
    }
    let validators = response.field("etag").is_some() || response.field("last-modified").is_some();
    // §5.2.2.4: no-cache "MUST NOT be used to satisfy any other request without forwarding
    // it for validation": worth storing only when that validation can be conditional.
    if cc.no_cache && !validators {
        return DontStore(Reason::NoCache);
    }

    let route_ttl = match overrides.for_status(status) {
        StatusOverride::Never => return DontStore(Reason::UncacheableStatus),
        StatusOverride::Lifetime(ttl) => Some(ttl),
        StatusOverride::None => None,
    };
    // Cache deception armour: an override stores what the origin did not mark as
    // cacheable, and origins that strip `;params` or decode `%2F` answer `/account;.css` with
    // the account page. For a request with credentials, the answer is stored under an
    // override only if its type is what the path's extension says it is.
    if route_ttl.is_some()
        && request.has_credentials()
        && !deception::content_type_agrees(
            overrides.extension.as_deref(),
            response.field("content-type").as_deref(),
        )
    {
        return DontStore(Reason::ContentTypeMismatch);
    }

    let explicit = if targeted {
        cc.s_maxage.or(cc.max_age)
    } else {
        explicit_lifetime(&cc, response, exchange.response_secs())
    };
    let initial_age = corrected_initial_age(response, exchange);
    // §3: the response must contain "a public response directive", "an explicit expiration
    // time", or have "a status code that is defined as heuristically cacheable". A route's
    // TTL is the operator's explicit time, counted from when the response reached us.
    let lifetime = match (route_ttl, explicit) {
        (Some(route_ttl), _) => route_ttl.saturating_add(initial_age),
        (None, Some(explicit)) => explicit,
        // Stricter than the RFC: a response to a request with a cookie, that says nothing
        // about caching, is too often a page personalised by a session cookie; guessing a
        // lifetime for it would share one user's page with everyone.
        (None, None) if request.has_cookie && !cc.public => {
            return DontStore(Reason::CookieWithoutFreshness)
        }
        (None, None) if cc.public || is_heuristically_cacheable(status) => {
            heuristic_lifetime(response, overrides.default_ttl, exchange.response_secs())
        }
        (None, None) => return DontStore(Reason::UncacheableStatus),
    };
    let explicit_stale = cc.stale_while_revalidate.is_some() || cc.stale_if_error.is_some();
    let reuse = Reuse {
        swr: cc
            .stale_while_revalidate
            .unwrap_or(overrides.stale_while_revalidate),
        sie: cc.stale_if_error.unwrap_or(overrides.stale_if_error),
        // §5.2.2.10: s-maxage "incorporates the semantics of the proxy-revalidate response
        // directive" for a shared cache; explicit stale-* directives say the origin wants
        // stale serving all the same.
        must_revalidate: cc.must_revalidate
            || cc.proxy_revalidate
            || (cc.s_maxage.is_some() && !explicit_stale),
        no_cache: cc.no_cache,
        validators,
    };
    // Already stale and no way to use it but a full refetch: not worth a write.
    if lifetime <= initial_age && !validators && reuse.stale_keep(0) == 0 {
        return DontStore(Reason::StaleOnArrival);
    }

    let mut strip_fields = cc.private_fields;
    strip_fields.extend(cc.no_cache_fields);
    Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        vary,
        reuse,
    }
}

/// The fields of a response as stored: without hop-by-hop fields, those the cache
/// recomputes, those named by `Connection` and by `private="…"`/`no-cache="…"`, and with a
/// `Date` if the origin sent none (RFC 9110 §6.6.1: a recipient with a clock "MUST record the
/// time it was received and append a corresponding Date header field").
pub fn fields_to_store(
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

/// RFC 9111 §4.2.1, for a shared cache: `s-maxage`, else `max-age`, else `Expires − Date`.
pub fn explicit_lifetime(
    cc: &CacheControl,
    response: &(impl Fields + ?Sized),
    response_time: i64,
) -> Option<u64> {
    if let Some(s_maxage) = cc.s_maxage {
        return Some(s_maxage);
    }
    if let Some(max_age) = cc.max_age {
        return Some(max_age);
    }
    let expires = response.field("expires")?;
    // §5.3: "A cache recipient MUST interpret invalid date formats, especially the value
    // "0", as representing a time in the past (i.e., "already expired")."
    let Some(expires) = http_date(&expires) else {
        return Some(0);
    };
    let date = response
        .field("date")
        .and_then(|d| http_date(&d))
        .unwrap_or(response_time);
    // Like delta-seconds, saturating at 2^31 (a year-9999 `Expires` is not 250 billion s).
    Some((expires.saturating_sub(date).max(0) as u64).min(directives::DELTA_SECONDS_MAX))
}

/// The longest lifetime guessed from `Last-Modified` when `default_ttl` is 0.
const LAST_MODIFIED_HEURISTIC_MAX: u64 = 600;

/// RFC 9111 §4.2.2: with no explicit lifetime, 10% of the time since `Last-Modified` (a page
/// changed a minute ago is likely to change again soon), at most `default_ttl`; with no
/// `Last-Modified` either, `default_ttl` itself (Django's `CACHE_MIDDLEWARE_SECONDS`).
/// `default_ttl` 0 turns off the guess that has nothing to go on, not the RFC's own
/// heuristic, which is then capped at `LAST_MODIFIED_HEURISTIC_MAX`.
fn heuristic_lifetime(response: &(impl Fields + ?Sized), default_ttl: u64, now: i64) -> u64 {
    let date = response
        .field("date")
        .and_then(|d| http_date(&d))
        .unwrap_or(now);
    let cap = match default_ttl {
        0 => LAST_MODIFIED_HEURISTIC_MAX,
        ttl => ttl,
    };
    match response
        .field("last-modified")
        .and_then(|lm| http_date(&lm))
    {
        Some(modified) if modified <= date => cap.min(((date - modified) / 10) as u64),
        Some(_) => 0,
        None => default_ttl,
    }
}

/// RFC 9111 §4.2.3, the age of a response when it arrived:
/// `corrected_initial_age = max(apparent_age, age_value + response_delay)`.
pub fn corrected_initial_age(response: &(impl Fields + ?Sized), exchange: Exchange) -> u64 {
    let age_value = response
        .field("age")
        .and_then(|a| directives::delta_seconds(a.split(',').next().unwrap_or("")))
        .unwrap_or(0);
    let apparent_age = response
        .field("date")
        .and_then(|d| http_date(&d))
        .map_or(0, |date| (exchange.response_secs() - date).max(0) as u64);
    let response_delay = ((exchange.response_ms - exchange.request_ms).max(0) / 1000) as u64;
    apparent_age
        .max(age_value.saturating_add(response_delay))
        .min(directives::DELTA_SECONDS_MAX)
}

/// The `Vary` field names, lowercase, deduplicated, in order of first appearance.
pub fn vary_fields(response: &(impl Fields + ?Sized)) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for name in response.field("vary").unwrap_or_default().split(',') {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !fields.contains(&name) {
            fields.push(name);
        }
    }
    fields
}

/// An HTTP-date (RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP
/// header field MUST accept all three HTTP-date formats": IMF-fixdate, RFC 850 and asctime) as
/// seconds since the epoch. Day and month names and `GMT` are read in any case
/// (`THU, 18 AUG 2050 02:01:18 gmt`), as the HTTP cache test suite expects; anything else
/// that is not one of the three formats (`UTC`, a two-digit year outside RFC 850, missing
/// commas, extra spaces) is invalid.
pub fn http_date(value: &str) -> Option<i64> {
    let canonical = canonical_date_names(value.trim());
    let time = httpdate::parse_http_date(&canonical).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_secs()).ok()
}

/// Day names, month names and `GMT` of an HTTP-date in the case the formats spell them.
fn canonical_date_names(value: &str) -> String {
    const NAMES: &[&str] = &[
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
        "GMT",
    ];
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while !rest.is_empty() {
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        if letters == 0 {
            let next = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..next]);
            rest = &rest[next..];
            continue;
        }
        let word = &rest[..letters];
        match NAMES.iter().find(|name| name.eq_ignore_ascii_case(word)) {
            Some(name) => out.push_str(name),
            None => out.push_str(word),
        }
        rest = &rest[letters..];
    }
    out
}

/// Formats seconds since the epoch as an IMF-fixdate, for the `Date` a cache must add.
pub fn format_http_date(secs: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    httpdate::fmt_http_date(time)
}

/// A header list from string pairs, for tests.
#[cfg(test)]
pub(crate) fn field_list(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
