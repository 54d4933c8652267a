//! The configuration's tests: what is read, and every error by name.

use serde_json::Value;

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
    assert_eq!(config.backends, vec![Backend::Memory, Backend::CacheApi]);
    assert_eq!(config.routes.len(), 2);
    let statics = &config.routes[0];
    assert_eq!(statics.ttl, Some(86400));
    assert_eq!(statics.browser_ttl, Some(3600));
    assert_eq!(statics.backends, vec![Backend::Kv]);
    assert_eq!(statics.query, QueryRule::Ignore(vec!["utm_*".into()]));
    assert_eq!(statics.vary_headers, vec!["accept-language".to_string()]);
    let api = &config.routes[1];
    assert!(api.bypass);
    assert_eq!(api.backends, vec![Backend::Memory, Backend::CacheApi]);
    assert_eq!(api.query, QueryRule::Allow(vec!["page".into()]));
}

#[test]
fn a_json_string_holding_the_object_is_accepted() {
    let config = Config::from_value(Value::String(r#"{"version": 7}"#.into())).unwrap();
    assert_eq!(config.version, 7);
}

#[test]
fn an_unknown_top_level_field_is_named() {
    assert!(error_of(r#"{"defualt_ttl": 5}"#).starts_with("EDGECACHE.defualt_ttl: unknown field"));
}

#[test]
fn an_unknown_rule_field_is_named_with_the_rules_path_and_what_was_meant() {
    assert_eq!(
        error_of(r#"{"routes": [{"path": "/"}, {"path": "/a", "ttls": 5}]}"#),
        "EDGECACHE.routes[\"/a\"].ttls: unknown field; did you mean `ttl`?"
    );
    assert_eq!(
        error_of(r#"{"routes": [{"path": "/a", "host": "b.test", "default_ttl": 5}]}"#),
        "EDGECACHE.routes[\"/a\" on \"b.test\"].default_ttl: is a field of the top level, not of a route"
    );
}

#[test]
fn a_rule_without_a_path_is_an_error() {
    assert_eq!(
        error_of(r#"{"routes": [{"ttl": 5}]}"#),
        "EDGECACHE.routes[0].path: is required, e.g. path = \"/blog/**\""
    );
}

#[test]
fn a_bad_pattern_is_reported_with_its_reason() {
    assert_eq!(
        error_of(r#"{"routes": [{"path": "static/*"}]}"#),
        "EDGECACHE.routes[\"static/*\"].path: \"static/*\": must start with '/'"
    );
    assert_eq!(
        error_of(r#"{"routes": [{"path": "/a/***"}]}"#),
        "EDGECACHE.routes[\"/a/***\"].path: \"/a/***\": has more than two '*' in a row"
    );
}

#[test]
fn a_ttl_below_the_kv_minimum_on_a_kv_route_is_an_error() {
    assert_eq!(
        error_of(r#"{"routes": [{"path": "/", "backends": ["memory", "kv"], "ttl": 30}]}"#),
        "EDGECACHE.routes[\"/\"].ttl: 30 s is below Workers KV's 60 s minimum TTL on a route that uses kv"
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
        "EDGECACHE.routes[\"/\"].browser_ttl: -5 is negative"
    );
}

#[test]
fn unknown_and_repeated_backends_are_errors() {
    assert_eq!(
        error_of(r#"{"backends": ["memory", "redis"]}"#),
        "EDGECACHE.backends: unknown backend \"redis\" (expected memory, cache, kv or r2)"
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
        "EDGECACHE.routes[\"/\"].query_allow: query_ignore and query_allow cannot both be set"
    );
}

#[test]
fn tags_and_vary_headers_are_checked() {
    assert!(error_of(r#"{"routes": [{"path": "/", "tags": ["a b"]}]}"#)
        .starts_with("EDGECACHE.routes[\"/\"].tags:"));
    assert!(
        error_of(r#"{"routes": [{"path": "/", "vary_headers": ["X Bad"]}]}"#)
            .starts_with("EDGECACHE.routes[\"/\"].vary_headers:")
    );
}

#[test]
fn wrong_types_and_bad_json_are_errors() {
    assert_eq!(
        error_of(r#"{"version": "one"}"#),
        "EDGECACHE.version: takes a whole number; got the string \"one\""
    );
    assert!(error_of("{").starts_with("EDGECACHE is not a valid table: EOF"));
    assert_eq!(
        error_of("[1]"),
        "EDGECACHE is not a valid table: takes a table of settings; got a list"
    );
    assert_eq!(
        error_of(r#"{"routes": [5]}"#),
        "EDGECACHE.routes[0]: takes a table, e.g. { path = \"/static/**\", ttl = 86400 }; got the number 5"
    );
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
        Config::default().request_log,
        RequestLog::Misses,
        "hits get no line unless asked for"
    );
    assert_eq!(
        error_of(r#"{"request_log": "some"}"#),
        r#"EDGECACHE.request_log: "some" is not one of "all", "misses", "errors""#
    );
}

#[test]
fn durations_stop_at_two_to_the_31_seconds() {
    assert_eq!(
        error_of(r#"{"routes": [{"path": "/", "ttl": 9223372036854775807}]}"#),
        "EDGECACHE.routes[\"/\"].ttl: 9223372036854775807 s is more than 2^31 s (68 years)"
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
    assert_eq!(
        wrong_type,
        "EDGECACHE.routes[\"/\"].esi: takes true or false; got the string \"yes\""
    );
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
    assert!(error_of(r#"{"ttl_by_status": {"404": "1m"}}"#).starts_with(
        "EDGECACHE.ttl_by_status: \"404\": takes seconds, a whole number; got the string \"1m\""
    ));
    assert_eq!(
        error_of(r#"{"routes": [{"path": "/", "backends": "kv", "ttl_by_status": {"404": 5}}]}"#),
        "EDGECACHE.routes[\"/\"].ttl_by_status: \"404\": 5 s is below Workers KV's 60 s minimum TTL on a route that uses kv"
    );
    assert!(error_of(
        r#"{"ttl_by_status": {"404": 5}, "routes": [{"path": "/", "backends": "kv"}]}"#
    )
    .starts_with("EDGECACHE.routes[\"/\"].backends: the top-level ttl_by_status 404-404:"));
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
    assert!(error_of(r#"{"forward_headers": ["X Bad"]}"#).starts_with("EDGECACHE.forward_headers:"));
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
        "EDGECACHE.routes[\"/\"].esi_includes: \"fragments/*\": must start with '/'"
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
    let config = Config::from_json(r#"{"purge_propagation_s": 0, "purge_grace_s": 5}"#).unwrap();
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

#[test]
fn a_body_limit_over_25_mib_is_allowed_on_an_r2_route_and_refused_on_a_kv_route() {
    let big = 40 * 1024 * 1024;
    let r2 = format!(
        r#"{{"max_body_bytes": {big}, "routes": [{{"path": "/big/**", "backends": "r2"}}]}}"#
    );
    let config = Config::from_json(&r2).expect("R2 takes 40 MiB values");
    assert_eq!(config.max_body_bytes, big);
    assert_eq!(config.routes[0].backends, vec![Backend::R2]);
    let kv = format!(
        r#"{{"max_body_bytes": {big}, "routes": [{{"path": "/big/**", "backends": "r2"}}, {{"path": "/**", "backends": ["memory", "kv"]}}]}}"#
    );
    assert_eq!(
        error_of(&kv),
        "EDGECACHE.routes[\"/**\"].backends: max_body_bytes 41943040 exceeds Workers KV's 26214400-byte value limit"
    );
    assert_eq!(
        error_of(&format!(r#"{{"backends": "kv", "max_body_bytes": {big}}}"#)),
        "EDGECACHE.max_body_bytes: max_body_bytes 41943040 exceeds Workers KV's 26214400-byte value limit"
    );
}

#[test]
fn a_bypass_route_is_held_to_no_backend_limit() {
    let big = 40 * 1024 * 1024;
    assert!(Config::from_json(&format!(
        r#"{{"max_body_bytes": {big}, "backends": "r2", "routes": [{{"path": "/api/**", "backends": "kv", "bypass": true}}]}}"#
    ))
    .is_ok());
}

#[test]
fn r2_has_no_minimum_ttl() {
    let config =
        Config::from_json(r#"{"routes": [{"path": "/", "backends": ["memory", "r2"], "ttl": 1}]}"#)
            .expect("R2 keeps entries for any time");
    assert_eq!(
        config.routes[0].backends,
        vec![Backend::Memory, Backend::R2]
    );
}

#[test]
fn every_backend_name_parses_in_a_config() {
    for backend in Backend::ALL {
        let config = Config::from_json(&format!(
            r#"{{"backends": "{}", "default_ttl": 600}}"#,
            backend.as_str()
        ))
        .expect("every listed backend can be configured");
        assert_eq!(config.backends, vec![backend]);
    }
}

#[test]
fn every_error_is_reported_at_once_in_the_users_terms() {
    let errors = Config::from_json(
        r#"{"defualt_ttl": 60, "version": -1, "backends": ["memroy"],
            "routes": [
              {"path": "/api/**", "ttl": "1h", "bypass": "yes"},
              {"path": "/static/**", "ttl": 86400, "vary_cookie": ["lang"]},
              {"path": "/ok/**", "ttl": 60},
              {"ttl": 5}
            ]}"#,
    )
    .unwrap_err();
    let lines: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        lines,
        vec![
            "EDGECACHE.version: -1 is negative",
            "EDGECACHE.backends: unknown backend \"memroy\"; did you mean \"memory\"? (expected memory, cache, kv or r2)",
            "EDGECACHE.defualt_ttl: unknown field; did you mean `default_ttl`?",
            "EDGECACHE.routes[\"/api/**\"].ttl: takes seconds, a whole number; got the string \"1h\" (write 3600, no quotes)",
            "EDGECACHE.routes[\"/api/**\"].bypass: takes true or false; got the string \"yes\"",
            "EDGECACHE.routes[\"/static/**\"].vary_cookie: unknown field; did you mean `vary_cookies`?",
            "EDGECACHE.routes[3].path: is required, e.g. path = \"/blog/**\"",
        ]
    );
    assert_eq!(errors.to_string(), lines.join("\n"), "one problem a line");
}

#[test]
fn every_field_of_both_tables_is_read() {
    // A field the parser knows but never reads would be reported as unknown: setting each
    // one (with a valid value) must be accepted.
    let top = r#"{"default_ttl": 60, "key_prefix": "p", "version": 2, "backends": "cache",
        "memory_max_bytes": 100, "max_body_bytes": 100, "stale_while_revalidate": 1,
        "stale_if_error": 1, "keep_stale": 1, "origin_timeout_ms": 1, "hit_for_pass_ttl": 1,
        "admin_path": "/_x", "expose_tags": true, "esi_max_depth": 1, "esi_max_includes": 1,
        "esi_max_fragment_bytes": 1, "request_log": "all", "bypass_cookies": ["s"],
        "case_insensitive_paths": true, "credential_headers": ["cookie"],
        "forward_headers": ["user-agent"], "ttl_by_status": {"404": 60},
        "ignore_client_no_cache": true, "client_refresh_interval": 1,
        "workers_cache": "https://a.test", "purge_propagation_s": 1, "purge_grace_s": 1,
        "shield": true, "shield_shards": 2, "shield_location_hint": "enam",
        "routes": [{"path": "/**", "host": "a.test", "ttl": 60, "browser_ttl": 1,
          "stale_while_revalidate": 1, "stale_if_error": 1, "backends": ["memory"],
          "bypass": false, "bypass_cookies": [], "query_ignore": ["u"], "vary_headers": ["x"],
          "vary_cookies": ["l"], "tags": ["t"], "esi": true, "ttl_by_status": {"500": 0}, "shield": false,
          "esi_includes": ["/f/**"]}]}"#;
    let value: Value = serde_json::from_str(top).unwrap();
    let fields: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields.len(), parse::TOP_FIELDS.len());
    let route = &value["routes"][0];
    assert_eq!(
        route.as_object().unwrap().len() + 1,
        parse::ROUTE_FIELDS.len(),
        "all but query_allow, which excludes query_ignore"
    );
    Config::from_json(top).unwrap();
    Config::from_json(r#"{"routes": [{"path": "/", "query_allow": ["q"]}]}"#).unwrap();
}

#[test]
fn the_valid_part_of_a_config_in_error_keeps_what_reads_and_defaults_the_rest() {
    let value = serde_json::json!({
        "default_ttl": "1h",
        "shield": true,
        "routes": [{"path": "/**"}, {"path": "/a", "ttl": "1h"}, {"path": "/b", "bypass": true}],
    });
    assert!(Config::from_value(value.clone()).is_err());
    let valid = Config::valid_part(value).expect("a table");
    assert_eq!(valid.default_ttl, Config::default().default_ttl);
    assert!(valid.shield);
    let paths: Vec<&str> = valid.routes.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/**", "/b"]);
    assert!(Config::valid_part(serde_json::json!(3)).is_none());
}
