//! Route patterns and matching: which rule of the configuration applies to a request.
//!
//! Patterns are globs, checked once at start-up: in a path, `*` matches within one segment
//! (no `/`) and `**` matches across segments; in a host, `*.` matches any subdomains.
//! Matching compares against the canonical path (`Target`: unreserved characters decoded,
//! other escapes upper-case, dot segments removed), so `/a%2Fb` never matches a rule written
//! for `/a/b`; `Config::routing` also makes sure that no reading of an ambiguous path an
//! origin could make escapes a bypass rule.

use std::fmt;

use crate::config::{Config, Route};
use crate::target::Target;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobError {
    MissingSlash,
    TripleStar,
    Forbidden(char),
    BadHost,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlobError::MissingSlash => write!(f, "must start with '/'"),
            GlobError::TripleStar => write!(f, "has more than two '*' in a row"),
            GlobError::Forbidden(c) => write!(f, "cannot contain {c:?}"),
            GlobError::BadHost => {
                write!(f, "must be a host name, optionally starting with '*.'")
            }
        }
    }
}

/// A path glob such as `/static/**` or `/blog/*/comments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(String);

impl PathPattern {
    pub fn parse(pattern: &str) -> Result<PathPattern, GlobError> {
        if !pattern.starts_with('/') {
            return Err(GlobError::MissingSlash);
        }
        if pattern.contains("***") {
            return Err(GlobError::TripleStar);
        }
        if let Some(c) = pattern
            .chars()
            .find(|c| matches!(c, '?' | '#' | ' ') || c.is_control())
        {
            return Err(GlobError::Forbidden(c));
        }
        Ok(PathPattern(pattern.to_string()))
    }

    pub fn matches(&self, path: &str) -> bool {
        glob_match(self.0.as_bytes(), path.as_bytes(), Some(b'/'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A host name, exact (`example.com`) or with a wildcard for subdomains (`*.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<HostPattern, GlobError> {
        let lower = pattern.to_ascii_lowercase();
        let name = lower.strip_prefix("*.").unwrap_or(&lower);
        let valid = !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']')
            });
        if !valid {
            return Err(GlobError::BadHost);
        }
        Ok(HostPattern(lower))
    }

    /// `host` is the URL's host as the runtime gives it: already lowercase and punycoded.
    pub fn matches(&self, host: &str) -> bool {
        match self.0.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1 && host.ends_with(suffix) && {
                    host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
            }
            None => self.0 == host,
        }
    }
}

/// Matches `text` against a glob in which `*` stops at `separator` and `**` does not.
///
/// Iterative, remembering the last `*` and the last `**` to backtrack to: a `*` can only be
/// widened up to the next separator, after which the `**` before it is widened instead. That
/// keeps hostile paths to O(pattern × text) rather than exponential.
pub fn glob_match(pattern: &[u8], text: &[u8], separator: Option<u8>) -> bool {
    let (mut p, mut t) = (0, 0);
    // Each backtrack point: (pattern index after the star, text index the star has eaten to).
    let mut single: Option<(usize, usize)> = None;
    let mut double: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            let is_double = pattern.get(p + 1) == Some(&b'*') || separator.is_none();
            p += if pattern.get(p + 1) == Some(&b'*') {
                2
            } else {
                1
            };
            if is_double {
                double = Some((p, t));
                single = None;
            } else {
                single = Some((p, t));
            }
            continue;
        }
        if pattern.get(p) == Some(&text[t]) {
            p += 1;
            t += 1;
            continue;
        }
        if let Some((after, eaten)) = single {
            if Some(text[eaten]) != separator {
                single = Some((after, eaten + 1));
                (p, t) = (after, eaten + 1);
                continue;
            }
        }
        if let Some((after, eaten)) = double {
            double = Some((after, eaten + 1));
            single = None;
            (p, t) = (after, eaten + 1);
            continue;
        }
        return false;
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

impl Config {
    /// The first route whose host and path match, if any.
    pub fn route_for(&self, host: &str, path: &str) -> Option<&Route> {
        self.routes.iter().find(|route| {
            route.host.as_ref().is_none_or(|h| h.matches(host)) && route.path.matches(path)
        })
    }

    /// How a request for `target` is routed. Its rule is the first that matches its canonical
    /// path; it is bypassed when that rule, or the rule of any other reading an origin could
    /// make of the path (`Target::readings`), is a bypass; and no lifetime override applies
    /// when the path is ambiguous, since the origin may answer for another resource.
    pub fn routing(&self, target: &Target) -> Routing<'_> {
        let route = self.route_for(&target.host, &target.path);
        let bypass = route.is_some_and(|r| r.bypass)
            || target
                .readings()
                .iter()
                .any(|path| self.route_for(&target.host, path).is_some_and(|r| r.bypass));
        Routing {
            route,
            bypass,
            overrides: !target.ambiguous,
        }
    }
}

/// Which rule applies to a request, as `Config::routing` decides.
#[derive(Debug, Clone, Copy)]
pub struct Routing<'a> {
    pub route: Option<&'a Route>,
    /// A bypass rule matches the path, or a reading of it.
    pub bypass: bool,
    /// The route's `ttl` and the `ttl_by_status` rules may apply.
    pub overrides: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> PathPattern {
        PathPattern::parse(p).unwrap()
    }

    #[test]
    fn exact_paths_match_only_themselves() {
        assert!(path("/about").matches("/about"));
        assert!(!path("/about").matches("/about/"));
        assert!(!path("/about").matches("/aboutus"));
    }

    #[test]
    fn a_single_star_stays_within_one_segment() {
        assert!(path("/blog/*").matches("/blog/post"));
        assert!(path("/blog/*").matches("/blog/"));
        assert!(!path("/blog/*").matches("/blog/2024/post"));
        assert!(path("/*.css").matches("/site.css"));
        assert!(!path("/*.css").matches("/account/settings/x.css"));
        assert!(path("/blog/*/comments").matches("/blog/a/comments"));
    }

    #[test]
    fn a_double_star_widens_when_a_later_single_star_cannot() {
        assert!(path("/**/b/*").matches("/a/b/c/b/d"));
        assert!(!path("/**/b/*").matches("/a/b/c/d"));
        assert!(path("/**/*.css").matches("/a/b/c.css"));
    }

    #[test]
    fn a_double_star_crosses_segments() {
        assert!(path("/static/**").matches("/static/a/b/c.js"));
        assert!(path("/static/**").matches("/static/"));
        assert!(!path("/static/**").matches("/statics/x"));
        assert!(path("/**").matches("/anything/at/all"));
        assert!(path("/**.css").matches("/account/settings/x.css"));
    }

    #[test]
    fn encoded_slashes_are_not_segment_separators_but_do_not_match_literal_slashes() {
        assert!(!path("/a/b").matches("/a%2Fb"));
    }

    #[test]
    fn hostile_paths_match_in_linear_time() {
        let pattern = path("/*a*a*a*a*a*a*a*b");
        let text = format!("/{}", "a".repeat(10_000));
        assert!(!pattern.matches(&text));
    }

    #[test]
    fn host_patterns_match_exactly_or_subdomains() {
        let exact = HostPattern::parse("Example.com").unwrap();
        assert!(exact.matches("example.com"));
        assert!(!exact.matches("www.example.com"));
        let wild = HostPattern::parse("*.example.com").unwrap();
        assert!(wild.matches("www.example.com"));
        assert!(wild.matches("a.b.example.com"));
        assert!(!wild.matches("example.com"));
        assert!(!wild.matches("badexample.com"));
        assert!(HostPattern::parse("exa mple.com").is_err());
        assert!(HostPattern::parse("*.").is_err());
    }

    #[test]
    fn globs_without_separator_cross_everything() {
        assert!(glob_match(b"utm_*", b"utm_source", None));
        assert!(!glob_match(b"utm_*", b"xutm_source", None));
        assert!(glob_match(b"*", b"", None));
    }

    #[test]
    fn the_first_matching_route_wins() {
        let config = Config::from_json(
            r#"{"routes": [
                {"path": "/api/**", "host": "api.example.com", "bypass": true},
                {"path": "/api/**", "ttl": 5},
                {"path": "/**", "ttl": 50}
            ]}"#,
        )
        .unwrap();
        assert!(
            config
                .route_for("api.example.com", "/api/x")
                .unwrap()
                .bypass
        );
        assert_eq!(
            config.route_for("example.com", "/api/x").unwrap().ttl,
            Some(5)
        );
        assert_eq!(config.route_for("example.com", "/").unwrap().ttl, Some(50));
        let none = Config::from_json(r#"{"routes": [{"path": "/a"}]}"#).unwrap();
        assert!(none.route_for("example.com", "/b").is_none());
    }

    fn routing_of(config: &Config, url: &str) -> (bool, bool, Option<String>) {
        let target = Target::of(
            &url::Url::parse(url).unwrap(),
            config.case_insensitive_paths,
        );
        let routing = config.routing(&target);
        (
            routing.bypass,
            routing.overrides,
            routing.route.map(|r| r.path.as_str().to_string()),
        )
    }

    #[test]
    fn no_spelling_of_a_path_escapes_a_bypass_rule() {
        let config = Config::from_json(
            r#"{"routes": [{"path": "/api/**", "bypass": true}, {"path": "/**", "ttl": 600}]}"#,
        )
        .unwrap();
        for url in [
            "https://a.test/api/me",
            "https://a.test/API/me",
            "https://a.test/%61pi/me",
            "https://a.test//api/me",
            "https://a.test/x/..%2fapi/me",
            "https://a.test/x/..;/api/me",
            "https://a.test/api;x/me",
            "https://a.test/Api%2Fme",
        ] {
            assert!(routing_of(&config, url).0, "{url} escaped the bypass");
        }
        assert!(!routing_of(&config, "https://a.test/apiary").0);
    }

    #[test]
    fn an_ambiguous_path_gets_no_lifetime_override() {
        let config = Config::from_json(
            r#"{"routes": [{"path": "/static/**", "ttl": 86400}, {"path": "/*.css", "ttl": 600}]}"#,
        )
        .unwrap();
        assert_eq!(
            routing_of(&config, "https://a.test/static/app.css"),
            (false, true, Some("/static/**".into()))
        );
        for url in [
            "https://a.test/static/..%2faccount",
            "https://a.test/static/..;/account",
            "https://a.test/account;.css",
        ] {
            let (bypass, overrides, _) = routing_of(&config, url);
            assert!(!bypass && !overrides, "{url}");
        }
    }

    #[test]
    fn a_trailing_dot_does_not_escape_a_host_rule() {
        let config = Config::from_json(
            r#"{"routes": [{"path": "/**", "host": "api.example.com", "bypass": true}]}"#,
        )
        .unwrap();
        assert!(routing_of(&config, "https://api.example.com./x").0);
        assert!(routing_of(&config, "https://API.example.com/x").0);
    }

    #[test]
    fn case_insensitive_paths_match_any_case() {
        let config = Config::from_json(
            r#"{"case_insensitive_paths": true, "routes": [{"path": "/static/**", "ttl": 60}]}"#,
        )
        .unwrap();
        assert_eq!(
            routing_of(&config, "https://a.test/STATIC/App.css")
                .2
                .as_deref(),
            Some("/static/**")
        );
    }
}
