//! Reading the raw `EDGECACHE` value: each table (the top level, then every route) read field
//! by field (`reader::Table`), every field validated in turn into a `Config`; every problem
//! is kept, named by field and by the route's `path`, and all are reported together.

use std::rc::Rc;

use serde_json::Value;

use super::checks::{
    bypass_cookie_names, check_body, check_default_ttl, check_key_prefix, check_names, check_tag,
    check_token, check_ttl, glob_reason, header_names, non_negative, parse_backends, seconds,
    workers_cache_site,
};
use super::reader::{describe, Table, Unit};
use super::status_ttl::status_ttls;
use super::{
    forwarded_fields, Backend, Config, ConfigError, ConfigErrors, EsiLimits, QueryRule, RequestLog,
    Route, RouteName, StatusTtl, MAX_PURGE_GRACE_S, MAX_PURGE_PROPAGATION_S,
};
use crate::decide::shield::LOCATION_HINTS;
use crate::request::glob::{HostPattern, PathPattern};

/// The fields of `EDGECACHE`.
pub const TOP_FIELDS: &[&str] = &[
    "default_ttl",
    "key_prefix",
    "version",
    "backends",
    "memory_max_bytes",
    "max_body_bytes",
    "stale_while_revalidate",
    "stale_if_error",
    "keep_stale",
    "origin_timeout_ms",
    "hit_for_pass_ttl",
    "admin_path",
    "expose_tags",
    "esi_max_depth",
    "esi_max_includes",
    "esi_max_fragment_bytes",
    "request_log",
    "routes",
    "bypass_cookies",
    "case_insensitive_paths",
    "credential_headers",
    "forward_headers",
    "ttl_by_status",
    "ignore_client_no_cache",
    "client_refresh_interval",
    "workers_cache",
    "purge_propagation_s",
    "purge_grace_s",
    "shield",
    "shield_shards",
    "shield_location_hint",
];

/// The fields of a route rule.
pub const ROUTE_FIELDS: &[&str] = &[
    "path",
    "host",
    "ttl",
    "browser_ttl",
    "stale_while_revalidate",
    "stale_if_error",
    "backends",
    "bypass",
    "bypass_cookies",
    "query_ignore",
    "query_allow",
    "vary_headers",
    "vary_cookies",
    "tags",
    "esi",
    "ttl_by_status",
    "esi_includes",
    "shield",
];

const TOP: &str = "the top level";
const ROUTE: &str = "a route";

/// `result`'s value, or `default` with its error kept as the field's problem.
fn or_default<T>(table: &mut Table, field: &str, result: Result<T, String>, default: T) -> T {
    result.unwrap_or_else(|reason| {
        table.problem(field, reason);
        default
    })
}

impl Config {
    /// Parses and validates the JSON text of `EDGECACHE`. An empty text means all defaults.
    pub fn from_json(text: &str) -> Result<Config, ConfigErrors> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ConfigErrors::one(ConfigError::Syntax(e.to_string())))?;
        Config::from_value(value)
    }

    /// Validates an already parsed `EDGECACHE` value (a string holding JSON is accepted too).
    pub fn from_value(value: Value) -> Result<Config, ConfigErrors> {
        let map = match value {
            Value::String(text) => return Config::from_json(&text),
            Value::Null => return Ok(Config::default()),
            Value::Object(map) => map,
            other => {
                return Err(ConfigErrors::one(ConfigError::Syntax(format!(
                    "takes a table of settings; got {}",
                    describe(&other)
                ))))
            }
        };
        let (config, errors) = Config::read(map);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// What of an `EDGECACHE` value is valid, for `make check` to warn about alongside its
    /// errors: every field in error takes its default and every route rule in error is left
    /// out. `None` when the value is not a table at all.
    pub fn valid_part(value: Value) -> Option<Config> {
        match value {
            Value::String(text) => Config::valid_part(serde_json::from_str(&text).ok()?),
            Value::Object(map) => Some(Config::read(map).0),
            _ => None,
        }
    }

    /// Reads a table of settings: the config, with defaults for the fields in error and
    /// without the rules in error, and the errors.
    fn read(map: serde_json::Map<String, Value>) -> (Config, Vec<ConfigError>) {
        let mut t = Table::new(map, TOP_FIELDS, TOP, (ROUTE, ROUTE_FIELDS));
        let d = Config::default();

        let n = t.number("default_ttl", Unit::Seconds);
        let default_ttl = or_default(
            &mut t,
            "default_ttl",
            seconds(n, d.default_ttl),
            d.default_ttl,
        );
        let n = t.number("version", Unit::Count);
        let version = or_default(&mut t, "version", non_negative(n, d.version), d.version);
        let n = t.number("memory_max_bytes", Unit::Bytes);
        let memory_max_bytes = or_default(
            &mut t,
            "memory_max_bytes",
            non_negative(n, d.memory_max_bytes),
            d.memory_max_bytes,
        );
        let n = t.number("max_body_bytes", Unit::Bytes);
        let max_body_bytes = or_default(
            &mut t,
            "max_body_bytes",
            non_negative(n, d.max_body_bytes),
            d.max_body_bytes,
        );
        let n = t.number("stale_while_revalidate", Unit::Seconds);
        let stale_while_revalidate = or_default(
            &mut t,
            "stale_while_revalidate",
            seconds(n, d.stale_while_revalidate),
            d.stale_while_revalidate,
        );
        let n = t.number("stale_if_error", Unit::Seconds);
        let stale_if_error = or_default(
            &mut t,
            "stale_if_error",
            seconds(n, d.stale_if_error),
            d.stale_if_error,
        );
        let n = t.number("keep_stale", Unit::Seconds);
        let keep_stale = or_default(&mut t, "keep_stale", seconds(n, d.keep_stale), d.keep_stale);
        let n = t.number("origin_timeout_ms", Unit::Milliseconds);
        let origin_timeout_ms = or_default(
            &mut t,
            "origin_timeout_ms",
            non_negative(n, d.origin_timeout_ms).and_then(|ms| match ms {
                0 => Err("must be at least 1".into()),
                ms => Ok(ms),
            }),
            d.origin_timeout_ms,
        );
        let n = t.number("hit_for_pass_ttl", Unit::Seconds);
        let hit_for_pass_ttl = or_default(
            &mut t,
            "hit_for_pass_ttl",
            seconds(n, d.hit_for_pass_ttl),
            d.hit_for_pass_ttl,
        );
        let esi = EsiLimits {
            max_depth: {
                let n = t.number("esi_max_depth", Unit::Count);
                let r = non_negative(n, d.esi.max_depth);
                or_default(&mut t, "esi_max_depth", r, d.esi.max_depth)
            },
            max_includes: {
                let n = t.number("esi_max_includes", Unit::Count);
                let r = non_negative(n, d.esi.max_includes);
                or_default(&mut t, "esi_max_includes", r, d.esi.max_includes)
            },
            max_fragment_bytes: {
                let n = t.number("esi_max_fragment_bytes", Unit::Bytes);
                let r = non_negative(n, d.esi.max_fragment_bytes);
                or_default(
                    &mut t,
                    "esi_max_fragment_bytes",
                    r,
                    d.esi.max_fragment_bytes,
                )
            },
        };
        let request_log = match t.string("request_log") {
            None => d.request_log,
            Some(text) => {
                let r = RequestLog::parse(&text);
                or_default(&mut t, "request_log", r, d.request_log)
            }
        };
        let admin_path = match t.string("admin_path") {
            None => d.admin_path.clone(),
            Some(path) => {
                let r = check_admin_path(path);
                or_default(&mut t, "admin_path", r, d.admin_path.clone())
            }
        };
        let key_prefix = match t.string("key_prefix") {
            None => String::new(),
            Some(prefix) => {
                let r = check_key_prefix(&prefix).map(|()| prefix);
                or_default(&mut t, "key_prefix", r, String::new())
            }
        };
        let backends = match t.one_or_many("backends") {
            None => d.backends.clone(),
            Some(names) => {
                let r = parse_backends(names);
                or_default(&mut t, "backends", r, d.backends.clone())
            }
        };
        let r = check_default_ttl(&backends, default_ttl);
        or_default(&mut t, "default_ttl", r, ());
        let r = check_body(&backends, max_body_bytes);
        or_default(&mut t, "max_body_bytes", r, ());

        let ttl_by_status: Rc<[StatusTtl]> =
            match t.table("ttl_by_status", r#"{ "404" = 60, "5xx" = 0 }"#) {
                Some(map) => {
                    let (rules, problems) = status_ttls(map, &backends);
                    for problem in problems {
                        t.problem("ttl_by_status", problem);
                    }
                    rules.into()
                }
                None => Rc::from([]),
            };
        let credential_headers = match t.strings("credential_headers", r#"["authorization"]"#) {
            Some(names) => {
                let r = header_names(names);
                or_default(
                    &mut t,
                    "credential_headers",
                    r,
                    d.credential_headers.clone(),
                )
            }
            None => d.credential_headers.clone(),
        };
        let forward_headers = match t.strings("forward_headers", r#"["user-agent"]"#) {
            Some(names) => {
                let r = header_names(names);
                or_default(&mut t, "forward_headers", r, Vec::new())
            }
            None => d.forward_headers.clone(),
        };
        let n = t.number("client_refresh_interval", Unit::Seconds);
        let client_refresh_interval = or_default(
            &mut t,
            "client_refresh_interval",
            seconds(n, d.client_refresh_interval),
            d.client_refresh_interval,
        );
        let workers_cache = match t.string("workers_cache").as_deref().map(str::trim) {
            None | Some("") => None,
            Some(site) => {
                let r = workers_cache_site(site).map(Some);
                or_default(&mut t, "workers_cache", r, None)
            }
        };
        let n = t.number("purge_propagation_s", Unit::Seconds);
        let purge_propagation_s = or_default(
            &mut t,
            "purge_propagation_s",
            non_negative(n, d.purge_propagation_s).and_then(|s| {
                if s > MAX_PURGE_PROPAGATION_S {
                    Err(format!("{s} s is more than {MAX_PURGE_PROPAGATION_S} s"))
                } else {
                    Ok(s)
                }
            }),
            d.purge_propagation_s,
        );
        let n = t.number("purge_grace_s", Unit::Seconds);
        let purge_grace_s = or_default(
            &mut t,
            "purge_grace_s",
            non_negative(n, d.purge_grace_s).and_then(|s| {
                if s > MAX_PURGE_GRACE_S {
                    Err(format!("{s} s is more than {MAX_PURGE_GRACE_S} s"))
                } else {
                    Ok(s)
                }
            }),
            d.purge_grace_s,
        );
        let bypass_cookies = match t.strings("bypass_cookies", r#"["sessionid"]"#) {
            Some(names) => {
                let r = bypass_cookie_names(names);
                or_default(&mut t, "bypass_cookies", r, Vec::new())
            }
            None => Vec::new(),
        };
        let n = t.number("shield_shards", Unit::Count);
        let shield_shards = or_default(
            &mut t,
            "shield_shards",
            non_negative(n, u64::from(d.shield_shards)).and_then(|shards| {
                if (1..=1024).contains(&shards) {
                    Ok(shards as u32)
                } else {
                    Err(format!("{shards} must be from 1 to 1024"))
                }
            }),
            d.shield_shards,
        );
        let shield_location_hint = match t.string("shield_location_hint").as_deref().map(str::trim)
        {
            None | Some("") => None,
            Some(hint) if LOCATION_HINTS.contains(&hint) => Some(hint.to_string()),
            Some(hint) => {
                t.problem(
                    "shield_location_hint",
                    format!("{hint:?} is not one of {}", LOCATION_HINTS.join(", ")),
                );
                None
            }
        };
        let shield = t.boolean("shield").unwrap_or(d.shield);
        let expose_tags = t.boolean("expose_tags").unwrap_or(d.expose_tags);
        let case_insensitive_paths = t
            .boolean("case_insensitive_paths")
            .unwrap_or(d.case_insensitive_paths);
        let ignore_client_no_cache = t
            .boolean("ignore_client_no_cache")
            .unwrap_or(d.ignore_client_no_cache);
        let raw_routes = t.list("routes").unwrap_or_default();

        let mut errors: Vec<ConfigError> = t
            .finish()
            .into_iter()
            .map(|(field, reason)| ConfigError::Field { field, reason })
            .collect();
        let limits = Limits {
            backends: &backends,
            default_ttl,
            max_body_bytes,
            ttl_by_status: &ttl_by_status,
        };
        let mut routes = Vec::with_capacity(raw_routes.len());
        for (index, value) in raw_routes.into_iter().enumerate() {
            let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
            let name = RouteName {
                index,
                path: text("path"),
                host: text("host"),
            };
            let map = match value {
                Value::Object(map) => map,
                other => {
                    errors.push(ConfigError::Rule {
                        route: name,
                        field: String::new(),
                        reason: format!(
                            r#"takes a table, e.g. {{ path = "/static/**", ttl = 86400 }}; got {}"#,
                            describe(&other)
                        ),
                    });
                    continue;
                }
            };
            let mut table = Table::new(map, ROUTE_FIELDS, ROUTE, (TOP, TOP_FIELDS));
            let route = validate_route(&mut table, &limits);
            let problems = table.finish();
            if problems.is_empty() {
                routes.extend(route);
            }
            errors.extend(
                problems
                    .into_iter()
                    .map(|(field, reason)| ConfigError::Rule {
                        route: name.clone(),
                        field,
                        reason,
                    }),
            );
        }
        let any_bypass_cookies = !bypass_cookies.is_empty()
            || routes
                .iter()
                .any(|r: &Route| r.bypass_cookies.as_ref().is_some_and(|l| !l.is_empty()));
        let config = Config {
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
            expose_tags,
            esi,
            request_log,
            routes,
            bypass_cookies,
            any_bypass_cookies,
            case_insensitive_paths,
            forwarded: forwarded_fields(&credential_headers, &forward_headers),
            credential_headers,
            forward_headers,
            ttl_by_status,
            ignore_client_no_cache,
            client_refresh_interval,
            workers_cache,
            purge_propagation_s,
            purge_grace_s,
            shield,
            shield_shards,
            shield_location_hint,
        };
        (config, errors)
    }
}

fn check_admin_path(admin_path: String) -> Result<String, String> {
    let valid = admin_path.len() > 1
        && admin_path.starts_with('/')
        && !admin_path.ends_with('/')
        && admin_path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    if valid {
        Ok(admin_path)
    } else {
        Err(format!(
            "{admin_path:?} must be a path like /_edgecache (letters, digits, - _ . ~, no trailing /)"
        ))
    }
}

/// What of the top level a route is checked against.
struct Limits<'a> {
    backends: &'a [Backend],
    default_ttl: u64,
    max_body_bytes: u64,
    ttl_by_status: &'a Rc<[StatusTtl]>,
}

/// One route from its table; `None` when a field is wrong (each wrong field is a problem of
/// `t`, and every field is read, so that all are reported).
fn validate_route(t: &mut Table, top: &Limits) -> Option<Route> {
    let path = match t.string("path") {
        None => {
            t.problem("path", r#"is required, e.g. path = "/blog/**""#);
            None
        }
        Some(raw) => match PathPattern::parse(&raw) {
            Ok(path) => Some(path),
            Err(e) => {
                t.problem("path", glob_reason(&raw, e));
                None
            }
        },
    };
    let host = t
        .string("host")
        .and_then(|raw| match HostPattern::parse(&raw) {
            Ok(host) => Some(host),
            Err(e) => {
                t.problem("host", glob_reason(&raw, e));
                None
            }
        });
    let duration = |t: &mut Table, name: &str| {
        let n = t.number(name, Unit::Seconds)?;
        let r = seconds(Some(n), 0).map(Some);
        or_default(t, name, r, None)
    };
    let ttl = duration(t, "ttl");
    let browser_ttl = duration(t, "browser_ttl");
    let stale_while_revalidate = duration(t, "stale_while_revalidate");
    let stale_if_error = duration(t, "stale_if_error");
    let backends = match t.one_or_many("backends") {
        Some(names) => {
            let r = parse_backends(names);
            or_default(t, "backends", r, top.backends.to_vec())
        }
        None => top.backends.to_vec(),
    };
    let bypass = t.boolean("bypass").unwrap_or(false);
    // The backends whose limits apply: none on a route that stores nothing.
    let storing: &[Backend] = if bypass { &[] } else { &backends };
    match ttl {
        Some(ttl) => {
            let r = check_ttl(storing, ttl);
            or_default(t, "ttl", r, ());
        }
        None => {
            let r = check_default_ttl(storing, top.default_ttl);
            or_default(t, "backends", r, ());
        }
    }
    let r = check_body(storing, top.max_body_bytes);
    or_default(t, "backends", r, ());
    let bypass_cookies = t
        .strings("bypass_cookies", r#"["sessionid"]"#)
        .and_then(|names| {
            let r = bypass_cookie_names(names).map(Some);
            or_default(t, "bypass_cookies", r, None)
        });
    let ignore = t.strings("query_ignore", r#"["utm_*"]"#);
    let allow = t.strings("query_allow", r#"["page"]"#);
    let query = match (ignore, allow) {
        (Some(_), Some(_)) => {
            t.problem(
                "query_allow",
                "query_ignore and query_allow cannot both be set",
            );
            QueryRule::All
        }
        (Some(names), None) => {
            let r = check_names(names).map(QueryRule::Ignore);
            or_default(t, "query_ignore", r, QueryRule::All)
        }
        (None, Some(names)) => {
            let r = check_names(names).map(QueryRule::Allow);
            or_default(t, "query_allow", r, QueryRule::All)
        }
        (None, None) => QueryRule::All,
    };
    let vary_headers = t
        .strings("vary_headers", r#"["Accept-Language"]"#)
        .unwrap_or_default()
        .into_iter()
        .map(|h| check_token(&h).map(|()| h.to_ascii_lowercase()))
        .collect::<Result<Vec<_>, _>>();
    let vary_headers = or_default(t, "vary_headers", vary_headers, Vec::new());
    let vary_cookies = t.strings("vary_cookies", r#"["lang"]"#).unwrap_or_default();
    let vary_cookies = or_default(t, "vary_cookies", check_names(vary_cookies), Vec::new());
    let tags = t.strings("tags", r#"["blog"]"#).unwrap_or_default();
    for tag in &tags {
        let r = check_tag(tag);
        or_default(t, "tags", r, ());
    }
    let esi = t.boolean("esi").unwrap_or(false);
    let shield = t.boolean("shield");
    for rule in top.ttl_by_status.iter().filter(|r| r.ttl > 0) {
        if let Err(r) = check_ttl(storing, rule.ttl) {
            t.problem(
                "backends",
                format!(
                    "the top-level ttl_by_status {}-{}: {r}",
                    rule.first, rule.last
                ),
            );
        }
    }
    let ttl_by_status = match t.table("ttl_by_status", r#"{ "404" = 60 }"#) {
        None => top.ttl_by_status.clone(),
        Some(map) => {
            let (mut rules, problems) = status_ttls(map, storing);
            for problem in problems {
                t.problem("ttl_by_status", problem);
            }
            // Looked up in order: this route's rules first, then the top-level ones for the
            // statuses they do not name.
            rules.extend(top.ttl_by_status.iter().copied());
            rules.into()
        }
    };
    let esi_includes = t
        .strings("esi_includes", r#"["/fragments/**"]"#)
        .map(|patterns| {
            let mut parsed = Vec::with_capacity(patterns.len());
            for p in &patterns {
                match PathPattern::parse(p) {
                    Ok(pattern) => parsed.push(pattern),
                    Err(e) => t.problem("esi_includes", glob_reason(p, e)),
                }
            }
            parsed
        });
    Some(Route {
        host,
        path: path?,
        ttl,
        browser_ttl,
        stale_while_revalidate,
        stale_if_error,
        backends,
        bypass,
        bypass_cookies,
        query,
        vary_headers,
        vary_cookies,
        tags,
        esi,
        ttl_by_status,
        esi_includes,
        shield,
    })
}
