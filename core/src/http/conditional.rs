//! Conditional requests answered by the cache (RFC 9110 §13): a client that already holds
//! the stored representation gets a `304 Not Modified` instead of the body.

use crate::http::{http_date, Fields};

/// RFC 9110 §13.2.2: evaluate `If-None-Match`, and only when it is absent,
/// `If-Modified-Since`, against the selected (stored) response's validators.
pub fn is_not_modified(request: &(impl Fields + ?Sized), stored: &(impl Fields + ?Sized)) -> bool {
    if let Some(candidates) = request.field("if-none-match") {
        let Some(etag) = stored.field("etag") else {
            return candidates.trim() == "*";
        };
        // §13.1.2: "A recipient MUST use the weak comparison function when comparing
        // entity tags for If-None-Match".
        return candidates.trim() == "*"
            || candidates
                .split(',')
                .any(|candidate| weak_eq(candidate.trim(), etag.trim()));
    }
    // RFC 9111 §4.3.2: without `Last-Modified`, a cache "SHOULD use the stored response's
    // Date field value" (a stored response always has one: edgecache adds it if missing).
    let Some(since) = request.field("if-modified-since") else {
        return false;
    };
    let Some(modified) = stored
        .field("last-modified")
        .or_else(|| stored.field("date"))
    else {
        return false;
    };
    // §13.1.3: "A recipient MUST ignore the If-Modified-Since header field if the received
    // field value is not a valid HTTP-date".
    match (http_date(&since), http_date(&modified)) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

/// §8.8.3.2 weak comparison: the opaque tags match, whether or not either is weak.
fn weak_eq(a: &str, b: &str) -> bool {
    let opaque = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_string();
    let (a, b) = (opaque(a), opaque(b));
    a.len() >= 2 && a.starts_with('"') && a.ends_with('"') && a == b
}

/// RFC 9110 §15.4.5: a 304 carries the fields a 200 would have sent among these.
pub const NOT_MODIFIED_FIELDS: &[&str] = &[
    "cache-control",
    "content-location",
    "date",
    "etag",
    "expires",
    "vary",
    "last-modified",
];

#[cfg(test)]
mod tests {
    use super::*;

    use crate::http::field_list as h;

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let stored = h(&[("etag", "W/\"v1\"")]);
        assert!(is_not_modified(&h(&[("if-none-match", "\"v1\"")]), &stored));
        assert!(is_not_modified(
            &h(&[("if-none-match", "\"v0\", W/\"v1\"")]),
            &stored
        ));
        assert!(!is_not_modified(
            &h(&[("if-none-match", "\"v2\"")]),
            &stored
        ));
        assert!(is_not_modified(&h(&[("if-none-match", "*")]), &stored));
        assert!(
            !is_not_modified(&h(&[("if-none-match", "v1")]), &h(&[("etag", "v1")])),
            "unquoted tags are invalid"
        );
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let stored = h(&[
            ("etag", "\"v1\""),
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        let request = h(&[
            ("if-none-match", "\"v2\""),
            ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert!(!is_not_modified(&request, &stored));
    }

    #[test]
    fn if_modified_since_compares_with_last_modified() {
        let stored = h(&[("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert!(is_not_modified(
            &h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            &stored
        ));
        assert!(!is_not_modified(
            &h(&[("if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT")]),
            &stored
        ));
        assert!(!is_not_modified(
            &h(&[("if-modified-since", "garbage")]),
            &stored
        ));
        assert!(!is_not_modified(
            &h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            &h(&[])
        ));
    }

    #[test]
    fn if_modified_since_falls_back_to_the_stored_date() {
        let stored = h(&[("date", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert!(is_not_modified(
            &h(&[("if-modified-since", "Mon, 07 Nov 1994 08:49:37 GMT")]),
            &stored
        ));
        assert!(!is_not_modified(
            &h(&[("if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT")]),
            &stored
        ));
    }

    #[test]
    fn no_validators_means_modified() {
        assert!(!is_not_modified(&h(&[]), &h(&[("etag", "\"v1\"")])));
    }
}
