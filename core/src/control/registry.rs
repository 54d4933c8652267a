//! Invalidation that reaches every backend and every location: a registry of purges.
//!
//! The Cache API can only delete in the data center it runs in, the memory tier only in its
//! own isolate, and KV cannot be listed cheaply, so purges are not carried out by finding
//! entries. Instead every purge is recorded (in KV, cached briefly in each isolate) with its
//! time, and every entry is checked on read against the records that match it: an entry
//! stored before a matching purge is gone (or, for a soft purge, stale). Purging everything
//! is one number, `floor`, so it is O(1) whatever the cache holds.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::check_tag;
use crate::http::Fields;

/// Format of the stored registry; another version reads as empty.
pub const REGISTRY_FORMAT: u32 = 1;
/// Records kept; beyond this the oldest are folded into `floor`, which over-invalidates
/// (entries older than them become misses) but never under-invalidates.
pub const MAX_RECORDS: usize = 1000;
/// Items one purge request may name.
pub const MAX_ITEMS: usize = 100;
/// Tags one entry may carry.
pub const MAX_TAGS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum PurgeTarget {
    /// A normalised URL (`scheme://host/path?query`): every variant of it.
    Url(String),
    /// A URL prefix (`https://example.com/blog/`), or a path prefix on any host (`/blog/`).
    Prefix(String),
    Tag(String),
}

impl PurgeTarget {
    fn matches(&self, url: &str, tags: &[String], route_tags: &[String]) -> bool {
        match self {
            PurgeTarget::Url(target) => url == target,
            PurgeTarget::Prefix(prefix) if prefix.starts_with('/') => {
                path_of(url).starts_with(prefix.as_str())
            }
            PurgeTarget::Prefix(prefix) => url.starts_with(prefix.as_str()),
            PurgeTarget::Tag(tag) => tags.iter().chain(route_tags).any(|t| t == tag),
        }
    }
}

/// The path and query of `scheme://host/path?query`.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or("", |i| &url[after_scheme + i..])
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub target: PurgeTarget,
    /// When the purge was made, milliseconds since the epoch.
    pub at: i64,
    /// Soft: matching entries become stale (served once more while one refresh runs).
    #[serde(default)]
    pub soft: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub v: u32,
    /// Entries stored at or before this are purged: purge-everything, and pruned records.
    #[serde(default)]
    pub floor: i64,
    /// Entries stored at or before this are stale: soft purge-everything.
    #[serde(default)]
    pub soft_floor: i64,
    #[serde(default)]
    pub records: Vec<Record>,
    /// The control plane's sequence number of the last purge recorded (0: none yet).
    #[serde(default)]
    pub seq: u64,
    /// Not a registry but the lack of one: the control plane could not be asked for longer
    /// than the grace allows, so every entry's standing is unknown.
    #[serde(skip)]
    pub unknown: bool,
}

/// Where a stored entry stands against the purges made since it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Valid,
    /// Soft-purged: usable only as a stale response while it is refreshed.
    Stale,
    Purged,
    /// No registry is known: a purge may have been made that this isolate has not heard of.
    Unknown,
}

impl Registry {
    /// Parses a stored registry; anything unreadable or of another format is empty.
    pub fn parse(text: &str) -> Registry {
        serde_json::from_str::<Registry>(text)
            .ok()
            .filter(|r| r.v == REGISTRY_FORMAT)
            .unwrap_or_else(|| Registry {
                v: REGISTRY_FORMAT,
                ..Registry::default()
            })
    }

    /// The registry of an isolate that cannot tell which purges were made.
    pub fn unknown() -> Registry {
        Registry {
            v: REGISTRY_FORMAT,
            unknown: true,
            ..Registry::default()
        }
    }

    /// An entry for `url` with `tags`, stored at `stored_at` (ms).
    pub fn standing(&self, url: &str, tags: &[String], stored_at: i64) -> Standing {
        self.standing_under(url, tags, &[], stored_at)
    }

    /// An entry for `url` with `tags`, stored at `stored_at` (ms), under a route whose `tags`
    /// are now `route_tags`: a tag purge reaches it by the tags it was stored with and by the
    /// ones its route gives it today, so a `tags` list added to a route after an entry was
    /// stored still reaches that entry.
    pub fn standing_under(
        &self,
        url: &str,
        tags: &[String],
        route_tags: &[String],
        stored_at: i64,
    ) -> Standing {
        if self.unknown {
            return Standing::Unknown;
        }
        if stored_at <= self.floor {
            return Standing::Purged;
        }
        let mut standing = if stored_at <= self.soft_floor {
            Standing::Stale
        } else {
            Standing::Valid
        };
        for record in &self.records {
            if record.at >= stored_at && record.target.matches(url, tags, route_tags) {
                if !record.soft {
                    return Standing::Purged;
                }
                standing = Standing::Stale;
            }
        }
        standing
    }

    /// Records a purge made at `at`.
    pub fn add(&mut self, request: &PurgeRequest, at: i64) {
        self.v = REGISTRY_FORMAT;
        if request.all {
            if request.soft {
                self.soft_floor = self.soft_floor.max(at);
            } else {
                self.floor = self.floor.max(at);
                // Everything older is gone: its records no longer matter.
                self.records.retain(|r| r.at > at);
            }
        }
        let soft = request.soft;
        let targets = request
            .urls
            .iter()
            .cloned()
            .map(PurgeTarget::Url)
            .chain(request.prefixes.iter().cloned().map(PurgeTarget::Prefix))
            .chain(request.tags.iter().cloned().map(PurgeTarget::Tag));
        self.records
            .extend(targets.map(|target| Record { target, at, soft }));
        if self.records.len() > MAX_RECORDS {
            self.records.sort_by_key(|r| r.at);
            let excess = self.records.len() - MAX_RECORDS;
            let newest_dropped = self.records[excess - 1].at;
            self.records.drain(..excess);
            self.floor = self.floor.max(newest_dropped);
        }
    }
}

/// `POST /_edgecache/purge`'s body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub prefixes: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub soft: bool,
}

impl PurgeRequest {
    /// Parses and checks a purge request; the error names the problem for a 400.
    pub fn parse(body: &str) -> Result<PurgeRequest, String> {
        let request: PurgeRequest = serde_json::from_str(body)
            .map_err(|e| format!("the body is not a purge request: {e}"))?;
        if request.urls.is_empty()
            && request.prefixes.is_empty()
            && request.tags.is_empty()
            && !request.all
        {
            return Err("nothing to purge: give urls, prefixes, tags or all".into());
        }
        for (name, list) in [
            ("urls", &request.urls),
            ("prefixes", &request.prefixes),
            ("tags", &request.tags),
        ] {
            if list.len() > MAX_ITEMS {
                return Err(format!("{name}: at most {MAX_ITEMS} items per request"));
            }
        }
        for url in &request.urls {
            check_url(url).map_err(|e| format!("urls: {e}"))?;
        }
        for prefix in &request.prefixes {
            if !prefix.starts_with('/') {
                check_url(prefix).map_err(|e| format!("prefixes: {e}"))?;
            } else if prefix.len() > 2048 || prefix.chars().any(char::is_control) {
                return Err(format!("prefixes: {prefix:?} is not a path prefix"));
            }
        }
        for tag in &request.tags {
            check_tag(tag).map_err(|e| format!("tags: {e}"))?;
        }
        Ok(request)
    }
}

fn check_url(url: &str) -> Result<(), String> {
    if url.len() > 2048 {
        return Err("a URL is longer than 2048 bytes".into());
    }
    match Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() =>
        {
            Ok(())
        }
        _ => Err(format!("{url:?} is not an absolute http(s) URL")),
    }
}

/// The tags of a response: `Cache-Tag` (comma-separated), `Surrogate-Key` (space-separated)
/// and the route's, deduplicated; invalid ones are dropped, at most `MAX_TAGS` kept.
pub fn response_tags(response: &(impl Fields + ?Sized), route_tags: &[String]) -> Vec<String> {
    let from_cache_tag = response.field("cache-tag").unwrap_or_default();
    let from_surrogate_key = response.field("surrogate-key").unwrap_or_default();
    let mut tags: Vec<String> = route_tags.to_vec();
    let candidates = from_cache_tag
        .split(',')
        .chain(from_surrogate_key.split([' ', ',']))
        .map(str::trim)
        .filter(|t| !t.is_empty() && check_tag(t).is_ok());
    for tag in candidates {
        if tags.len() >= MAX_TAGS {
            break;
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    tags
}

/// Response fields that carry tags: stripped from what clients see unless configured.
pub const TAG_FIELDS: &[&str] = &["cache-tag", "surrogate-key"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::field_list;

    fn purge(json: &str) -> PurgeRequest {
        PurgeRequest::parse(json).unwrap()
    }

    const URL: &str = "https://example.com/blog/post?page=2";

    #[test]
    fn an_entry_stored_before_a_matching_purge_is_gone() {
        let mut registry = Registry::default();
        registry.add(
            &purge(r#"{"urls": ["https://example.com/blog/post?page=2"]}"#),
            1000,
        );
        assert_eq!(registry.standing(URL, &[], 999), Standing::Purged);
        assert_eq!(
            registry.standing(URL, &[], 1001),
            Standing::Valid,
            "stored after the purge"
        );
        assert_eq!(
            registry.standing("https://example.com/other", &[], 999),
            Standing::Valid
        );
    }

    #[test]
    fn prefixes_match_urls_or_paths_on_any_host() {
        let mut registry = Registry::default();
        registry.add(
            &purge(r#"{"prefixes": ["https://example.com/blog/", "/shop/"]}"#),
            1000,
        );
        assert_eq!(registry.standing(URL, &[], 1), Standing::Purged);
        assert_eq!(
            registry.standing("http://example.com/blog/x", &[], 1),
            Standing::Valid,
            "another scheme"
        );
        assert_eq!(
            registry.standing("https://other.test/shop/cart", &[], 1),
            Standing::Purged
        );
        assert_eq!(
            registry.standing("https://other.test/shopping", &[], 1),
            Standing::Valid
        );
    }

    #[test]
    fn a_tag_purge_reaches_entries_their_route_tags_now() {
        let mut registry = Registry::default();
        registry.add(&purge(r#"{"tags": ["blog"]}"#), 1000);
        let route_tags = ["blog".to_string()];
        assert_eq!(
            registry.standing_under(URL, &[], &route_tags, 999),
            Standing::Purged,
            "stored before the route had the tag, purged after"
        );
        assert_eq!(
            registry.standing_under(URL, &[], &route_tags, 1001),
            Standing::Valid,
            "stored after the purge"
        );
        assert_eq!(
            registry.standing_under(URL, &[], &["shop".to_string()], 999),
            Standing::Valid
        );
        assert_eq!(registry.standing(URL, &[], 999), Standing::Valid);
    }

    #[test]
    fn tags_match_entries_that_carry_them() {
        let mut registry = Registry::default();
        registry.add(&purge(r#"{"tags": ["product-42"]}"#), 1000);
        assert_eq!(
            registry.standing(URL, &["product-42".into()], 1),
            Standing::Purged
        );
        assert_eq!(
            registry.standing(URL, &["product-4".into()], 1),
            Standing::Valid
        );
    }

    #[test]
    fn soft_purges_make_entries_stale_and_hard_purges_win() {
        let mut registry = Registry::default();
        registry.add(&purge(r#"{"tags": ["t"], "soft": true}"#), 1000);
        assert_eq!(registry.standing(URL, &["t".into()], 1), Standing::Stale);
        registry.add(
            &purge(r#"{"urls": ["https://example.com/blog/post?page=2"]}"#),
            2000,
        );
        assert_eq!(registry.standing(URL, &["t".into()], 1), Standing::Purged);
    }

    #[test]
    fn purging_everything_is_one_number() {
        let mut registry = Registry::default();
        registry.add(&purge(r#"{"tags": ["t"]}"#), 500);
        registry.add(&purge(r#"{"all": true}"#), 1000);
        assert_eq!(registry.floor, 1000);
        assert!(
            registry.records.is_empty(),
            "older records are folded into the floor"
        );
        assert_eq!(
            registry.standing("https://any.test/", &[], 1000),
            Standing::Purged
        );
        assert_eq!(
            registry.standing("https://any.test/", &[], 1001),
            Standing::Valid
        );
        registry.add(&purge(r#"{"all": true, "soft": true}"#), 2000);
        assert_eq!(
            registry.standing("https://any.test/", &[], 1500),
            Standing::Stale
        );
    }

    #[test]
    fn old_records_are_folded_into_the_floor_past_the_limit() {
        let mut registry = Registry::default();
        for i in 0..(MAX_RECORDS as i64 + 10) {
            registry.add(&purge(&format!(r#"{{"tags": ["t{i}"]}}"#)), i + 1);
        }
        assert_eq!(registry.records.len(), MAX_RECORDS);
        assert_eq!(registry.floor, 10);
        assert_eq!(
            registry.standing(URL, &[], 5),
            Standing::Purged,
            "over-invalidates, never under"
        );
    }

    #[test]
    fn an_unknown_registry_knows_no_entry_standing() {
        let registry = Registry::unknown();
        assert_eq!(registry.standing(URL, &[], i64::MAX), Standing::Unknown);
        assert!(
            !Registry::parse(&serde_json::to_string(&registry).unwrap()).unknown,
            "the flag is never stored"
        );
    }

    #[test]
    fn unreadable_registries_are_empty() {
        assert_eq!(Registry::parse("not json").records.len(), 0);
        assert_eq!(Registry::parse(r#"{"v": 99, "floor": 5}"#).floor, 0);
        let mut registry = Registry::default();
        registry.add(&purge(r#"{"tags": ["a"]}"#), 7);
        assert_eq!(
            Registry::parse(&serde_json::to_string(&registry).unwrap()),
            registry
        );
    }

    #[test]
    fn bad_purge_requests_are_named() {
        let error = |json: &str| PurgeRequest::parse(json).unwrap_err();
        assert!(error("{").starts_with("the body is not a purge request"));
        assert!(error(r#"{"url": ["x"]}"#).contains("unknown field `url`"));
        assert_eq!(
            error("{}"),
            "nothing to purge: give urls, prefixes, tags or all"
        );
        assert_eq!(
            error(r#"{"urls": ["/relative"]}"#),
            "urls: \"/relative\" is not an absolute http(s) URL"
        );
        assert!(error(r#"{"tags": ["a b"]}"#).starts_with("tags: tag \"a b\""));
        assert!(error(r#"{"tags": ["\u0001"]}"#).starts_with("tags:"));
        let many = format!(r#"{{"tags": [{}]}}"#, vec!["\"t\""; 101].join(","));
        assert_eq!(error(&many), "tags: at most 100 items per request");
        assert!(error(r#"{"prefixes": ["ftp://x/"]}"#).starts_with("prefixes:"));
    }

    #[test]
    fn response_tags_come_from_headers_and_the_route() {
        let fields = field_list(&[("cache-tag", "a, b,,bad tag"), ("surrogate-key", "c a  d")]);
        assert_eq!(
            response_tags(&fields, &["route".into()]),
            vec!["route", "a", "b", "c", "d"]
        );
        let many: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let fields = field_list(&[("cache-tag", &many.join(","))]);
        assert_eq!(response_tags(&fields, &[]).len(), MAX_TAGS);
    }
}
