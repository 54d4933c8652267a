//! `bypass_cookies`: a request carrying any of the named cookies (a session, a login) is passed
//! to the origin as the client sent it, and its answer is neither served from nor stored in
//! the cache.
//!
//! The check errs on the side of passing: a request is passed whenever some origin could read
//! one of its cookies as a named one. `Cookie` is split on `;` and on `,` (two `Cookie` fields
//! joined, or a client's odd spelling); a piece without `=` counts as a name (some origins read
//! it so); names are trimmed, unquoted and percent-decoded, compared without ASCII case (an
//! origin such as ASP.NET reads `SessionID` as `sessionid`; Django does not, and then the
//! request is merely passed), and `.`, space and `[` count as `_` (as PHP reads names). A
//! route's list replaces the top-level one (`bypass_cookies = []` on a route turns it off
//! there), and the lists of the routes of every reading of an ambiguous path apply
//! (`Target::readings`), as bypass rules do.

use crate::config::{Config, Route};
use crate::request::route::Routing;
use crate::request::target::Target;

/// A cookie name in the form `bypass_cookies` are compared in: percent-decoded, trimmed and
/// unquoted, ASCII lower-case, with `.`, space and `[` as `_`.
pub fn cookie_name_form(name: &str) -> String {
    let decoded: Vec<u8> = percent_decode(name.as_bytes());
    let decoded = String::from_utf8_lossy(&decoded);
    let trimmed = decoded.trim().trim_matches('"').trim();
    trimmed
        .chars()
        .map(|c| match c {
            '.' | ' ' | '[' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The names (in `cookie_name_form`) an origin could read in a `Cookie` field.
pub fn cookie_names(cookie_header: &str) -> impl Iterator<Item = String> + '_ {
    cookie_header
        .split([';', ','])
        .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
        .map(cookie_name_form)
        .filter(|name| !name.is_empty())
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

impl Config {
    /// The named cookie (in `cookie_name_form`) that passes this request, if any: one of its
    /// cookies is named in the `bypass_cookies` of its route (or the top level's, for a route
    /// without its own), or of the route of any reading of its path.
    pub fn bypass_cookie(
        &self,
        target: &Target,
        routing: &Routing,
        cookie_header: Option<&str>,
    ) -> Option<String> {
        let header = cookie_header.filter(|h| !h.is_empty())?;
        if !self.any_bypass_cookies {
            return None;
        }
        let readings = target.readings();
        let lists: Vec<&[String]> = std::iter::once(routing.bypass_cookies)
            .chain(
                readings
                    .iter()
                    .map(|path| self.bypass_cookies_of(self.route_for(&target.host, path))),
            )
            .filter(|list| !list.is_empty())
            .collect();
        if lists.is_empty() {
            return None;
        }
        cookie_names(header).find(|name| lists.iter().any(|list| list.contains(name)))
    }

    /// The `bypass_cookies` that apply on `route`: its own, or else the top level's.
    pub fn bypass_cookies_of<'a>(&'a self, route: Option<&'a Route>) -> &'a [String] {
        route
            .and_then(|r| r.bypass_cookies.as_deref())
            .unwrap_or(&self.bypass_cookies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed_by(config: &str, url: &str, cookie: &str) -> Option<String> {
        let config = Config::from_json(config).unwrap();
        let target = Target::of(
            &url::Url::parse(url).unwrap(),
            config.case_insensitive_paths,
        );
        let routing = config.routing(&target);
        config.bypass_cookie(&target, &routing, Some(cookie))
    }

    const SITE: &str = r#"{"bypass_cookies": ["sessionid"], "routes": [
        {"path": "/static/**", "bypass_cookies": []},
        {"path": "/shop/**", "bypass_cookies": ["cart"]},
        {"path": "/**", "ttl": 600}
    ]}"#;

    #[test]
    fn a_named_cookie_passes_the_request_however_it_is_spelled() {
        for cookie in [
            "sessionid=abc",
            "a=1; sessionid=abc",
            "a=1;sessionid=abc;b=2",
            "  sessionid  =abc",
            "a=1, sessionid=abc",
            "a=1,sessionid=abc",
            "SessionID=abc",
            "SESSIONID=abc",
            "session%69d=abc",
            "\"sessionid\"=abc",
            "sessionid",
            "sessionid=",
            "a=1; a=2; sessionid=x; sessionid=y",
            "\tsessionid=abc",
        ] {
            assert_eq!(
                passed_by(SITE, "https://a.test/page", cookie).as_deref(),
                Some("sessionid"),
                "{cookie:?} was not passed"
            );
        }
    }

    #[test]
    fn other_cookies_and_names_that_merely_contain_it_are_not_passed() {
        for cookie in [
            "",
            "csrftoken=abc",
            "sessionid_old=abc",
            "xsessionid=abc",
            "a=sessionid",
            "a=1; b=sessionid=2",
        ] {
            assert_eq!(
                passed_by(SITE, "https://a.test/page", cookie),
                None,
                "{cookie:?} was passed"
            );
        }
    }

    #[test]
    fn a_route_list_replaces_the_top_level_one() {
        assert_eq!(
            passed_by(SITE, "https://a.test/static/app.css", "sessionid=abc"),
            None
        );
        assert_eq!(
            passed_by(SITE, "https://a.test/shop/basket", "sessionid=abc"),
            None
        );
        assert_eq!(
            passed_by(SITE, "https://a.test/shop/basket", "cart=1").as_deref(),
            Some("cart")
        );
        assert_eq!(passed_by(SITE, "https://a.test/elsewhere", "cart=1"), None);
    }

    #[test]
    fn no_reading_of_the_path_escapes_a_route_list() {
        for url in [
            "https://a.test/static/..%2fpage",
            "https://a.test/static%2f..%2fpage",
            "https://a.test/static/..;/page",
        ] {
            assert_eq!(
                passed_by(SITE, url, "sessionid=1").as_deref(),
                Some("sessionid"),
                "{url}"
            );
        }
    }

    #[test]
    fn php_style_names_match_their_underscored_form() {
        let config = r#"{"bypass_cookies": ["wordpress_logged_in"]}"#;
        assert!(passed_by(config, "https://a.test/", "wordpress.logged_in=1").is_some());
        assert!(passed_by(config, "https://a.test/", "wordpress logged[in=1").is_some());
    }

    #[test]
    fn without_bypass_cookies_no_cookie_passes() {
        assert_eq!(passed_by("{}", "https://a.test/", "sessionid=1"), None);
    }
}
