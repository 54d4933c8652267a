//! An edgecache purge as the narrowest `ctx.cache.purge` calls Workers Cache offers. It
//! purges by tag, by path prefix or everything, in calls of at most 100 operations; it has no
//! purge by URL and no soft purge.
//!
//! - A URL becomes its own tag (`fields::url_tag`), which edgecache puts on every response it
//!   lets Workers Cache keep, so exactly that URL's responses go. Without `workers_cache`
//!   (edgecache sets no tags then) it becomes a prefix of its path, which also purges paths
//!   that extend it (`/post` purges `/post-2`); a URL of another site than `workers_cache`'s
//!   is not in Workers Cache and asks for nothing.
//! - A prefix becomes a path prefix: a path prefix as it is, a URL prefix as its path, cut
//!   before any query (Workers Cache matches paths). A URL prefix of another site asks for
//!   nothing.
//! - A tag stays a tag; everything is `purgeEverything`.
//! - A soft purge is a hard one there: the next request reaches edgecache, which serves its
//!   stale entry once while one refresh goes to the origin.

use crate::control::registry::PurgeRequest;
use crate::workers_cache::emit::{path_and_query, url_tag};

/// Cloudflare's purge API takes at most 100 operations (tags, prefixes) per request, on every
/// plan; `ctx.cache.purge` uses the same system.
pub const MAX_OPERATIONS: usize = 100;

/// The options of one `ctx.cache.purge` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeCall {
    pub tags: Vec<String>,
    pub path_prefixes: Vec<String>,
    pub purge_everything: bool,
}

/// Adds `item` to `list` unless it is there already: each tag or prefix is purged once.
fn push_once<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The calls that carry out `request` (its URLs as keys hold them, `scheme://host/path?query`,
/// and its prefixes canonical) in Workers Cache, `site` being `workers_cache`. Empty when
/// nothing of it can be there.
pub fn calls(request: &PurgeRequest, site: Option<&str>) -> Vec<PurgeCall> {
    if request.all {
        return vec![PurgeCall {
            purge_everything: true,
            ..PurgeCall::default()
        }];
    }
    let mut tags: Vec<String> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    for url in &request.urls {
        match site {
            Some(site) => {
                if let Some(path) = on_site(url, site) {
                    push_once(&mut tags, url_tag(path));
                }
            }
            None => push_once(&mut prefixes, path_only(path_and_query(url)).to_string()),
        }
    }
    for prefix in &request.prefixes {
        let path = if prefix.starts_with('/') {
            Some(prefix.as_str())
        } else {
            match site {
                Some(site) => on_site(prefix, site),
                None => Some(path_and_query(prefix)),
            }
        };
        if let Some(path) = path {
            push_once(&mut prefixes, path_only(path).to_string());
        }
    }
    for tag in &request.tags {
        push_once(&mut tags, tag.clone());
    }
    // Up to MAX_OPERATIONS per call, tags first.
    let operations: Vec<(bool, String)> = tags
        .into_iter()
        .map(|t| (true, t))
        .chain(prefixes.into_iter().map(|p| (false, p)))
        .collect();
    operations
        .chunks(MAX_OPERATIONS)
        .map(|chunk| {
            let mut call = PurgeCall::default();
            for (is_tag, item) in chunk {
                if *is_tag {
                    call.tags.push(item.clone());
                } else {
                    call.path_prefixes.push(item.clone());
                }
            }
            call
        })
        .collect()
}

/// The path and query of `url` when it is on `site` (`https://example.com`).
fn on_site<'u>(url: &'u str, site: &str) -> Option<&'u str> {
    let rest = url.strip_prefix(site)?;
    rest.starts_with('/').then_some(rest)
}

/// A path and query without the query.
fn path_only(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "https://example.com";

    fn request(json: &str) -> PurgeRequest {
        PurgeRequest::parse(json).expect("a valid purge request")
    }

    fn one(call: PurgeCall) -> Vec<PurgeCall> {
        vec![call]
    }

    #[test]
    fn a_url_becomes_its_own_tag_on_the_site_and_nothing_elsewhere() {
        let purge = request(
            r#"{"urls": ["https://example.com/blog/post?page=2", "https://other.example/blog/post", "http://example.com/x"]}"#,
        );
        assert_eq!(
            calls(&purge, Some(SITE)),
            one(PurgeCall {
                tags: vec![url_tag("/blog/post?page=2")],
                ..PurgeCall::default()
            })
        );
    }

    #[test]
    fn without_workers_cache_set_a_url_becomes_a_prefix_of_its_path() {
        let purge = request(
            r#"{"urls": ["https://example.com/blog/post?page=2", "https://example.com/blog/post"]}"#,
        );
        assert_eq!(
            calls(&purge, None),
            one(PurgeCall {
                path_prefixes: vec!["/blog/post".into()],
                ..PurgeCall::default()
            })
        );
    }

    #[test]
    fn prefixes_become_path_prefixes_cut_before_the_query() {
        let purge = request(
            r#"{"prefixes": ["/blog/", "https://example.com/shop/", "https://other.example/x/", "/search?q=", "https://example.com/"]}"#,
        );
        assert_eq!(
            calls(&purge, Some(SITE)),
            one(PurgeCall {
                path_prefixes: vec![
                    "/blog/".into(),
                    "/shop/".into(),
                    "/search".into(),
                    "/".into()
                ],
                ..PurgeCall::default()
            })
        );
        // Without a site every URL prefix counts.
        let other = request(r#"{"prefixes": ["https://other.example/x/"]}"#);
        assert_eq!(
            calls(&other, None)[0].path_prefixes,
            vec!["/x/".to_string()]
        );
    }

    #[test]
    fn tags_stay_tags_and_everything_is_one_call() {
        let purge = request(r#"{"tags": ["catalog", "product-42"], "prefixes": ["/a/"]}"#);
        assert_eq!(
            calls(&purge, Some(SITE)),
            one(PurgeCall {
                tags: vec!["catalog".into(), "product-42".into()],
                path_prefixes: vec!["/a/".into()],
                purge_everything: false,
            })
        );
        let all = request(r#"{"all": true, "tags": ["x"], "soft": true}"#);
        assert_eq!(
            calls(&all, Some(SITE)),
            one(PurgeCall {
                purge_everything: true,
                ..PurgeCall::default()
            }),
            "soft or not, Workers Cache purges for good"
        );
    }

    #[test]
    fn nothing_of_the_site_asks_for_nothing() {
        let purge = request(
            r#"{"urls": ["https://other.example/a"], "prefixes": ["https://other.example/"]}"#,
        );
        assert!(calls(&purge, Some(SITE)).is_empty());
    }

    #[test]
    fn calls_carry_at_most_100_operations() {
        let urls: Vec<String> = (0..100)
            .map(|i| format!("\"https://example.com/p{i}\""))
            .collect();
        let prefixes: Vec<String> = (0..100).map(|i| format!("\"/d{i}/\"")).collect();
        let tags: Vec<String> = (0..100).map(|i| format!("\"t{i}\"")).collect();
        let purge = request(&format!(
            r#"{{"urls": [{}], "prefixes": [{}], "tags": [{}]}}"#,
            urls.join(","),
            prefixes.join(","),
            tags.join(",")
        ));
        let made = calls(&purge, Some(SITE));
        assert_eq!(made.len(), 3);
        for call in &made {
            assert!(call.tags.len() + call.path_prefixes.len() <= MAX_OPERATIONS);
        }
        let total: usize = made
            .iter()
            .map(|c| c.tags.len() + c.path_prefixes.len())
            .sum();
        assert_eq!(total, 300);
    }
}
