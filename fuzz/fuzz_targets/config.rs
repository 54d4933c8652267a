//! The policy parser: any text, and any JSON built from the policy's own field names, is a
//! `Config` or a named `ConfigError`, never a panic; and every accepted `Config` holds the
//! invariants the rest of the worker relies on.
#![no_main]

use arbitrary::{Result, Unstructured};
use edgecache_core::config::{
    check_tag, Backend, Config, ConfigErrors, MAX_PURGE_GRACE_S, MAX_PURGE_PROPAGATION_S,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const TOP: &[&str] = &[
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
    "routes",
    "workers_cache",
    "purge_propagation_s",
    "purge_grace_s",
];
const ROUTE: &[&str] = &[
    "path",
    "host",
    "ttl",
    "browser_ttl",
    "stale_while_revalidate",
    "stale_if_error",
    "backends",
    "bypass",
    "query_ignore",
    "query_allow",
    "vary_headers",
    "vary_cookies",
    "tags",
];
const STRINGS: &[&str] = &[
    "",
    "/",
    "/**",
    "/static/**",
    "/*.css",
    "/blog/*/comments",
    "**",
    "*",
    "/a/**/b",
    "example.com",
    "*.example.com",
    "memory",
    "cache",
    "kv",
    "utm_*",
    "accept-language",
    "site",
    "a:b",
    "tag-1",
    "bad tag",
    "/_edgecache",
    "/x/",
    "\u{0}",
    "é",
    "https://example.com",
    "https://Example.com.:443/",
    "http://example.com/path",
];
const NUMBERS: &[i64] = &[
    0,
    1,
    59,
    60,
    61,
    -1,
    600,
    26_214_400,
    26_214_401,
    i64::MAX,
    i64::MIN,
];

fn value(u: &mut Unstructured, depth: u32, keys: &[&str]) -> Result<Value> {
    Ok(match u.int_in_range(0..=7)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(*u.choose(NUMBERS)?),
        3 => Value::from(u.arbitrary::<i64>()?),
        4 => Value::from(*u.choose(STRINGS)?),
        5 => Value::from(u.arbitrary::<String>()?),
        6 if depth > 0 => {
            let n = u.int_in_range(0..=4)?;
            let mut list = Vec::new();
            for _ in 0..n {
                list.push(value(u, depth - 1, ROUTE)?);
            }
            Value::Array(list)
        }
        _ if depth > 0 => object(u, depth - 1, keys)?,
        _ => Value::from(*u.choose(STRINGS)?),
    })
}

fn object(u: &mut Unstructured, depth: u32, keys: &[&str]) -> Result<Value> {
    let mut map = Map::new();
    let n = u.int_in_range(0..=6)?;
    for _ in 0..n {
        let key = if u.ratio(1, 16)? {
            u.arbitrary::<String>()?
        } else {
            u.choose(keys)?.to_string()
        };
        let child_keys = if key == "routes" { ROUTE } else { TOP };
        map.insert(key, value(u, depth, child_keys)?);
    }
    Ok(Value::Object(map))
}

fn check(config: &Config) {
    assert!(config.key_prefix.len() <= 64);
    assert!(!config
        .key_prefix
        .chars()
        .any(|c| c.is_control() || c == ':'));
    assert!(config.origin_timeout_ms >= 1);
    // Bounded, so that a copy of the purge registry is never trusted for long.
    assert!(config.purge_propagation_s <= MAX_PURGE_PROPAGATION_S);
    assert!(config.purge_grace_s <= MAX_PURGE_GRACE_S);
    let admin = &config.admin_path;
    assert!(admin.len() > 1 && admin.starts_with('/') && !admin.ends_with('/'));
    // Every backend's limits, as its descriptor states them (`Backend::ALL`). `default_ttl` 0
    // guesses no lifetime at all, so a backend's minimum TTL does not apply to it.
    let default_fits = |backend: &Backend| {
        config.default_ttl == 0 || config.default_ttl >= backend.describe().min_ttl_secs
    };
    let body_fits = |backend: &Backend| {
        backend
            .describe()
            .max_value_bytes
            .is_none_or(|max| config.max_body_bytes <= max)
    };
    assert!(config.backends.iter().all(default_fits));
    assert!(config.backends.iter().all(body_fits));
    // Workers Cache's site as keys hold a scheme and host: no path, lowercase host.
    if let Some(site) = &config.workers_cache {
        let (scheme, authority) = site.split_once("://").expect("a scheme");
        assert!(scheme == "http" || scheme == "https");
        assert!(!authority.is_empty() && !authority.contains(['/', '?', '#', '@']));
        assert_eq!(*authority, authority.to_ascii_lowercase());
    }
    for route in &config.routes {
        if !route.bypass {
            for backend in &route.backends {
                let min_ttl = backend.describe().min_ttl_secs;
                assert!(route.ttl.map_or(default_fits(backend), |ttl| ttl >= min_ttl));
                assert!(body_fits(backend));
            }
        }
        for tag in &route.tags {
            assert!(check_tag(tag).is_ok());
        }
        for name in route.vary_cookies.iter() {
            assert!(!name.is_empty() && !name.contains(['=', '&', ';']));
        }
        for name in &route.vary_headers {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
}

fn judge(result: std::result::Result<Config, ConfigErrors>) {
    match result {
        Ok(config) => check(&config),
        Err(errors) => {
            assert!(!errors.0.is_empty());
            assert!(errors.0.iter().all(|e| !e.to_string().is_empty()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        // Text, as `[vars]` may hold it (a JSON string): the seeds start here.
        Some((b'{' | b'"' | b' ' | b'[', _)) => {
            if let Ok(text) = std::str::from_utf8(data) {
                judge(Config::from_json(text));
            }
        }
        // Structured: JSON objects made of the policy's own field names.
        Some((_, rest)) => {
            let mut u = Unstructured::new(rest);
            if let Ok(value) = object(&mut u, 3, TOP) {
                judge(Config::from_value(value.clone()));
                judge(Config::from_json(&value.to_string()));
            }
        }
        None => {}
    }
});
