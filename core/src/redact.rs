//! What log lines may say about a key, a URL or an error: enough for an operator to tell which
//! entry a line is about, never a value a user sent. Query values, the values of varied
//! cookies and headers, and tokens stay out of every log line.
//!
//! - A key or URL keeps its scheme, host and path, and the *names* of its query parameters
//!   and of the request values it varies on; each value is replaced by `*` (an empty one
//!   stays empty, so `a=` and `a=*` still differ). A query piece without `=` is taken for a
//!   value (`?<token>` is a common way to pass one) and replaced whole, as is a "name" longer
//!   than `MAX_NAME_BYTES`, which is more likely a value than a name.
//! - `id` is a short stable hash of the whole key, so every line about one entry can be
//!   matched, across isolates too. It identifies; it does not hide a value that can be guessed
//!   (`page=2` can be found by trying), which is why only high-entropy secrets (tokens,
//!   session ids) are safe in keys at all, and they are safe: 48 bits of a SHA-256 of the
//!   whole key cannot be turned back into a token.
//! - Free text (an error from the runtime or a storage backend, which may quote a URL or a
//!   key) is scrubbed by the same rules wherever a `?` or `#` follows a non-space character,
//!   and `user:password@` in a URL becomes `*@`.

use crate::request::key::digest;

/// Names longer than this are shown as `*`.
pub const MAX_NAME_BYTES: usize = 64;

/// Hex digits of `id`: 48 bits, enough to tell apart the entries of any one cache.
pub const ID_HEX_DIGITS: usize = 12;

/// What replaces a value.
const HIDDEN: &str = "*";

/// A stable short identifier of `key` (any string), for matching log lines about one entry.
pub fn id(key: &str) -> String {
    let mut hex = digest(key);
    hex.truncate(ID_HEX_DIGITS);
    hex
}

/// A rendered cache key without its values:
/// `prefix:version:scheme://host/path?name=*#vary-name=*`. A hashed key
/// (`prefix:version:sha256:<hex>`) is shown as it is: it holds no value.
pub fn key(key: &str) -> String {
    let Some((url, variance)) = key.split_once('#') else {
        return url(key);
    };
    format!("{}#{}", url_part(url), pairs(variance, &['&'], Bare::Name))
}

/// A URL (absolute or a path) without its query values; a fragment is hidden like a query.
pub fn url(url: &str) -> String {
    match url.split_once('#') {
        Some((before, fragment)) => format!(
            "{}#{}",
            url_part(before),
            pairs(fragment, &['&', ';'], Bare::Value)
        ),
        None => url_part(url),
    }
}

/// `text` with the values of any query string, key variance or fragment in it hidden, and the
/// credentials of any URL in it.
pub fn text(text: &str) -> String {
    let text = hide_userinfo(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(['?', '#']) {
        let mark = rest.as_bytes()[at];
        let after_token = at > 0 && !rest.as_bytes()[at - 1].is_ascii_whitespace();
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        if !after_token {
            continue;
        }
        let end = rest.find(ends_a_token).unwrap_or(rest.len());
        let run = &rest[..end];
        // A key's variance or a URL's fragment: which, text does not say, so a piece without
        // `=` is hidden too.
        out.push_str(&if mark == b'?' {
            match run.split_once('#') {
                Some((query, after)) => format!(
                    "{}#{}",
                    pairs(query, &['&', ';'], Bare::Value),
                    pairs(after, &['&', ';'], Bare::Value)
                ),
                None => pairs(run, &['&', ';'], Bare::Value),
            }
        } else {
            pairs(run, &['&', ';'], Bare::Value)
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A URL (or the URL part of a key) with its query values hidden.
fn url_part(url: &str) -> String {
    let url = hide_userinfo(url);
    match url.split_once('?') {
        Some((path, query)) => format!("{path}?{}", pairs(query, &['&', ';'], Bare::Value)),
        None => url,
    }
}

/// What a piece without `=` is: the name of an absent variant (`#cookie.lang`), or a value
/// passed alone (`?<token>`).
#[derive(Clone, Copy, PartialEq)]
enum Bare {
    Name,
    Value,
}

/// `name=value` pieces separated by any of `separators`, values hidden.
fn pairs(list: &str, separators: &[char], bare: Bare) -> String {
    let mut out = String::with_capacity(list.len().min(256));
    let mut rest = list;
    loop {
        let end = rest.find(separators).unwrap_or(rest.len());
        out.push_str(&piece(&rest[..end], bare));
        if end == rest.len() {
            return out;
        }
        out.push_str(&rest[end..end + 1]);
        rest = &rest[end + 1..];
    }
}

fn piece(piece: &str, bare: Bare) -> String {
    let shown = |name: &str| {
        if name.len() > MAX_NAME_BYTES {
            HIDDEN.to_string()
        } else {
            name.to_string()
        }
    };
    match piece.split_once('=') {
        Some((name, "")) => format!("{}=", shown(name)),
        Some((name, _)) => format!("{}={HIDDEN}", shown(name)),
        None if piece.is_empty() => String::new(),
        None if bare == Bare::Name => shown(piece),
        None => HIDDEN.to_string(),
    }
}

/// `scheme://user:password@host` → `scheme://*@host`, wherever it occurs.
fn hide_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        out.push_str(&rest[..at + 3]);
        rest = &rest[at + 3..];
        let authority_end = rest
            .find(|c: char| c == '/' || c == '?' || c == '#' || ends_a_token(c))
            .unwrap_or(rest.len());
        if let Some(userinfo_end) = rest[..authority_end].rfind('@') {
            out.push_str(HIDDEN);
            rest = &rest[userinfo_end..];
        }
    }
    out.push_str(rest);
    out
}

/// Characters that end a URL or key quoted in free text.
fn ends_a_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::key::{CacheKey, Variant};

    const SECRETS: [&str; 4] = ["tok3n-s3cret", "c00kie-s3cret", "h3ader-s3cret", "pa55word"];

    fn secret_key() -> CacheKey {
        CacheKey {
            prefix: "site".into(),
            version: 3,
            scheme: "https".into(),
            host: "example.com".into(),
            path: "/account/orders".into(),
            query: "access_token=tok3n-s3cret&page=2&flag&empty=".into(),
            variance: vec![
                Variant {
                    name: "cookie.session".into(),
                    value: Some("c00kie-s3cret".into()),
                },
                Variant {
                    name: "x-api-key".into(),
                    value: Some("h3ader-s3cret".into()),
                },
                Variant {
                    name: "cookie.lang".into(),
                    value: None,
                },
                Variant {
                    name: "x-empty".into(),
                    value: Some(String::new()),
                },
            ],
        }
    }

    fn assert_no_secret(line: &str) {
        for secret in SECRETS {
            assert!(!line.contains(secret), "{secret:?} in {line:?}");
        }
    }

    #[test]
    fn a_key_keeps_its_host_path_and_names_and_loses_every_value() {
        let rendered = secret_key().render();
        let shown = key(&rendered);
        assert_eq!(
            shown,
            "site:3:https://example.com/account/orders?access_token=*&page=*&*&empty=\
             #cookie.session=*&x-api-key=*&cookie.lang&x-empty="
        );
        assert_no_secret(&shown);
    }

    #[test]
    fn a_key_without_query_or_variance_is_shown_whole() {
        let plain = CacheKey {
            query: String::new(),
            variance: vec![],
            ..secret_key()
        }
        .render();
        assert_eq!(key(&plain), plain);
        let varied_only = CacheKey {
            query: String::new(),
            ..secret_key()
        }
        .render();
        assert_eq!(
            key(&varied_only),
            "site:3:https://example.com/account/orders#cookie.session=*&x-api-key=*&cookie.lang&x-empty="
        );
    }

    #[test]
    fn a_canonical_key_keeps_its_path_and_port_and_hides_the_origin_it_varies_on() {
        // Keys hold canonical paths (upper-case escapes, `;` kept) and, for a request with
        // an `Origin`, an `origin` variant whose value is the client's.
        let rendered = CacheKey {
            host: "example.com:8443".into(),
            path: "/static/..%2Faccount;.css".into(),
            query: "callback=tok3n-s3cret;utm_x=1&page=2".into(),
            variance: vec![Variant {
                name: "origin".into(),
                value: Some("https://pa55word.example".into()),
            }],
            ..secret_key()
        }
        .render();
        let shown = key(&rendered);
        assert_eq!(
            shown,
            "site:3:https://example.com:8443/static/..%2Faccount;.css?callback=*;utm_x=*&page=*#origin=*"
        );
        assert_no_secret(&shown);
    }

    #[test]
    fn a_hashed_key_is_shown_as_it_is() {
        let long = CacheKey {
            path: format!("/{}", "x".repeat(600)),
            ..secret_key()
        }
        .render();
        assert!(long.starts_with("site:3:sha256:"));
        assert_eq!(key(&long), long);
    }

    #[test]
    fn the_id_is_short_stable_and_tells_keys_apart() {
        let a = secret_key().render();
        let other = CacheKey {
            query: "access_token=another&page=2&flag&empty=".into(),
            ..secret_key()
        }
        .render();
        assert_eq!(id(&a).len(), ID_HEX_DIGITS);
        assert!(id(&a).bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id(&a), id(&a.clone()));
        assert_ne!(
            id(&a),
            id(&other),
            "keys that differ only in a value differ"
        );
        assert_eq!(
            key(&a),
            key(&other),
            "the redacted forms alone cannot tell them apart"
        );
    }

    #[test]
    fn urls_lose_query_values_fragments_and_credentials() {
        assert_eq!(
            url("https://example.com/a/b?access_token=tok3n-s3cret&x=1;sig=pa55word"),
            "https://example.com/a/b?access_token=*&x=*;sig=*"
        );
        assert_eq!(
            url("/frag?tok3n-s3cret"),
            "/frag?*",
            "a bare piece is a value"
        );
        assert_eq!(url("/p#tok3n-s3cret"), "/p#*");
        assert_eq!(
            url("https://admin:pa55word@origin.test/x"),
            "https://*@origin.test/x"
        );
        assert_eq!(
            url("https://example.com/plain"),
            "https://example.com/plain"
        );
    }

    #[test]
    fn long_names_are_taken_for_values() {
        let name = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(url(&format!("/p?{name}=1&ok=2")), "/p?*=*&ok=*");
        let fine = "n".repeat(MAX_NAME_BYTES);
        assert_eq!(url(&format!("/p?{fine}=1")), format!("/p?{fine}=*"));
    }

    #[test]
    fn free_text_is_scrubbed_wherever_a_url_or_key_is_quoted() {
        let error = format!(
            "src \"/frag?access_token=tok3n-s3cret\" answered 500; KV put failed for {} (key too long); \
             fetch https://u:pa55word@origin.test/x?sig=pa55word#c00kie-s3cret refused",
            secret_key().render()
        );
        let scrubbed = text(&error);
        assert_no_secret(&scrubbed);
        assert!(
            scrubbed.contains("\"/frag?access_token=*\" answered 500"),
            "{scrubbed}"
        );
        assert!(
            scrubbed.contains("orders?access_token=*&page=*&*&empty=#cookie.session=*&x-api-key=*"),
            "{scrubbed}"
        );
        assert!(
            scrubbed.contains("https://*@origin.test/x?sig=*#*"),
            "{scrubbed}"
        );
    }

    #[test]
    fn free_text_without_urls_is_left_alone() {
        for plain in [
            "the origin did not answer within 3000 ms",
            "request #3 failed: what? nothing",
            "binding: KV namespace EDGECACHE_KV: not bound",
            "",
        ] {
            assert_eq!(text(plain), plain);
        }
    }
}
