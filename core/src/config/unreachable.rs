//! Route rules that can never apply, for `make check` to warn about: a path pattern no
//! canonical path can match, and a rule every request of which an earlier rule takes first
//! (the first matching rule wins), each naming the rules concerned.
//!
//! Sound, not complete: a warning is given only when the rule surely never applies (for a
//! shadowed rule: identical patterns, an earlier `/**`, an earlier folder `/x/**` over a later
//! pattern under `/x`, or a later literal path the earlier pattern matches).

use super::{Config, Route, RouteName};

impl Config {
    /// A warning for each route rule that can never apply.
    pub fn unreachable_rules(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (j, later) in self.routes.iter().enumerate() {
            if let Some(why) = self.never_matches(later) {
                warnings.push(format!("EDGECACHE.{} never applies: {why}", name(j, later)));
                continue;
            }
            if let Some((i, earlier)) = self.routes[..j]
                .iter()
                .enumerate()
                .find(|(_, earlier)| covers(earlier, later))
            {
                let (later, earlier) = (name(j, later), name(i, earlier));
                warnings.push(if later.to_string() == earlier.to_string() {
                    format!(
                        "EDGECACHE.{later} never applies: it is rule {} of the same path, and rule {} comes first (the first matching rule wins); merge them, or remove one",
                        j + 1,
                        i + 1
                    )
                } else {
                    format!(
                        "EDGECACHE.{later} never applies: {earlier} comes first and matches every request it does (the first matching rule wins); move it above, or remove it"
                    )
                });
            }
        }
        warnings
    }

    /// Why no request's canonical path (`request::target`) can match the route's pattern.
    fn never_matches(&self, route: &Route) -> Option<String> {
        let pattern = route.path.as_str();
        if self.case_insensitive_paths && pattern.bytes().any(|b| b.is_ascii_uppercase()) {
            return Some(
                "case_insensitive_paths lower-cases every path, and its path has upper-case letters"
                    .into(),
            );
        }
        let bytes = pattern.as_bytes();
        for (at, _) in pattern.match_indices('%') {
            let hex = bytes
                .get(at + 1..at + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            let Some(hex) = hex else { continue };
            let text = std::str::from_utf8(hex).unwrap_or_default();
            let decoded = u8::from_str_radix(text, 16).unwrap_or_default();
            if decoded.is_ascii_alphanumeric() || b"-._~".contains(&decoded) {
                return Some(format!(
                    "paths are compared decoded, and %{text} is {:?}: write it as it is",
                    decoded as char
                ));
            }
            if hex.iter().any(u8::is_ascii_lowercase) {
                return Some(format!(
                    "paths are compared with escapes in upper case: write %{}",
                    text.to_ascii_uppercase()
                ));
            }
        }
        if pattern
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return Some("paths are compared with dot segments (. and ..) removed".into());
        }
        let literal = &pattern[..pattern.find('*').unwrap_or(pattern.len())];
        let admin = &self.admin_path;
        if literal
            .strip_prefix(admin.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
            || pattern == admin
        {
            return Some(format!(
                "its paths are under admin_path ({admin}), which the admin API answers"
            ));
        }
        None
    }
}

fn name(index: usize, route: &Route) -> RouteName {
    RouteName {
        index,
        path: Some(route.path.as_str().to_string()),
        host: route.host.as_ref().map(|h| h.as_str().to_string()),
    }
}

/// Every request `later` matches, `earlier` matches too.
fn covers(earlier: &Route, later: &Route) -> bool {
    let hosts = match (&earlier.host, &later.host) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(e), Some(l)) => {
            let (e, l) = (e.as_str(), l.as_str());
            e == l
                || e.strip_prefix("*.").is_some_and(|suffix| {
                    l.strip_suffix(suffix)
                        .is_some_and(|head| head.ends_with('.'))
                })
        }
    };
    if !hosts {
        return false;
    }
    let (e, l) = (earlier.path.as_str(), later.path.as_str());
    if e == l || e == "/**" {
        return true;
    }
    if !l.contains('*') {
        return earlier.path.matches(l);
    }
    match e.strip_suffix("/**") {
        Some(folder) if !folder.contains('*') => {
            l == folder
                || l.strip_prefix(folder)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(json: &str) -> Vec<String> {
        Config::from_json(json).unwrap().unreachable_rules()
    }

    #[test]
    fn a_rule_an_earlier_one_always_takes_first_is_named_with_it() {
        for (routes, shadowed) in [
            (
                r#"[{"path": "/api/**"}, {"path": "/api/v1/**"}]"#,
                Some(("/api/v1/**", "/api/**")),
            ),
            (
                r#"[{"path": "/api/**"}, {"path": "/api"}]"#,
                Some(("/api", "/api/**")),
            ),
            (
                r#"[{"path": "/api/**"}, {"path": "/api/*.json"}]"#,
                Some(("/api/*.json", "/api/**")),
            ),
            (
                r#"[{"path": "/**"}, {"path": "/x/*"}]"#,
                Some(("/x/*", "/**")),
            ),
            (
                r#"[{"path": "/*.css"}, {"path": "/site.css"}]"#,
                Some(("/site.css", "/*.css")),
            ),
            (r#"[{"path": "/api/**"}, {"path": "/apiary/**"}]"#, None),
            (r#"[{"path": "/api/*"}, {"path": "/api/v1/x"}]"#, None),
            (r#"[{"path": "/api/v1/**"}, {"path": "/api/**"}]"#, None),
            (r#"[{"path": "/*.css"}, {"path": "/static/**"}]"#, None),
            (
                r#"[{"path": "/**", "host": "a.test"}, {"path": "/x"}]"#,
                None,
            ),
        ] {
            let found = warnings(&format!(r#"{{"routes": {routes}}}"#));
            match shadowed {
                None => assert!(found.is_empty(), "{routes}: {found:?}"),
                Some((later, earlier)) => assert_eq!(
                    found,
                    vec![format!(
                        "EDGECACHE.routes[{later:?}] never applies: routes[{earlier:?}] comes first and matches every request it does (the first matching rule wins); move it above, or remove it"
                    )],
                    "{routes}"
                ),
            }
        }
        assert_eq!(
            warnings(
                r#"{"routes": [{"path": "/a", "ttl": 5}, {"path": "/b"}, {"path": "/a", "bypass": true}]}"#
            ),
            vec![
                r#"EDGECACHE.routes["/a"] never applies: it is rule 3 of the same path, and rule 1 comes first (the first matching rule wins); merge them, or remove one"#
            ]
        );
    }

    #[test]
    fn hosts_are_covered_by_the_same_host_a_wildcard_over_it_or_any_host() {
        let found = warnings(
            r#"{"routes": [{"path": "/**", "host": "*.example.com"}, {"path": "/x", "host": "shop.example.com"},
                {"path": "/y", "host": "example.com"}]}"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with(
            r#"EDGECACHE.routes["/x" on "shop.example.com"] never applies: routes["/**" on "*.example.com"]"#
        ));
    }

    #[test]
    fn a_pattern_no_canonical_path_can_match_is_named_with_why() {
        for (config, why) in [
            (
                r#"{"case_insensitive_paths": true, "routes": [{"path": "/Static/**"}]}"#,
                "case_insensitive_paths",
            ),
            (r#"{"routes": [{"path": "/a%2fb"}]}"#, "write %2F"),
            (r#"{"routes": [{"path": "/%61pi/**"}]}"#, "%61 is 'a'"),
            (r#"{"routes": [{"path": "/a/../b"}]}"#, "dot segments"),
            (
                r#"{"routes": [{"path": "/_edgecache/**"}]}"#,
                "admin_path (/_edgecache)",
            ),
        ] {
            let found = warnings(config);
            assert_eq!(found.len(), 1, "{config}: {found:?}");
            assert!(found[0].contains(why), "{config}: {found:?}");
        }
        assert!(warnings(r#"{"routes": [{"path": "/a%2Fb"}, {"path": "/_edgecachex/**"}, {"path": "/Static/**"}]}"#).is_empty());
    }
}
