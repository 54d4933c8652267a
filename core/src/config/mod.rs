//! The cache policy, read from the `EDGECACHE` object in `wrangler.toml`'s `[vars]`.
//!
//! Parsed once, then validated once (`Config::from_json`): every problem is reported at once,
//! each with the field, the route rule by its `path`, and the reason in the user's terms, so
//! that `make check` on the host and
//! the worker at start-up say exactly the same thing. The names follow Django's cache
//! settings where one exists (`KEY_PREFIX`, `VERSION`, `TIMEOUT`).
//!
//! This module holds the validated policy and its defaults; `parse` reads the raw value,
//! `reader` reads a table's fields by kind, `fields` checks single fields, `status_ttl` reads
//! `ttl_by_status`, `suggest` finds the field a misspelt name meant.

mod checks;
mod parse;
mod reader;
pub mod shown;
mod status_ttl;
mod suggest;
#[cfg(test)]
mod tests;
mod unreachable;

use std::fmt;
use std::rc::Rc;

use crate::request::glob::{HostPattern, PathPattern};

pub use checks::check_tag;

/// A purge must reach every location within minutes at worst.
pub const MAX_PURGE_PROPAGATION_S: u64 = 300;
/// A location cut off from the control plane serves its last copy of the registry for at
/// most an hour.
pub const MAX_PURGE_GRACE_S: u64 = 3600;

/// Where entries are kept; `Backend::ALL` lists them and `Backend::describe` says what each is.
pub use crate::storage::backend::Backend;

/// The whole policy, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Heuristic freshness (seconds) for responses that give no lifetime of their own, like
    /// Django's `CACHE_MIDDLEWARE_SECONDS`; applies only to heuristically cacheable statuses.
    pub default_ttl: u64,
    /// Prepended to every key, like Django's `KEY_PREFIX`: lets several sites share storage.
    pub key_prefix: String,
    /// Part of every key, like Django's `VERSION`: bumping it makes every old entry unreachable.
    pub version: u64,
    /// The tiers used by routes that do not name their own.
    pub backends: Vec<Backend>,
    /// The memory tier's budget, in bytes of stored bodies and headers, per isolate.
    pub memory_max_bytes: u64,
    /// Larger responses are streamed to the client and not stored.
    pub max_body_bytes: u64,
    /// Seconds a stale entry may be served while one refresh runs in the background, for
    /// responses that carry no `stale-while-revalidate` of their own (RFC 5861).
    pub stale_while_revalidate: u64,
    /// Seconds a stale entry may be served when the origin fails (5xx, unreachable, timeout),
    /// for responses that carry no `stale-if-error` of their own (RFC 5861).
    pub stale_if_error: u64,
    /// Seconds a stale entry with a validator (`ETag`, `Last-Modified`) is kept, so it can be
    /// revalidated with a conditional request instead of refetched.
    pub keep_stale: u64,
    /// Milliseconds to wait for the origin's response headers before giving up (504, or a
    /// stale entry under stale-if-error).
    pub origin_timeout_ms: u64,
    /// Seconds during which, after a response that could not be stored, requests for the
    /// same URL go to the origin without waiting for each other (hit-for-pass).
    pub hit_for_pass_ttl: u64,
    /// Where the purge API, stats, inspection and dashboard live; never cached or forwarded.
    pub admin_path: String,
    /// Send the origin's `Cache-Tag` and `Surrogate-Key` on to clients (stripped by default).
    pub expose_tags: bool,
    /// Bounds on assembling pages from ESI fragments.
    pub esi: EsiLimits,
    /// Which requests get a log line.
    pub request_log: RequestLog,
    /// Ordered rules; the first whose host and path match applies.
    pub routes: Vec<Route>,
    /// Cookie names (in `request::bypass_cookie::cookie_name_form`) that pass a request to
    /// the origin, unstored, on routes without a list of their own.
    pub bypass_cookies: Vec<String>,
    /// The top level or some route names a bypass cookie: requests with a `Cookie` are checked.
    pub any_bypass_cookies: bool,
    /// Paths are matched, keyed and sent to the origin lower-cased, for origins that do not
    /// tell `/API` from `/api`.
    pub case_insensitive_paths: bool,
    /// Request fields that identify a user (lowercase). A request carrying any of them is
    /// treated as `Authorization` is (RFC 9111 §3.5), `Cookie` as a cookie; under a TTL
    /// override a response to it is stored only when its `Content-Type` agrees with the
    /// path's extension.
    pub credential_headers: Vec<String>,
    /// Client fields sent to the origin on requests whose answers may be stored, beyond the
    /// key's own, the negotiation fields and the credentials (lowercase).
    pub forward_headers: Vec<String>,
    /// Everything a request whose answer may be stored sends on of the client's fields
    /// (lowercase): the negotiation fields, `Origin`, the credentials but
    /// `Proxy-Authorization`, and `forward_headers`. A route's `vary_headers` add to it.
    pub forwarded: Rc<[String]>,
    /// Lifetimes by status, overriding the origin's, for routes without their own.
    pub ttl_by_status: Rc<[StatusTtl]>,
    /// A request's `no-cache`, `max-age` or `min-fresh` never bypasses a usable entry.
    pub ignore_client_no_cache: bool,
    /// Seconds after an entry is stored during which a client-forced refresh is answered
    /// from it instead of going to the origin.
    pub client_refresh_interval: u64,
    /// Workers Cache is in front of the worker (`[cache] enabled = true`), serving this site
    /// (`https://example.com`): edgecache tells it what it may keep of that site's answers,
    /// and `no-store` for everything else (`crate::workers_cache`).
    pub workers_cache: Option<String>,
    /// Seconds an isolate (and its location) trusts its copy of the purge registry before
    /// asking the control plane again; 0: asked on every request.
    pub purge_propagation_s: u64,
    /// Seconds past `purge_propagation_s` a copy is still used when the control plane cannot
    /// be reached; after that no stored entry is served (its purge standing is unknown).
    pub purge_grace_s: u64,
    /// Misses go to the shield (`decide::shield`) instead of the origin, on routes that do
    /// not say otherwise.
    pub shield: bool,
    /// How many shield objects keys are spread over (each takes one key's requests from the
    /// whole fleet).
    pub shield_shards: u32,
    /// Where the shield objects are created (a Durable Object `locationHint`, e.g. `enam`):
    /// near the origin.
    pub shield_location_hint: Option<String>,
}

/// Fields the origin may choose a representation by (RFC 9110 §12.5), and `Origin`, which
/// CORS answers reflect: sent on from the client; `Origin` is also keyed on when present.
pub const NEGOTIATION_FIELDS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "origin",
];

/// `credential_headers` by default.
pub const DEFAULT_CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-api-key",
];

/// A lifetime for a range of statuses (`ttl_by_status`); 0 means never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusTtl {
    pub first: u16,
    pub last: u16,
    pub ttl: u64,
}

impl StatusTtl {
    pub fn covers(&self, status: u16) -> bool {
        (self.first..=self.last).contains(&status)
    }
}

/// Which requests get a JSON log line. A request that met an error always gets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestLog {
    All,
    /// Everything but hits (the default): on a busy site, most of the lines and of their
    /// cost. Hits are counted in the stats, and Workers Logs' invocation log already has a
    /// line for every request.
    #[default]
    Misses,
    /// Only requests that met an error.
    Errors,
}

impl RequestLog {
    fn parse(text: &str) -> Result<RequestLog, String> {
        match text {
            "all" => Ok(RequestLog::All),
            "misses" => Ok(RequestLog::Misses),
            "errors" => Ok(RequestLog::Errors),
            other => Err(format!(
                "{other:?} is not one of \"all\", \"misses\", \"errors\""
            )),
        }
    }

    /// Whether a request with this outcome (`hit` or not) and errors gets a line.
    pub fn wants(self, hit: bool, errors: bool) -> bool {
        errors
            || match self {
                RequestLog::All => true,
                RequestLog::Misses => !hit,
                RequestLog::Errors => false,
            }
    }
}

/// Bounds that keep one page from fanning out without end: a template can name fragments
/// that name fragments, and each is a subrequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsiLimits {
    /// Levels of fragments within fragments; an include below this fails.
    pub max_depth: u64,
    /// Includes (and `alt` attempts) per client request, at every depth together; the ones
    /// after it fail.
    pub max_includes: u64,
    /// A larger fragment fails (it is not stored either, past `max_body_bytes`).
    pub max_fragment_bytes: u64,
}

/// One route rule, like Django's `cache_page` on a URL pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub host: Option<HostPattern>,
    pub path: PathPattern,
    /// The cache's own freshness, overriding the origin's (never its `private`, `no-store`,
    /// `no-cache` or `Set-Cookie`). What browsers are told is unchanged.
    pub ttl: Option<u64>,
    /// When set, clients are sent `Cache-Control: max-age=<browser_ttl>` instead of the origin's.
    pub browser_ttl: Option<u64>,
    /// Overrides the top-level `stale_while_revalidate` on this route.
    pub stale_while_revalidate: Option<u64>,
    /// Overrides the top-level `stale_if_error` on this route.
    pub stale_if_error: Option<u64>,
    pub backends: Vec<Backend>,
    /// Never look up or store: the request goes straight to the origin.
    pub bypass: bool,
    /// Replaces the top-level `bypass_cookies` on this route (`Some([])`: none here).
    pub bypass_cookies: Option<Vec<String>>,
    pub query: QueryRule,
    /// Request headers (lowercase) whose values join the key.
    pub vary_headers: Vec<String>,
    /// Cookie names whose values join the key; the rest of `Cookie` is ignored by the key.
    pub vary_cookies: Vec<String>,
    /// Tags stored with every entry of this route, for purging by tag.
    pub tags: Vec<String>,
    /// Assemble the route's textual responses from their `<esi:include>` fragments.
    pub esi: bool,
    /// Lifetimes by status: this route's rules, then the top-level ones.
    pub ttl_by_status: Rc<[StatusTtl]>,
    /// Overrides the top-level `shield` on this route.
    pub shield: Option<bool>,
    /// The paths this route's ESI templates may include (globs, like `path`). `None`: any
    /// path on the site, fetched with nothing of the client's request. Only an include listed
    /// here carries the client's cookies and headers its own route keys on (see `grant`).
    pub esi_includes: Option<Vec<PathPattern>>,
}

/// How the query string enters the key. Parameters are always sorted by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum QueryRule {
    /// Keep every parameter.
    #[default]
    All,
    /// Drop the parameters whose names match one of these globs (e.g. `utm_*`).
    Ignore(Vec<String>),
    /// Keep only the parameters whose names match one of these globs.
    Allow(Vec<String>),
}

/// What is wrong with the configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The text is not JSON, or not a table.
    Syntax(String),
    /// A top-level field is unknown or has a bad value.
    Field { field: String, reason: String },
    /// A field of a route rule is unknown or has a bad value (`field` empty: the rule itself).
    Rule {
        route: RouteName,
        field: String,
        reason: String,
    },
}

/// A route rule as messages name it: by its `path` (and `host`), as the user wrote them;
/// by its place in the list only when it has no readable `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteName {
    pub index: usize,
    pub path: Option<String>,
    pub host: Option<String>,
}

impl fmt::Display for RouteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, &self.host) {
            (Some(path), Some(host)) => write!(f, "routes[{path:?} on {host:?}]"),
            (Some(path), None) => write!(f, "routes[{path:?}]"),
            (None, _) => write!(f, "routes[{}]", self.index),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Syntax(reason) => write!(f, "EDGECACHE is not a valid table: {reason}"),
            ConfigError::Field { field, reason } => write!(f, "EDGECACHE.{field}: {reason}"),
            ConfigError::Rule {
                route,
                field,
                reason,
            } if field.is_empty() => write!(f, "EDGECACHE.{route}: {reason}"),
            ConfigError::Rule {
                route,
                field,
                reason,
            } => write!(f, "EDGECACHE.{route}.{field}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem of a configuration, in the order of its fields: all are reported at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn one(error: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![error])
    }
}

impl fmt::Display for ConfigErrors {
    /// One problem a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_ttl: 600,
            key_prefix: String::new(),
            version: 1,
            backends: vec![Backend::CacheApi],
            memory_max_bytes: 16 * 1024 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
            stale_while_revalidate: 0,
            stale_if_error: 0,
            keep_stale: 3600,
            origin_timeout_ms: 30_000,
            hit_for_pass_ttl: 30,
            admin_path: "/_edgecache".into(),
            expose_tags: false,
            esi: EsiLimits {
                max_depth: 3,
                // 1 page + 15 includes, each a Cache API read, an origin fetch and a Cache
                // API write at worst: 48, within the free plan's 50 subrequests.
                max_includes: 15,
                max_fragment_bytes: 1024 * 1024,
            },
            request_log: RequestLog::default(),
            routes: Vec::new(),
            bypass_cookies: Vec::new(),
            any_bypass_cookies: false,
            case_insensitive_paths: false,
            credential_headers: DEFAULT_CREDENTIAL_HEADERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            forward_headers: Vec::new(),
            forwarded: forwarded_fields(DEFAULT_CREDENTIAL_HEADERS, &[]),
            ttl_by_status: Rc::from([]),
            ignore_client_no_cache: false,
            client_refresh_interval: 5,
            workers_cache: None,
            purge_propagation_s: 2,
            purge_grace_s: 30,
            shield: false,
            // A Durable Object takes about a thousand requests a second: 16 shards carry
            // misses at that rate per shard, and a site with fewer distinct hot keys loses
            // nothing by it (a shard costs only while it is asked).
            shield_shards: 16,
            shield_location_hint: None,
        }
    }
}

/// `Config::forwarded`, from the credential fields and `forward_headers`.
pub(super) fn forwarded_fields(credentials: &[impl AsRef<str>], extra: &[String]) -> Rc<[String]> {
    let mut names: Vec<String> = NEGOTIATION_FIELDS.iter().map(|s| s.to_string()).collect();
    let credentials = credentials
        .iter()
        .map(AsRef::as_ref)
        .filter(|name| *name != "proxy-authorization");
    for name in credentials.chain(extra.iter().map(String::as_str)) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names.into()
}

impl Config {
    /// `path` is the admin path or below it (`/_edgecache`, `/_edgecache/purge`), not merely
    /// prefixed by it (`/_edgecachex`).
    pub fn is_admin_path(&self, path: &str) -> bool {
        path.strip_prefix(&self.admin_path)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}
