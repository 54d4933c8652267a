//! What an ESI include may fetch, and what of the client's request its fetch carries.
//!
//! Markup is not trusted: an origin that reflects input into a page lets anyone add includes
//! to it, in the page's text, a comment or a script string alike. So configuration alone
//! decides, and markup can only ask for less:
//!
//! - An include is fetched only on the template's own site, never on the admin path, and
//!   never when its path could be read by an origin as another path (an encoded `/` or `\`,
//!   a `;`, an empty segment).
//! - A template's route may list the paths its includes may name (`esi_includes`); an
//!   include outside the list fails.
//! - A fragment's request carries the client's cookies and headers that the fragment's own
//!   route keys on (`vary_cookies`, `vary_headers`), and only when the template's route lists
//!   the fragment in `esi_includes`. Otherwise it carries nothing of the client's: no cookie,
//!   no `Authorization`, no API key. An include's `vary-cookies`/`vary-headers` may narrow
//!   that set; a name they add that is not in it is ignored, and reported.

use url::Url;

use crate::config::Config;
use crate::esi::template::Include;
use crate::request::plan::KeyedOn;
use crate::request::target::Target;

/// An include that may be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub url: Url,
    /// The client's headers and cookies the fragment's request carries, out of those its
    /// route keys on.
    pub keyed_on: KeyedOn,
    /// What the include's attributes asked for beyond that, ignored: `vary-cookies "session"`.
    pub ignored: Vec<String>,
}

/// Whether `src`, named by `include` in the template at `template`, may be fetched, and with
/// what of the client's request. The error says why not.
pub fn admit(
    config: &Config,
    template: &Url,
    src: &str,
    include: &Include,
) -> Result<Admitted, String> {
    let url = template
        .join(src)
        .map_err(|e| format!("src {src:?} is not a URL: {e}"))?;
    if url.origin() != template.origin() {
        return Err(format!("src {src:?} is on another site"));
    }
    // Routing, listing and granting all read the canonical path, as keys do.
    let fragment = Target::of(&url, config.case_insensitive_paths);
    if crate::admin::path::reach(config, &fragment) != crate::admin::path::AdminReach::Outside {
        return Err(format!("src {src:?} is edgecache's admin path"));
    }
    if fragment.ambiguous {
        return Err(format!(
            "src {src:?} has an encoded '/', '\\' or '%', a ';' or an empty segment in its path, which an origin could read as another path"
        ));
    }
    let page = Target::of(template, config.case_insensitive_paths);
    let listed = match config
        .route_for(&page.host, &page.path)
        .and_then(|r| r.esi_includes.as_ref().map(|list| (r, list)))
    {
        None => false,
        Some((route, list)) => {
            if !list.iter().any(|p| p.matches(&fragment.path)) {
                return Err(format!(
                    "src {src:?} is not in the esi_includes of the page's route {:?}",
                    route.path.as_str()
                ));
            }
            true
        }
    };
    let granted = if listed {
        KeyedOn::of(config.route_for(&fragment.host, &fragment.path), None)
    } else {
        KeyedOn::default()
    };
    let (headers, mut ignored) = narrow(
        &granted.headers,
        include.vary_headers.as_deref(),
        "vary-headers",
    );
    let (cookies, ignored_cookies) = narrow(
        &granted.cookies,
        include.vary_cookies.as_deref(),
        "vary-cookies",
    );
    ignored.extend(ignored_cookies);
    Ok(Admitted {
        url,
        keyed_on: KeyedOn { headers, cookies },
        ignored,
    })
}

/// `granted`, or those of `asked` that are in it; and the others, as the log names them
/// (`vary-cookies "token"`).
fn narrow(
    granted: &[String],
    asked: Option<&[String]>,
    attribute: &str,
) -> (Vec<String>, Vec<String>) {
    let Some(asked) = asked else {
        return (granted.to_vec(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut ignored = Vec::new();
    for name in asked {
        if granted.contains(name) {
            kept.push(name.clone());
        } else {
            // Markup may be anyone's: a name is logged at most 64 characters long.
            let shown: String = name.chars().take(64).collect();
            ignored.push(format!("{attribute} {shown:?}"));
        }
    }
    (kept, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"routes": [
        {"path": "/pages/**", "esi": true, "esi_includes": ["/fragments/**"]},
        {"path": "/open/**", "esi": true},
        {"path": "/fragments/user", "vary_cookies": ["session", "lang"], "vary_headers": ["Accept-Language"]},
        {"path": "/fragments/**"},
        {"path": "/account", "vary_cookies": ["session"], "vary_headers": ["Authorization", "X-Api-Key"]}
    ]}"#;

    fn config() -> Config {
        Config::from_json(CONFIG).unwrap()
    }

    fn include(attributes: &str) -> Include {
        let doc = format!("<esi:include src=\"/x\" {attributes}/>");
        match crate::esi::template::parse(doc.as_bytes()).parts.remove(0) {
            crate::esi::template::Part::Include(include) => include,
            other => panic!("not an include: {other:?}"),
        }
    }

    fn admit_on(page: &str, src: &str, attributes: &str) -> Result<Admitted, String> {
        let page = Url::parse(&format!("https://site.test{page}")).unwrap();
        admit(&config(), &page, src, &include(attributes))
    }

    fn keyed(headers: &[&str], cookies: &[&str]) -> KeyedOn {
        KeyedOn {
            headers: headers.iter().map(|s| s.to_string()).collect(),
            cookies: cookies.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_listed_fragment_carries_what_its_route_keys_on() {
        let admitted = admit_on("/pages/home", "/fragments/user", "").unwrap();
        assert_eq!(admitted.url.as_str(), "https://site.test/fragments/user");
        assert_eq!(
            admitted.keyed_on,
            keyed(&["accept-language"], &["session", "lang"])
        );
        assert!(admitted.ignored.is_empty());
    }

    #[test]
    fn markup_narrows_the_grant_and_cannot_widen_it() {
        let admitted = admit_on(
            "/pages/home",
            "/fragments/user",
            r#"vary-cookies="lang token" vary-headers="authorization""#,
        )
        .unwrap();
        assert_eq!(admitted.keyed_on, keyed(&[], &["lang"]));
        assert_eq!(
            admitted.ignored,
            ["vary-headers \"authorization\"", "vary-cookies \"token\""]
        );
    }

    #[test]
    fn an_unkeyed_fragment_carries_nothing_whatever_its_markup_asks() {
        let admitted = admit_on(
            "/pages/home",
            "/fragments/nav",
            r#"vary-cookies="session" vary-headers="authorization, x-api-key""#,
        )
        .unwrap();
        assert!(admitted.keyed_on.is_empty());
        assert_eq!(admitted.ignored.len(), 3);
        let long = format!("vary-cookies=\"{}\"", "n".repeat(1000));
        let admitted = admit_on("/pages/home", "/fragments/nav", &long).unwrap();
        assert_eq!(
            admitted.ignored,
            [format!("vary-cookies {:?}", "n".repeat(64))]
        );
    }

    #[test]
    fn an_include_outside_esi_includes_fails() {
        let refused = admit_on(
            "/pages/home",
            "/account",
            r#"vary-cookies="session" vary-headers="authorization""#,
        );
        assert_eq!(
            refused,
            Err(
                "src \"/account\" is not in the esi_includes of the page's route \"/pages/**\""
                    .into()
            )
        );
        assert!(admit_on("/pages/home", "/fragments/../account", "").is_err());
        assert!(admit_on("/pages/home", "/fragments/%2e%2e/account", "").is_err());
    }

    #[test]
    fn without_esi_includes_any_path_is_fetched_with_nothing_of_the_client() {
        // The page's route lists nothing: even a fragment route that keys on the session
        // gets no cookie, so an injected include of it learns nothing.
        let admitted = admit_on(
            "/open/page",
            "/account",
            r#"vary-cookies="session" vary-headers="authorization""#,
        )
        .unwrap();
        assert!(admitted.keyed_on.is_empty());
        assert_eq!(admitted.ignored.len(), 2);
        let no_route = Url::parse("https://site.test/elsewhere").unwrap();
        let admitted = admit(&config(), &no_route, "/fragments/user", &include("")).unwrap();
        assert!(admitted.keyed_on.is_empty(), "a template with no route");
    }

    #[test]
    fn other_sites_the_admin_path_and_ambiguous_paths_are_refused() {
        let refused = |src: &str| admit_on("/pages/home", src, "").unwrap_err();
        assert!(refused("https://evil.test/fragments/x").contains("another site"));
        assert!(refused("//evil.test/fragments/x").contains("another site"));
        assert!(refused("http://site.test/fragments/x").contains("another site"));
        assert!(refused("/_edgecache/stats").contains("admin path"));
        for src in [
            "/fragments/..%2faccount",
            "/fragments/..%2Faccount",
            "/fragments/..%5caccount",
            "/fragments/user;.css",
            "/fragments//user",
        ] {
            assert!(
                refused(src).contains("could read as another path"),
                "{src}: {}",
                refused(src)
            );
        }
        assert!(
            admit_on("/pages/home", "/fragments/user?a=%2f;b", "").is_ok(),
            "the query is not the path"
        );
        assert!(
            admit_on("/pages/home", r"/fragments\user", "").is_ok(),
            "a '\\' is a '/' in an http URL"
        );
    }
}
