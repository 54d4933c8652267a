//! Which requests reach the admin API: matched on the canonical path routing reads
//! (`request::target`), so that no spelling of the admin path is forwarded to the origin.
//!
//! `/%5Fedgecache/stats` is `/_edgecache/stats` (RFC 3986 §6.2.2.2: `_` is unreserved) and is
//! the admin API. A path an origin could read as the admin path in another way (`//_edgecache`,
//! `/_edgecache;x/stats`, `/_edgecache%2Fstats`, `/_EDGECACHE/stats` without
//! `case_insensitive_paths`) is refused: forwarded, it would carry whatever the client meant
//! for the admin API, a token included, to the origin.

use crate::config::Config;
use crate::request::target::{canonical_prefix, Target};

/// Where a request's path stands with respect to the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminReach {
    /// Neither the admin path nor a reading of it.
    Outside,
    /// The admin path or below it, canonically.
    Admin,
    /// Not the admin path canonically, but an origin could read it as the admin path.
    OtherSpelling,
}

/// Where `target`'s path stands with respect to `config.admin_path`.
pub fn reach(config: &Config, target: &Target) -> AdminReach {
    let admin = canonical_prefix(&config.admin_path, config.case_insensitive_paths);
    let under = |path: &str, admin: &str| {
        path.strip_prefix(admin)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under(&target.path, &admin) {
        return AdminReach::Admin;
    }
    let lower = admin.to_ascii_lowercase();
    let spelled_otherwise = target
        .readings()
        .iter()
        .any(|reading| under(reading, &admin) || under(&reading.to_ascii_lowercase(), &lower));
    if spelled_otherwise {
        AdminReach::OtherSpelling
    } else {
        AdminReach::Outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn reach_of(path: &str, case_insensitive_paths: bool) -> AdminReach {
        let config = Config {
            case_insensitive_paths,
            ..Config::default()
        };
        let url = Url::parse(&format!("https://example.com{path}")).unwrap();
        reach(&config, &Target::of(&url, case_insensitive_paths))
    }

    #[test]
    fn an_escaped_unreserved_character_still_spells_the_admin_path() {
        assert_eq!(reach_of("/%5Fedgecache/stats", false), AdminReach::Admin);
        assert_eq!(reach_of("/_edgecache/%73tats", false), AdminReach::Admin);
        assert_eq!(
            reach_of("/x/%2E%2E/_edgecache/stats", false),
            AdminReach::Admin
        );
        assert_eq!(reach_of("/_edgecache", false), AdminReach::Admin);
    }

    #[test]
    fn readings_of_the_admin_path_are_refused_not_forwarded() {
        for path in [
            "//_edgecache/stats",
            "/_edgecache;x/stats",
            "/%2F_edgecache/stats",
            "/_edgecache%2Fstats",
            "/_EDGECACHE/stats",
            "/_EdgeCache",
            "/_edgecache./stats",
        ] {
            assert_eq!(reach_of(path, false), AdminReach::OtherSpelling, "{path}");
        }
    }

    #[test]
    fn with_case_insensitive_paths_another_case_is_the_admin_api() {
        assert_eq!(reach_of("/_EDGECACHE/stats", true), AdminReach::Admin);
        assert_eq!(reach_of("/%5FEdgeCache/stats", true), AdminReach::Admin);
    }

    #[test]
    fn other_paths_are_outside() {
        for path in ["/", "/_edgecachex/stats", "/blog/_edgecache", "/api;x/me"] {
            assert_eq!(reach_of(path, false), AdminReach::Outside, "{path}");
        }
    }
}
