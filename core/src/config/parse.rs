//! Reading the raw `EDGECACHE` value: its shape (`RawConfig`, `RawRoute`), then every field
//! validated in turn into a `Config`, errors named by field or route rule.

use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;

use super::fields::{
    bypass_cookie_names, check_body, check_default_ttl, check_key_prefix, check_names, check_tag,
    check_token, check_ttl, glob_reason, header_names, non_negative, parse_backends, seconds,
    workers_cache_site, OneOrMany,
};
use super::status_ttl::status_ttls;
use super::{
    forwarded_fields, Backend, Config, ConfigError, EsiLimits, QueryRule, RequestLog, Route,
    StatusTtl, MAX_PURGE_GRACE_S, MAX_PURGE_PROPAGATION_S,
};
use crate::decide::shield::LOCATION_HINTS;
use crate::request::glob::{HostPattern, PathPattern};

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
    bypass_cookies: Option<Vec<String>>,
    case_insensitive_paths: Option<bool>,
    credential_headers: Option<Vec<String>>,
    forward_headers: Option<Vec<String>>,
    ttl_by_status: Option<serde_json::Map<String, Value>>,
    ignore_client_no_cache: Option<bool>,
    client_refresh_interval: Option<i64>,
    workers_cache: Option<String>,
    purge_propagation_s: Option<i64>,
    purge_grace_s: Option<i64>,
    shield: Option<bool>,
    shield_shards: Option<i64>,
    shield_location_hint: Option<String>,
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
    bypass_cookies: Option<Vec<String>>,
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
    shield: Option<bool>,
}

impl Config {
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
        check_default_ttl(&backends, default_ttl).map_err(|r| field("default_ttl", r))?;
        check_body(&backends, max_body_bytes).map_err(|r| field("max_body_bytes", r))?;

        let ttl_by_status: Rc<[StatusTtl]> = match raw.ttl_by_status {
            Some(map) => status_ttls(map, &backends)
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

        let bypass_cookies = match raw.bypass_cookies {
            Some(names) => bypass_cookie_names(names).map_err(|r| field("bypass_cookies", r))?,
            None => Vec::new(),
        };

        let shield_shards = non_negative(raw.shield_shards, u64::from(defaults.shield_shards))
            .map_err(|r| field("shield_shards", r))?;
        if !(1..=1024).contains(&shield_shards) {
            return Err(field(
                "shield_shards",
                format!("{shield_shards} must be from 1 to 1024"),
            ));
        }
        let shield_location_hint = match raw.shield_location_hint.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(hint) if LOCATION_HINTS.contains(&hint) => Some(hint.to_string()),
            Some(hint) => {
                return Err(field(
                    "shield_location_hint",
                    format!("{hint:?} is not one of {}", LOCATION_HINTS.join(", ")),
                ))
            }
        };

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

        let any_bypass_cookies = !bypass_cookies.is_empty()
            || routes
                .iter()
                .any(|r: &Route| r.bypass_cookies.as_ref().is_some_and(|l| !l.is_empty()));
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
            bypass_cookies,
            any_bypass_cookies,
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
            shield: raw.shield.unwrap_or(defaults.shield),
            shield_shards: shield_shards as u32,
            shield_location_hint,
        })
    }
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
    // The backends whose limits apply: none on a route that stores nothing.
    let storing: &[Backend] = if raw.bypass { &[] } else { &backends };
    match ttl {
        Some(ttl) => check_ttl(storing, ttl).map_err(|r| ("ttl", r))?,
        None => check_default_ttl(storing, default_ttl).map_err(|r| ("backends", r))?,
    }
    check_body(storing, max_body_bytes).map_err(|r| ("backends", r))?;
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
    let bypass_cookies = raw
        .bypass_cookies
        .map(bypass_cookie_names)
        .transpose()
        .map_err(|r| ("bypass_cookies", r))?;
    let vary_cookies = check_names(raw.vary_cookies).map_err(|r| ("vary_cookies", r))?;
    for tag in &raw.tags {
        check_tag(tag).map_err(|r| ("tags", r))?;
    }
    for rule in top_level_ttls.iter().filter(|r| r.ttl > 0) {
        check_ttl(storing, rule.ttl).map_err(|r| {
            (
                "backends",
                format!(
                    "the top-level ttl_by_status {}-{}: {r}",
                    rule.first, rule.last
                ),
            )
        })?;
    }
    let ttl_by_status = match raw.ttl_by_status {
        None => top_level_ttls.clone(),
        Some(map) => {
            let mut rules = status_ttls(map, storing).map_err(|r| ("ttl_by_status", r))?;
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
        bypass_cookies,
        query,
        vary_headers,
        vary_cookies,
        tags: raw.tags,
        esi: raw.esi,
        ttl_by_status,
        esi_includes,
        shield: raw.shield,
    })
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
