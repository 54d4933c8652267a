//! Revalidating a stored response with the origin (RFC 9111 §4.3): the conditional request,
//! and folding a `304 Not Modified` into the stored response.

use super::{Fields, UNSTORED_FIELDS};

/// RFC 9111 §4.3.1: the validators of the stored response, as the conditional request's
/// fields: `If-None-Match` from `ETag`, `If-Modified-Since` from `Last-Modified`.
pub fn conditional_fields(stored: &(impl Fields + ?Sized)) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    if let Some(etag) = stored.field("etag") {
        fields.push(("if-none-match".to_string(), etag));
    }
    if let Some(modified) = stored.field("last-modified") {
        fields.push(("if-modified-since".to_string(), modified));
    }
    fields
}

/// RFC 9111 §4.3.4: a 304 updates the stored response whose strong validator it names. A
/// 304 with a strong `ETag` other than the stored one describes some other response, so the
/// stored one must not be refreshed by it.
pub fn names_other_response(
    stored: &(impl Fields + ?Sized),
    update: &(impl Fields + ?Sized),
) -> bool {
    match (stored.field("etag"), update.field("etag")) {
        (Some(stored), Some(update)) => {
            let strong = |t: &str| !t.trim_start().starts_with("W/");
            strong(&stored) && strong(&update) && stored.trim() != update.trim()
        }
        _ => false,
    }
}

/// Fields a 304 never replaces: those never stored, and those describing the stored body as
/// kept (its length; its coding, since the body is kept decoded and re-encoded on the way
/// out). RFC 9111 §3.2 lets a cache omit such fields "to assure integrity of the stored
/// response".
const NOT_UPDATED: &[&str] = &["content-length", "content-encoding"];

/// RFC 9111 §3.2: "the cache MUST add each header field in the provided response to the
/// stored response, replacing field values that are already present", with the exceptions
/// above.
pub fn merge_not_modified(
    stored: Vec<(String, String)>,
    update: &[(String, String)],
) -> Vec<(String, String)> {
    let replaced = |name: &str| {
        !UNSTORED_FIELDS.contains(&name)
            && !NOT_UPDATED.contains(&name)
            && update.iter().any(|(n, _)| n == name)
    };
    let mut merged: Vec<(String, String)> =
        stored.into_iter().filter(|(n, _)| !replaced(n)).collect();
    merged.extend(
        update
            .iter()
            .filter(|(n, _)| replaced(n) || n == "set-cookie")
            .cloned(),
    );
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::http::field_list as h;

    #[test]
    fn validators_become_conditional_fields() {
        let stored = h(&[
            ("etag", "\"v1\""),
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert_eq!(
            conditional_fields(&stored),
            h(&[
                ("if-none-match", "\"v1\""),
                ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")
            ])
        );
        assert!(conditional_fields(&h(&[])).is_empty());
    }

    #[test]
    fn a_304_replaces_fields_it_carries_and_keeps_the_rest() {
        let stored = h(&[
            ("content-type", "text/plain"),
            ("cache-control", "max-age=10"),
            ("x-a", "1"),
            ("x-a", "2"),
            ("content-encoding", "gzip"),
        ]);
        let update = h(&[
            ("cache-control", "max-age=60"),
            ("x-a", "3"),
            ("content-length", "0"),
            ("content-encoding", "identity"),
            ("connection", "close"),
            ("x-new", "yes"),
        ]);
        assert_eq!(
            merge_not_modified(stored, &update),
            h(&[
                ("content-type", "text/plain"),
                ("content-encoding", "gzip"),
                ("cache-control", "max-age=60"),
                ("x-a", "3"),
                ("x-new", "yes"),
            ])
        );
    }

    #[test]
    fn a_set_cookie_in_the_304_reaches_the_merged_response() {
        // So that the merged response is judged not storable, and the client still gets it.
        let merged = merge_not_modified(h(&[("etag", "\"v1\"")]), &h(&[("set-cookie", "a=b")]));
        assert_eq!(merged.field("set-cookie").as_deref(), Some("a=b"));
    }

    #[test]
    fn a_304_naming_another_strong_etag_does_not_update() {
        let stored = h(&[("etag", "\"v1\"")]);
        assert!(names_other_response(&stored, &h(&[("etag", "\"v2\"")])));
        assert!(!names_other_response(&stored, &h(&[("etag", "\"v1\"")])));
        assert!(!names_other_response(&stored, &h(&[("etag", "W/\"v2\"")])));
        assert!(!names_other_response(&stored, &h(&[])));
    }
}
