//! The cache policy, read from the `EDGECACHE` object in `wrangler.toml`'s `[vars]`.
//!
//! Parsed once, then validated once (`Config::from_json`): every problem is reported with
//! the field, or the route rule's index, and the reason, so that `make check` on the host and
//! the worker at start-up say exactly the same thing. The names follow Django's cache
//! settings where one exists (`KEY_PREFIX`, `VERSION`, `TIMEOUT`).

use std::fmt;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;

use crate::request::glob::{GlobError, HostPattern, PathPattern};

/// Workers KV refuses an `expirationTtl` below 60 seconds.
pub const KV_MIN_TTL: u64 = 60;
/// Workers KV refuses values above 25 MiB.
pub const KV_MAX_VALUE_BYTES: u64 = 25 * 1024 * 1024;
/// A purge must reach every location within minutes at worst.
pub const MAX_PURGE_PROPAGATION_S: u64 = 300;
/// A location cut off from the control plane serves its last copy of the registry for at
/// most an hour.
pub const MAX_PURGE_GRACE_S: u64 = 3600;

/// Where entries are kept. Several backends form tiers, read in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A bounded LRU inside the isolate: fastest, per isolate, lost on eviction.
    Memory,
    /// The Workers Cache API: per data center.
    Cache,
    /// Workers KV: global, eventually consistent, 60 s minimum TTL.
    Kv,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Cache => "cache",
            Backend::Kv => "kv",
        }
    }
}

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
    #[default]
    All,
    /// Everything but hits: on a busy site, most of the lines and of their cost.
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
    /// The text is not JSON, or not an object.
    Syntax(String),
    /// A top-level field is unknown or has a bad value.
    Field { field: String, reason: String },
    /// A route rule is unknown or has a bad value.
    Rule {
        index: usize,
        field: String,
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Syntax(reason) => write!(f, "EDGECACHE is not a valid object: {reason}"),
            ConfigError::Field { field, reason } => write!(f, "EDGECACHE.{field}: {reason}"),
            ConfigError::Rule {
                index,
                field,
                reason,
            } if field.is_empty() => {
                write!(f, "EDGECACHE.routes[{index}]: {reason}")
            }
            ConfigError::Rule {
                index,
                field,
                reason,
            } => write!(f, "EDGECACHE.routes[{index}].{field}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_ttl: 600,
            key_prefix: String::new(),
            version: 1,
            backends: vec![Backend::Cache],
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
            request_log: RequestLog::All,
            routes: Vec::new(),
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
        }
    }
}

/// `Config::forwarded`, from the credential fields and `forward_headers`.
fn forwarded_fields(credentials: &[impl AsRef<str>], extra: &[String]) -> Rc<[String]> {
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

/// The raw shape of `EDGECACHE`, before validation. Sizes and TTLs are signed so that a
/// negative value is reported by name rather than as a type error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    default_ttl: Option<i64>,
    key_prefix: Option<String>,
    version: Option<i64>,
    backends: Option<OneOrMany>,
    memory_max_bytes: Option<i64>,
    max_body_bytes: Option<i64>,
    stale_while_revalidate: Option<i64>,
    stale_if_error: Option<i64>,
    keep_stale: Option<i64>,
    origin_timeout_ms: Option<i64>,
    hit_for_pass_ttl: Option<i64>,
    admin_path: Option<String>,
    expose_tags: Option<bool>,
    esi_max_depth: Option<i64>,
    esi_max_includes: Option<i64>,
    esi_max_fragment_bytes: Option<i64>,
    request_log: Option<String>,
    #[serde(default)]
    routes: Vec<Value>,
    case_insensitive_paths: Option<bool>,
    credential_headers: Option<Vec<String>>,
    forward_headers: Option<Vec<String>>,
    ttl_by_status: Option<serde_json::Map<String, Value>>,
    ignore_client_no_cache: Option<bool>,
    client_refresh_interval: Option<i64>,
    workers_cache: Option<String>,
    purge_propagation_s: Option<i64>,
    purge_grace_s: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    path: String,
    host: Option<String>,
    ttl: Option<i64>,
    browser_ttl: Option<i64>,
    stale_while_revalidate: Option<i64>,
    stale_if_error: Option<i64>,
    backends: Option<OneOrMany>,
    #[serde(default)]
    bypass: bool,
    query_ignore: Option<Vec<String>>,
    query_allow: Option<Vec<String>>,
    #[serde(default)]
    vary_headers: Vec<String>,
    #[serde(default)]
    vary_cookies: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    esi: bool,
    ttl_by_status: Option<serde_json::Map<String, Value>>,
    esi_includes: Option<Vec<String>>,
}

/// `backends = "kv"` and `backends = ["memory", "kv"]` are both accepted.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Config {
    /// `path` is the admin path or below it (`/_edgecache`, `/_edgecache/purge`), not merely
    /// prefixed by it (`/_edgecachex`).
    pub fn is_admin_path(&self, path: &str) -> bool {
        path.strip_prefix(&self.admin_path)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Parses and validates the JSON text of `EDGECACHE`. An empty text means all defaults.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Config::from_value(value)
    }

    /// Validates an already parsed `EDGECACHE` value (a string holding JSON is accepted too).
    pub fn from_value(value: Value) -> Result<Config, ConfigError> {
        let value = match value {
            Value::String(text) => return Config::from_json(&text),
            Value::Null => return Ok(Config::default()),
            other => other,
        };
        let raw: RawConfig = serde_json::from_value(value).map_err(|e| top_level_error(&e))?;
        let defaults = Config::default();
        let field = |field: &str, reason: String| ConfigError::Field {
            field: field.to_string(),
            reason,
        };

        let default_ttl =
            seconds(raw.default_ttl, defaults.default_ttl).map_err(|r| field("default_ttl", r))?;
        let version =
            non_negative(raw.version, defaults.version).map_err(|r| field("version", r))?;
        let memory_max_bytes = non_negative(raw.memory_max_bytes, defaults.memory_max_bytes)
            .map_err(|r| field("memory_max_bytes", r))?;
        let max_body_bytes = non_negative(raw.max_body_bytes, defaults.max_body_bytes)
            .map_err(|r| field("max_body_bytes", r))?;
        let stale_while_revalidate =
            seconds(raw.stale_while_revalidate, defaults.stale_while_revalidate)
                .map_err(|r| field("stale_while_revalidate", r))?;
        let stale_if_error = seconds(raw.stale_if_error, defaults.stale_if_error)
            .map_err(|r| field("stale_if_error", r))?;
        let keep_stale =
            seconds(raw.keep_stale, defaults.keep_stale).map_err(|r| field("keep_stale", r))?;
        let origin_timeout_ms = non_negative(raw.origin_timeout_ms, defaults.origin_timeout_ms)
            .map_err(|r| field("origin_timeout_ms", r))?;
        if origin_timeout_ms == 0 {
            return Err(field("origin_timeout_ms", "must be at least 1".into()));
        }
        let hit_for_pass_ttl = seconds(raw.hit_for_pass_ttl, defaults.hit_for_pass_ttl)
            .map_err(|r| field("hit_for_pass_ttl", r))?;
        let esi = EsiLimits {
            max_depth: non_negative(raw.esi_max_depth, defaults.esi.max_depth)
                .map_err(|r| field("esi_max_depth", r))?,
            max_includes: non_negative(raw.esi_max_includes, defaults.esi.max_includes)
                .map_err(|r| field("esi_max_includes", r))?,
            max_fragment_bytes: non_negative(
                raw.esi_max_fragment_bytes,
                defaults.esi.max_fragment_bytes,
            )
            .map_err(|r| field("esi_max_fragment_bytes", r))?,
        };
        let request_log = match raw.request_log.as_deref() {
            None => defaults.request_log,
            Some(text) => RequestLog::parse(text).map_err(|r| field("request_log", r))?,
        };
        let admin_path = raw.admin_path.unwrap_or(defaults.admin_path);
        let valid_admin_path = admin_path.len() > 1
            && admin_path.starts_with('/')
            && !admin_path.ends_with('/')
            && admin_path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
        if !valid_admin_path {
            return Err(field(
                "admin_path",
                format!("{admin_path:?} must be a path like /_edgecache (letters, digits, - _ . ~, no trailing /)"),
            ));
        }
        let key_prefix = raw.key_prefix.unwrap_or_default();
        check_key_prefix(&key_prefix).map_err(|r| field("key_prefix", r))?;
        let backends = match raw.backends {
            Some(b) => parse_backends(b).map_err(|r| field("backends", r))?,
            None => defaults.backends,
        };
        if backends.contains(&Backend::Kv) {
            check_kv_default_ttl(default_ttl).map_err(|r| field("default_ttl", r))?;
            check_kv_body(max_body_bytes).map_err(|r| field("max_body_bytes", r))?;
        }

        let kv_somewhere = backends.contains(&Backend::Kv);
        let ttl_by_status: Rc<[StatusTtl]> = match raw.ttl_by_status {
            Some(map) => status_ttls(map, kv_somewhere)
                .map_err(|r| field("ttl_by_status", r))?
                .into(),
            None => Rc::from([]),
        };
        let credential_headers = match raw.credential_headers {
            Some(names) => header_names(names).map_err(|r| field("credential_headers", r))?,
            None => defaults.credential_headers,
        };
        let forward_headers = match raw.forward_headers {
            Some(names) => header_names(names).map_err(|r| field("forward_headers", r))?,
            None => defaults.forward_headers,
        };
        let client_refresh_interval = seconds(
            raw.client_refresh_interval,
            defaults.client_refresh_interval,
        )
        .map_err(|r| field("client_refresh_interval", r))?;
        let workers_cache = match raw.workers_cache.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(site) => Some(workers_cache_site(site).map_err(|r| field("workers_cache", r))?),
        };
        let purge_propagation_s =
            non_negative(raw.purge_propagation_s, defaults.purge_propagation_s)
                .map_err(|r| field("purge_propagation_s", r))?;
        if purge_propagation_s > MAX_PURGE_PROPAGATION_S {
            return Err(field(
                "purge_propagation_s",
                format!("{purge_propagation_s} s is more than {MAX_PURGE_PROPAGATION_S} s"),
            ));
        }
        let purge_grace_s = non_negative(raw.purge_grace_s, defaults.purge_grace_s)
            .map_err(|r| field("purge_grace_s", r))?;
        if purge_grace_s > MAX_PURGE_GRACE_S {
            return Err(field(
                "purge_grace_s",
                format!("{purge_grace_s} s is more than {MAX_PURGE_GRACE_S} s"),
            ));
        }

        let mut routes = Vec::with_capacity(raw.routes.len());
        for (index, value) in raw.routes.into_iter().enumerate() {
            let rule_error = |field: &str, reason: String| ConfigError::Rule {
                index,
                field: field.to_string(),
                reason,
            };
            let raw: RawRoute = serde_json::from_value(value).map_err(|e| {
                let (field, reason) = split_serde_error(&e);
                rule_error(&field, reason)
            })?;
            routes.push(
                validate_route(raw, &backends, default_ttl, max_body_bytes, &ttl_by_status)
                    .map_err(|(f, r)| rule_error(f, r))?,
            );
        }

        Ok(Config {
            default_ttl,
            key_prefix,
            version,
            backends,
            memory_max_bytes,
            max_body_bytes,
            stale_while_revalidate,
            stale_if_error,
            keep_stale,
            origin_timeout_ms,
            hit_for_pass_ttl,
            admin_path,
            expose_tags: raw.expose_tags.unwrap_or(defaults.expose_tags),
            esi,
            request_log,
            routes,
            case_insensitive_paths: raw
                .case_insensitive_paths
                .unwrap_or(defaults.case_insensitive_paths),
            forwarded: forwarded_fields(&credential_headers, &forward_headers),
            credential_headers,
            forward_headers,
            ttl_by_status,
            ignore_client_no_cache: raw
                .ignore_client_no_cache
                .unwrap_or(defaults.ignore_client_no_cache),
            client_refresh_interval,
            workers_cache,
            purge_propagation_s,
            purge_grace_s,
        })
    }
}

/// `workers_cache`: the site Workers Cache serves, an http(s) URL without a path, in the form
/// keys hold its scheme and host (`https://example.com`, a port only when it is not the
/// scheme's default). Workers Cache keys on the path and query alone, so it is given one
/// site's answers.
fn workers_cache_site(text: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "{text:?} must be the URL of the site Workers Cache serves, with no path, e.g. \"https://example.com\""
        )
    };
    let url = url::Url::parse(text).map_err(|_| bad())?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !plain {
        return Err(bad());
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    Ok(crate::workers_cache::site_of(url.scheme(), &authority))
}

/// `ttl_by_status`: `{"200": 3600, "404": 60, "500-599": 0, "5xx": 0}`. Statuses 100 to 599,
/// ranges that do not overlap, durations in seconds (0: never stored; with KV, 0 or at
/// least its 60 s minimum).
fn status_ttls(map: serde_json::Map<String, Value>, kv: bool) -> Result<Vec<StatusTtl>, String> {
    let mut rules: Vec<StatusTtl> = Vec::with_capacity(map.len());
    for (range, value) in map {
        let (first, last) = status_range(&range)?;
        let ttl = value
            .as_i64()
            .ok_or_else(|| format!("{range:?}: {value} is not a number of seconds"))?;
        let ttl = seconds(Some(ttl), 0).map_err(|r| format!("{range:?}: {r}"))?;
        if kv && ttl > 0 {
            check_kv_ttl(ttl).map_err(|r| format!("{range:?}: {r}"))?;
        }
        let rule = StatusTtl { first, last, ttl };
        if let Some(other) = rules
            .iter()
            .find(|o| o.first <= rule.last && rule.first <= o.last)
        {
            return Err(format!("{range:?} overlaps {}-{}", other.first, other.last));
        }
        rules.push(rule);
    }
    rules.sort_by_key(|r| r.first);
    Ok(rules)
}

/// `"404"`, `"500-599"` or `"5xx"`.
fn status_range(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{text:?} is not a status (404), a range (500-599) or a class (5xx)");
    let status = |s: &str| -> Result<u16, String> {
        let s = s.trim();
        if s.len() != 3 {
            return Err(bad());
        }
        s.parse::<u16>()
            .ok()
            .filter(|n| (100..=599).contains(n))
            .ok_or_else(bad)
    };
    let text_trimmed = text.trim();
    if let Some(class) = text_trimmed
        .strip_suffix("xx")
        .or_else(|| text_trimmed.strip_suffix("XX"))
    {
        let digit = class.parse::<u16>().ok().filter(|d| (1..=5).contains(d));
        return digit.map(|d| (d * 100, d * 100 + 99)).ok_or_else(bad);
    }
    match text_trimmed.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (status(first)?, status(last)?);
            if first > last {
                return Err(bad());
            }
            Ok((first, last))
        }
        None => status(text_trimmed).map(|s| (s, s)),
    }
}

/// Header names, lowercase: RFC 9110 tokens.
fn header_names(names: Vec<String>) -> Result<Vec<String>, String> {
    names
        .into_iter()
        .map(|name| check_token(&name).map(|()| name.to_ascii_lowercase()))
        .collect()
}

fn validate_route(
    raw: RawRoute,
    default_backends: &[Backend],
    default_ttl: u64,
    max_body_bytes: u64,
    top_level_ttls: &Rc<[StatusTtl]>,
) -> Result<Route, (&'static str, String)> {
    let path = PathPattern::parse(&raw.path).map_err(|e| ("path", glob_reason(&raw.path, e)))?;
    let host = raw
        .host
        .as_deref()
        .map(HostPattern::parse)
        .transpose()
        .map_err(|e| ("host", glob_reason(raw.host.as_deref().unwrap_or(""), e)))?;
    let duration = |value: Option<i64>, name: &'static str| {
        value
            .map(|t| seconds(Some(t), 0))
            .transpose()
            .map_err(|r| (name, r))
    };
    let ttl = duration(raw.ttl, "ttl")?;
    let browser_ttl = duration(raw.browser_ttl, "browser_ttl")?;
    let stale_while_revalidate = duration(raw.stale_while_revalidate, "stale_while_revalidate")?;
    let stale_if_error = duration(raw.stale_if_error, "stale_if_error")?;
    let backends = match raw.backends {
        Some(b) => parse_backends(b).map_err(|r| ("backends", r))?,
        None => default_backends.to_vec(),
    };
    if backends.contains(&Backend::Kv) && !raw.bypass {
        match ttl {
            Some(ttl) => check_kv_ttl(ttl).map_err(|r| ("ttl", r))?,
            None => check_kv_default_ttl(default_ttl).map_err(|r| ("backends", r))?,
        }
        check_kv_body(max_body_bytes).map_err(|r| ("backends", r))?;
    }
    let query = match (raw.query_ignore, raw.query_allow) {
        (Some(_), Some(_)) => {
            return Err((
                "query_allow",
                "query_ignore and query_allow cannot both be set".into(),
            ))
        }
        (Some(names), None) => {
            QueryRule::Ignore(check_names(names).map_err(|r| ("query_ignore", r))?)
        }
        (None, Some(names)) => {
            QueryRule::Allow(check_names(names).map_err(|r| ("query_allow", r))?)
        }
        (None, None) => QueryRule::All,
    };
    let vary_headers = raw
        .vary_headers
        .into_iter()
        .map(|h| check_token(&h).map(|()| h.to_ascii_lowercase()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|r| ("vary_headers", r))?;
    let vary_cookies = check_names(raw.vary_cookies).map_err(|r| ("vary_cookies", r))?;
    for tag in &raw.tags {
        check_tag(tag).map_err(|r| ("tags", r))?;
    }
    let kv_route = backends.contains(&Backend::Kv) && !raw.bypass;
    if kv_route {
        for rule in top_level_ttls.iter().filter(|r| r.ttl > 0) {
            check_kv_ttl(rule.ttl).map_err(|r| {
                (
                    "backends",
                    format!(
                        "the top-level ttl_by_status {}-{}: {r}",
                        rule.first, rule.last
                    ),
                )
            })?;
        }
    }
    let ttl_by_status = match raw.ttl_by_status {
        None => top_level_ttls.clone(),
        Some(map) => {
            let mut rules = status_ttls(map, kv_route).map_err(|r| ("ttl_by_status", r))?;
            // Looked up in order: this route's rules first, then the top-level ones for the
            // statuses they do not name.
            rules.extend(top_level_ttls.iter().copied());
            rules.into()
        }
    };
    let esi_includes = raw
        .esi_includes
        .map(|patterns| {
            patterns
                .iter()
                .map(|p| PathPattern::parse(p).map_err(|e| glob_reason(p, e)))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|r| ("esi_includes", r))?;
    Ok(Route {
        host,
        path,
        ttl,
        browser_ttl,
        stale_while_revalidate,
        stale_if_error,
        backends,
        bypass: raw.bypass,
        query,
        vary_headers,
        vary_cookies,
        tags: raw.tags,
        esi: raw.esi,
        ttl_by_status,
        esi_includes,
    })
}

fn non_negative(value: Option<i64>, default: u64) -> Result<u64, String> {
    match value {
        None => Ok(default),
        Some(v) if v < 0 => Err(format!("{v} is negative")),
        Some(v) => Ok(v as u64),
    }
}

/// RFC 9111 §1.2.2 caps delta-seconds at 2^31: a longer duration is a mistake, and would
/// overflow the arithmetic of ages.
const MAX_SECONDS: u64 = 1 << 31;

/// A duration in seconds: not negative, at most `MAX_SECONDS`.
fn seconds(value: Option<i64>, default: u64) -> Result<u64, String> {
    let seconds = non_negative(value, default)?;
    if seconds > MAX_SECONDS {
        return Err(format!("{seconds} s is more than 2^31 s (68 years)"));
    }
    Ok(seconds)
}

fn check_kv_ttl(ttl: u64) -> Result<(), String> {
    if ttl < KV_MIN_TTL {
        Err(format!(
            "{ttl} s is below Workers KV's {KV_MIN_TTL} s minimum TTL on a route that uses kv"
        ))
    } else {
        Ok(())
    }
}

/// `default_ttl` 0 stores no guessed lifetime at all, so KV's minimum does not apply to it.
fn check_kv_default_ttl(ttl: u64) -> Result<(), String> {
    match ttl {
        0 => Ok(()),
        ttl => check_kv_ttl(ttl),
    }
}

fn check_kv_body(max_body_bytes: u64) -> Result<(), String> {
    if max_body_bytes > KV_MAX_VALUE_BYTES {
        Err(format!(
            "max_body_bytes {max_body_bytes} exceeds Workers KV's {KV_MAX_VALUE_BYTES}-byte value limit"
        ))
    } else {
        Ok(())
    }
}

fn parse_backends(raw: OneOrMany) -> Result<Vec<Backend>, String> {
    let names = match raw {
        OneOrMany::One(name) => vec![name],
        OneOrMany::Many(names) => names,
    };
    if names.is_empty() {
        return Err("must name at least one of memory, cache, kv".into());
    }
    let mut backends = Vec::with_capacity(names.len());
    for name in names {
        let backend = match name.as_str() {
            "memory" => Backend::Memory,
            "cache" => Backend::Cache,
            "kv" => Backend::Kv,
            other => {
                return Err(format!(
                    "unknown backend {other:?} (expected memory, cache or kv)"
                ))
            }
        };
        if backends.contains(&backend) {
            return Err(format!("backend {name:?} is listed twice"));
        }
        backends.push(backend);
    }
    Ok(backends)
}

/// The prefix is rendered into keys before a `:`; control characters would make keys
/// unreadable in KV listings and a `:` would make two prefixes ambiguous.
fn check_key_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > 64 {
        return Err("is longer than 64 bytes".into());
    }
    if let Some(c) = prefix.chars().find(|c| c.is_control() || *c == ':') {
        return Err(format!("contains {c:?}, which keys cannot carry"));
    }
    Ok(())
}

fn check_names(names: Vec<String>) -> Result<Vec<String>, String> {
    for name in &names {
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_control() || c == '=' || c == '&' || c == ';')
        {
            return Err(format!("{name:?} is not a valid name"));
        }
    }
    Ok(names)
}

/// A header field name is an RFC 9110 token.
fn check_token(name: &str) -> Result<(), String> {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_tchar) {
        return Err(format!("{name:?} is not a header name"));
    }
    Ok(())
}

/// Tags travel in `Cache-Tag` headers and purge requests: printable ASCII, no commas or spaces.
pub fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() || tag.len() > 1024 {
        return Err(format!("tag {tag:?} must be 1 to 1024 bytes"));
    }
    if !tag.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(format!(
            "tag {tag:?} must be printable ASCII without spaces or commas"
        ));
    }
    Ok(())
}

fn glob_reason(pattern: &str, error: GlobError) -> String {
    format!("{pattern:?}: {error}")
}

fn top_level_error(error: &serde_json::Error) -> ConfigError {
    let (field, reason) = split_serde_error(error);
    if field.is_empty() {
        ConfigError::Syntax(reason)
    } else {
        ConfigError::Field { field, reason }
    }
}

/// serde names the offending field inside its message (`unknown field `ttls`, expected …`);
/// lift it out so that errors read `routes[0].ttls: unknown field`.
fn split_serde_error(error: &serde_json::Error) -> (String, String) {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((name, expected)) = rest.split_once('`') {
            return (
                name.to_string(),
                format!(
                    "unknown field{}",
                    expected.replacen(", expected", "; expected", 1)
                ),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((name, _)) = rest.split_once('`') {
            return (name.to_string(), "is required".to_string());
        }
    }
    (String::new(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> String {
        Config::from_json(json).unwrap_err().to_string()
    }

    #[test]
    fn empty_text_gives_the_defaults() {
        assert_eq!(Config::from_json("").unwrap(), Config::default());
        assert_eq!(Config::from_json("{}").unwrap(), Config::default());
    }

    #[test]
    fn a_full_config_is_read() {
        let config = Config::from_json(
            r#"{"default_ttl": 120, "key_prefix": "site", "version": 3,
                "backends": ["memory", "cache"], "memory_max_bytes": 1000, "max_body_bytes": 500,
                "routes": [
                  {"path": "/static/**", "ttl": 86400, "browser_ttl": 3600, "backends": "kv",
                   "query_ignore": ["utm_*"], "vary_cookies": ["lang"], "vary_headers": ["Accept-Language"],
                   "tags": ["static"]},
                  {"path": "/api/*", "host": "*.example.com", "bypass": true, "query_allow": ["page"]}
                ]}"#,
        )
        .unwrap();
        assert_eq!(config.default_ttl, 120);
        assert_eq!(config.key_prefix, "site");
        assert_eq!(config.version, 3);
        assert_eq!(config.backends, vec![Backend::Memory, Backend::Cache]);
        assert_eq!(config.routes.len(), 2);
        let statics = &config.routes[0];
        assert_eq!(statics.ttl, Some(86400));
        assert_eq!(statics.browser_ttl, Some(3600));
        assert_eq!(statics.backends, vec![Backend::Kv]);
        assert_eq!(statics.query, QueryRule::Ignore(vec!["utm_*".into()]));
        assert_eq!(statics.vary_headers, vec!["accept-language".to_string()]);
        let api = &config.routes[1];
        assert!(api.bypass);
        assert_eq!(api.backends, vec![Backend::Memory, Backend::Cache]);
        assert_eq!(api.query, QueryRule::Allow(vec!["page".into()]));
    }

    #[test]
    fn a_json_string_holding_the_object_is_accepted() {
        let config = Config::from_value(Value::String(r#"{"version": 7}"#.into())).unwrap();
        assert_eq!(config.version, 7);
    }

    #[test]
    fn an_unknown_top_level_field_is_named() {
        assert!(
            error_of(r#"{"defualt_ttl": 5}"#).starts_with("EDGECACHE.defualt_ttl: unknown field")
        );
    }

    #[test]
    fn an_unknown_rule_field_is_named_with_the_rule_index() {
        let error = error_of(r#"{"routes": [{"path": "/"}, {"path": "/a", "ttls": 5}]}"#);
        assert!(
            error.starts_with("EDGECACHE.routes[1].ttls: unknown field"),
            "{error}"
        );
    }

    #[test]
    fn a_rule_without_a_path_is_an_error() {
        assert_eq!(
            error_of(r#"{"routes": [{"ttl": 5}]}"#),
            "EDGECACHE.routes[0].path: is required"
        );
    }

    #[test]
    fn a_bad_pattern_is_reported_with_its_reason() {
        assert_eq!(
            error_of(r#"{"routes": [{"path": "static/*"}]}"#),
            "EDGECACHE.routes[0].path: \"static/*\": must start with '/'"
        );
        assert_eq!(
            error_of(r#"{"routes": [{"path": "/a/***"}]}"#),
            "EDGECACHE.routes[0].path: \"/a/***\": has more than two '*' in a row"
        );
    }

    #[test]
    fn a_ttl_below_the_kv_minimum_on_a_kv_route_is_an_error() {
        assert_eq!(
            error_of(r#"{"routes": [{"path": "/", "backends": ["memory", "kv"], "ttl": 30}]}"#),
            "EDGECACHE.routes[0].ttl: 30 s is below Workers KV's 60 s minimum TTL on a route that uses kv"
        );
    }

    #[test]
    fn a_short_ttl_is_fine_off_kv() {
        assert!(Config::from_json(r#"{"routes": [{"path": "/", "ttl": 30}]}"#).is_ok());
    }

    #[test]
    fn a_default_ttl_below_the_kv_minimum_is_an_error_when_kv_is_the_default() {
        assert_eq!(
            error_of(r#"{"backends": "kv", "default_ttl": 10}"#),
            "EDGECACHE.default_ttl: 10 s is below Workers KV's 60 s minimum TTL on a route that uses kv"
        );
        assert!(
            Config::from_json(r#"{"backends": "kv", "default_ttl": 0}"#).is_ok(),
            "0 guesses no lifetime at all"
        );
    }

    #[test]
    fn negative_sizes_are_errors() {
        assert_eq!(
            error_of(r#"{"memory_max_bytes": -1}"#),
            "EDGECACHE.memory_max_bytes: -1 is negative"
        );
        assert_eq!(
            error_of(r#"{"routes": [{"path": "/", "browser_ttl": -5}]}"#),
            "EDGECACHE.routes[0].browser_ttl: -5 is negative"
        );
    }

    #[test]
    fn unknown_and_repeated_backends_are_errors() {
        assert_eq!(
            error_of(r#"{"backends": ["memory", "redis"]}"#),
            "EDGECACHE.backends: unknown backend \"redis\" (expected memory, cache or kv)"
        );
        assert_eq!(
            error_of(r#"{"backends": ["cache", "cache"]}"#),
            "EDGECACHE.backends: backend \"cache\" is listed twice"
        );
    }

    #[test]
    fn ignore_and_allow_lists_exclude_each_other() {
        assert_eq!(
            error_of(r#"{"routes": [{"path": "/", "query_ignore": ["a"], "query_allow": ["b"]}]}"#),
            "EDGECACHE.routes[0].query_allow: query_ignore and query_allow cannot both be set"
        );
    }

    #[test]
    fn tags_and_vary_headers_are_checked() {
        assert!(error_of(r#"{"routes": [{"path": "/", "tags": ["a b"]}]}"#)
            .starts_with("EDGECACHE.routes[0].tags:"));
        assert!(
            error_of(r#"{"routes": [{"path": "/", "vary_headers": ["X Bad"]}]}"#)
                .starts_with("EDGECACHE.routes[0].vary_headers:")
        );
    }

    #[test]
    fn wrong_types_and_bad_json_are_errors() {
        assert!(error_of(r#"{"version": "one"}"#)
            .starts_with("EDGECACHE is not a valid object: invalid type"));
        assert!(error_of("{").starts_with("EDGECACHE is not a valid object: EOF"));
        assert!(error_of(r#"{"routes": [5]}"#).starts_with("EDGECACHE.routes[0]: invalid type"));
    }

    #[test]
    fn the_admin_path_is_checked() {
        assert_eq!(
            Config::from_json(r#"{"admin_path": "/_admin"}"#)
                .unwrap()
                .admin_path,
            "/_admin"
        );
        assert!(error_of(r#"{"admin_path": "/"}"#).starts_with("EDGECACHE.admin_path:"));
        assert!(error_of(r#"{"admin_path": "/a/"}"#).starts_with("EDGECACHE.admin_path:"));
        assert!(error_of(r#"{"admin_path": "/a*"}"#).starts_with("EDGECACHE.admin_path:"));
    }

    #[test]
    fn the_request_log_level_is_read_and_applied() {
        let config = Config::from_json(r#"{"request_log": "misses"}"#).unwrap();
        assert_eq!(config.request_log, RequestLog::Misses);
        assert!(!config.request_log.wants(true, false), "hits are left out");
        assert!(config.request_log.wants(false, false));
        assert!(
            config.request_log.wants(true, true),
            "errors always get a line"
        );
        assert!(!RequestLog::Errors.wants(false, false));
        assert!(RequestLog::All.wants(true, false));
        assert_eq!(
            error_of(r#"{"request_log": "some"}"#),
            r#"EDGECACHE.request_log: "some" is not one of "all", "misses", "errors""#
        );
    }

    #[test]
    fn durations_stop_at_two_to_the_31_seconds() {
        assert_eq!(
            error_of(r#"{"routes": [{"path": "/", "ttl": 9223372036854775807}]}"#),
            "EDGECACHE.routes[0].ttl: 9223372036854775807 s is more than 2^31 s (68 years)"
        );
        assert!(error_of(r#"{"default_ttl": 3000000000}"#).starts_with("EDGECACHE.default_ttl:"));
        assert!(Config::from_json(r#"{"routes": [{"path": "/", "ttl": 2147483648}]}"#).is_ok());
    }

    #[test]
    fn admin_paths_are_the_prefix_and_below_it() {
        let config = Config::default();
        assert!(config.is_admin_path("/_edgecache"));
        assert!(config.is_admin_path("/_edgecache/purge"));
        assert!(!config.is_admin_path("/_edgecachex"));
        assert!(!config.is_admin_path("/blog"));
    }

    #[test]
    fn esi_routes_and_limits_are_read() {
        let config = Config::from_json(
            r#"{"esi_max_depth": 1, "esi_max_includes": 5, "routes": [{"path": "/pages/**", "esi": true}, {"path": "/**"}]}"#,
        )
        .unwrap();
        assert_eq!(config.esi.max_depth, 1);
        assert_eq!(config.esi.max_includes, 5);
        assert_eq!(config.esi.max_fragment_bytes, 1024 * 1024);
        assert_eq!(
            Config::default().esi.max_includes,
            15,
            "1 page + 15 includes fit the free plan's 50 subrequests"
        );
        assert!(config.routes[0].esi);
        assert!(!config.routes[1].esi);
        assert_eq!(config.routes[0].esi_includes, None);
        assert_eq!(
            error_of(r#"{"esi_max_fragment_bytes": -1}"#),
            "EDGECACHE.esi_max_fragment_bytes: -1 is negative"
        );
        let wrong_type = error_of(r#"{"routes": [{"path": "/", "esi": "yes"}]}"#);
        assert!(wrong_type.starts_with("EDGECACHE.routes[0]") && wrong_type.contains("a boolean"));
    }

    #[test]
    fn lifetimes_by_status_are_read_at_the_top_and_per_route() {
        let config = Config::from_json(
            r#"{"ttl_by_status": {"404": 60, "5xx": 0},
                "routes": [{"path": "/a/**", "ttl_by_status": {"404": 300, "200-299": 3600}},
                           {"path": "/**"}]}"#,
        )
        .unwrap();
        assert_eq!(
            config.ttl_by_status.as_ref(),
            [
                StatusTtl {
                    first: 404,
                    last: 404,
                    ttl: 60
                },
                StatusTtl {
                    first: 500,
                    last: 599,
                    ttl: 0
                },
            ]
        );
        let route = &config.routes[0].ttl_by_status;
        let first = |status| route.iter().find(|r| r.covers(status)).map(|r| r.ttl);
        assert_eq!(first(404), Some(300), "the route's rule first");
        assert_eq!(first(204), Some(3600));
        assert_eq!(first(503), Some(0), "then the top-level ones");
        assert_eq!(config.routes[1].ttl_by_status, config.ttl_by_status);
    }

    #[test]
    fn bad_lifetimes_by_status_are_named() {
        let overlap = error_of(r#"{"ttl_by_status": {"4xx": 60, "404": 5}}"#);
        assert!(
            overlap.starts_with("EDGECACHE.ttl_by_status:") && overlap.contains("overlaps"),
            "{overlap}"
        );
        assert!(error_of(r#"{"ttl_by_status": {"600": 5}}"#)
            .starts_with("EDGECACHE.ttl_by_status: \"600\" is not a status"));
        assert!(error_of(r#"{"ttl_by_status": {"404": "1m"}}"#)
            .starts_with("EDGECACHE.ttl_by_status: \"404\": \"1m\" is not a number"));
        assert_eq!(
            error_of(r#"{"routes": [{"path": "/", "backends": "kv", "ttl_by_status": {"404": 5}}]}"#),
            "EDGECACHE.routes[0].ttl_by_status: \"404\": 5 s is below Workers KV's 60 s minimum TTL on a route that uses kv"
        );
        assert!(error_of(
            r#"{"ttl_by_status": {"404": 5}, "routes": [{"path": "/", "backends": "kv"}]}"#
        )
        .starts_with("EDGECACHE.routes[0].backends: the top-level ttl_by_status 404-404:"));
    }

    #[test]
    fn forwarded_fields_are_the_negotiation_fields_credentials_and_the_allowlist() {
        let config = Config::from_json(
            r#"{"credential_headers": ["Authorization", "X-Session"], "forward_headers": ["User-Agent"]}"#,
        )
        .unwrap();
        assert_eq!(config.credential_headers, ["authorization", "x-session"]);
        for name in [
            "accept-language",
            "origin",
            "authorization",
            "x-session",
            "user-agent",
        ] {
            assert!(config.forwarded.iter().any(|n| n == name), "{name}");
        }
        assert!(!config.forwarded.iter().any(|n| n == "cookie"));
        let defaults = Config::default();
        assert!(defaults.forwarded.iter().any(|n| n == "cookie"));
        assert!(!defaults
            .forwarded
            .iter()
            .any(|n| n == "proxy-authorization"));
        assert!(!defaults.forwarded.iter().any(|n| n == "x-forwarded-host"));
        assert!(
            error_of(r#"{"forward_headers": ["X Bad"]}"#).starts_with("EDGECACHE.forward_headers:")
        );
    }

    #[test]
    fn esi_includes_are_read_and_checked() {
        let config = Config::from_json(
            r#"{"routes": [{"path": "/pages/**", "esi": true, "esi_includes": ["/fragments/**", "/nav"]},
                           {"path": "/closed", "esi": true, "esi_includes": []}]}"#,
        )
        .unwrap();
        let patterns = config.routes[0].esi_includes.as_ref().unwrap();
        assert_eq!(patterns.len(), 2);
        assert!(patterns[0].matches("/fragments/user"));
        assert_eq!(config.routes[1].esi_includes, Some(vec![]));
        assert_eq!(
            error_of(r#"{"routes": [{"path": "/", "esi_includes": ["fragments/*"]}]}"#),
            "EDGECACHE.routes[0].esi_includes: \"fragments/*\": must start with '/'"
        );
    }

    #[test]
    fn a_key_prefix_with_a_colon_is_an_error() {
        assert_eq!(
            error_of(r#"{"key_prefix": "a:b"}"#),
            "EDGECACHE.key_prefix: contains ':', which keys cannot carry"
        );
    }

    #[test]
    fn workers_cache_names_one_site_in_the_form_keys_hold() {
        let site = |json: &str| Config::from_json(json).unwrap().workers_cache;
        assert_eq!(site("{}"), None);
        assert_eq!(site(r#"{"workers_cache": ""}"#), None);
        for (given, held) in [
            ("https://Example.COM", "https://example.com"),
            ("https://example.com/", "https://example.com"),
            ("https://example.com.", "https://example.com"),
            ("https://example.com:443", "https://example.com"),
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
        ] {
            assert_eq!(
                site(&format!(r#"{{"workers_cache": "{given}"}}"#)).as_deref(),
                Some(held),
                "{given}"
            );
        }
        for bad in [
            "example.com",
            "https://example.com/blog",
            "https://example.com/?a=1",
            "ftp://example.com",
            "https://user@example.com",
        ] {
            assert!(
                error_of(&format!(r#"{{"workers_cache": "{bad}"}}"#))
                    .starts_with("EDGECACHE.workers_cache: "),
                "{bad}"
            );
        }
        assert!(Config::from_json(r#"{"workers_cache": true}"#).is_err());
    }

    #[test]
    fn purge_propagation_defaults_to_two_seconds_and_is_bounded() {
        let config = Config::default();
        assert_eq!((config.purge_propagation_s, config.purge_grace_s), (2, 30));
        let config =
            Config::from_json(r#"{"purge_propagation_s": 0, "purge_grace_s": 5}"#).unwrap();
        assert_eq!((config.purge_propagation_s, config.purge_grace_s), (0, 5));
        assert_eq!(
            error_of(r#"{"purge_propagation_s": 301}"#),
            "EDGECACHE.purge_propagation_s: 301 s is more than 300 s"
        );
        assert_eq!(
            error_of(r#"{"purge_grace_s": -1}"#),
            "EDGECACHE.purge_grace_s: -1 is negative"
        );
    }
}
