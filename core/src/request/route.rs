//! Routing: which rule of the configuration applies to a request (patterns in `glob`).
//!
//! Matching compares against the canonical path (`Target`: unreserved characters decoded,
//! other escapes upper-case, dot segments removed), so `/a%2Fb` never matches a rule written
//! for `/a/b`; `Config::routing` also makes sure that no reading of an ambiguous path an
//! origin could make escapes a bypass rule.

use crate::config::{Config, Route};
use crate::request::target::Target;

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
            bypass_cookies: self.bypass_cookies_of(route),
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
    /// The route's `bypass_cookies`, or the top level's (see `Config::bypass_cookie`).
    pub bypass_cookies: &'a [String],
    /// The route's `ttl` and the `ttl_by_status` rules may apply.
    pub overrides: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

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
