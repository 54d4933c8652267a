//! Cache keys: what makes two requests share a stored response.
//!
//! A key is a struct rendered by exactly one function, `CacheKey::render`, into the string the
//! backends store under. Everything that can differ between two users' requests and change
//! the answer must be in it; nothing else may be, or hit ratios suffer. Keys longer than KV's
//! 512-byte limit are hashed, keeping the prefix and version readable.

use sha2::{Digest, Sha256};
use url::form_urlencoded;

/// The shortest key limit of any backend (Workers KV's, 512 bytes): keys beyond it are hashed.
pub const KV_MAX_KEY_BYTES: usize = crate::storage::backend::MAX_KEY_BYTES;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub prefix: String,
    pub version: u64,
    /// `http` or `https`: an origin's redirect to https must not answer https requests.
    pub scheme: String,
    /// Lowercase, punycoded, without a trailing dot, with a non-default port.
    pub host: String,
    /// Canonical (`Target`).
    pub path: String,
    /// The kept query pieces, sorted (`Target::query_for`).
    pub query: String,
    /// Named request values that select a variant, in a fixed order.
    pub variance: Vec<Variant>,
}

/// One request value the key varies on: a header (by `Vary` or a route's `vary_headers`) or a
/// cookie (a route's `vary_cookies`). `None` (absent) and `Some("")` (empty) differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub value: Option<String>,
}

impl CacheKey {
    /// The string stored under: `prefix:version:scheme://host/path?query#name=value&name`,
    /// or `prefix:version:sha256:<hex>` when that would exceed KV's key limit.
    pub fn render(&self) -> String {
        let mut key = format!(
            "{}:{}:{}://{}{}",
            self.prefix, self.version, self.scheme, self.host, self.path
        );
        if !self.query.is_empty() {
            key.push('?');
            key.push_str(&self.query);
        }
        for (i, variant) in self.variance.iter().enumerate() {
            key.push(if i == 0 { '#' } else { '&' });
            key.extend(form_urlencoded::byte_serialize(variant.name.as_bytes()));
            if let Some(value) = &variant.value {
                key.push('=');
                key.extend(form_urlencoded::byte_serialize(value.as_bytes()));
            }
        }
        fit_kv_limit(key, &self.prefix, self.version)
    }

    /// The URL part of the key, `scheme://host/path?query`, which purges by URL and prefix
    /// are matched against.
    pub fn url(&self) -> String {
        let mut url = format!("{}://{}{}", self.scheme, self.host, self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        url
    }

    /// The same key, narrowed to one variant of the response's `Vary` fields.
    pub fn with_variance(&self, extra: impl IntoIterator<Item = Variant>) -> CacheKey {
        let mut key = self.clone();
        key.variance.extend(extra);
        key
    }
}

/// `key` itself when it fits KV's 512-byte limit, else `prefix:version:sha256:<hex>`, the
/// SHA-256 of the whole key: the prefix and version stay readable (and a version bump still
/// changes it), and the key stays within the limit as long as the prefix is short. Every
/// stored record also carries what its key was, checked on read, so a hashed key can never
/// answer for another.
pub fn fit_kv_limit(key: String, prefix: &str, version: impl std::fmt::Display) -> String {
    if key.len() > KV_MAX_KEY_BYTES {
        format!("{prefix}:{version}:sha256:{}", digest(&key))
    } else {
        key
    }
}

/// Lowercase hex SHA-256: long keys, and Cache API URLs, are named by it.
pub fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in hash {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    hex
}

/// The value of one cookie in a `Cookie` header (`a=1; b=2`), if present.
pub fn cookie_value(cookie_header: &str, name: &str) -> Option<String> {
    cookie_header.split(';').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| v.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            prefix: "site".into(),
            version: 2,
            scheme: "https".into(),
            host: "example.com".into(),
            path: "/blog/post".into(),
            query: "a=1&b=2".into(),
            variance: vec![],
        }
    }

    #[test]
    fn a_key_renders_prefix_version_and_url() {
        assert_eq!(
            key().render(),
            "site:2:https://example.com/blog/post?a=1&b=2"
        );
    }

    #[test]
    fn the_url_part_leaves_out_prefix_version_and_variance() {
        let k = key().with_variance([Variant {
            name: "x".into(),
            value: None,
        }]);
        assert_eq!(k.url(), "https://example.com/blog/post?a=1&b=2");
    }

    #[test]
    fn an_empty_query_leaves_no_question_mark() {
        let k = CacheKey {
            query: String::new(),
            ..key()
        };
        assert_eq!(k.render(), "site:2:https://example.com/blog/post");
    }

    #[test]
    fn variance_is_encoded_so_values_cannot_forge_other_keys() {
        let k = key().with_variance([
            Variant {
                name: "accept-language".into(),
                value: Some("en&x=y#z".into()),
            },
            Variant {
                name: "cookie.lang".into(),
                value: None,
            },
            Variant {
                name: "x-empty".into(),
                value: Some(String::new()),
            },
        ]);
        assert_eq!(
            k.render(),
            "site:2:https://example.com/blog/post?a=1&b=2#accept-language=en%26x%3Dy%23z&cookie.lang&x-empty="
        );
    }

    #[test]
    fn bumping_the_version_changes_every_key() {
        let bumped = CacheKey {
            version: 3,
            ..key()
        };
        assert_ne!(bumped.render(), key().render());
    }

    #[test]
    fn long_keys_are_hashed_under_kv_limit() {
        let long = CacheKey {
            path: format!("/{}", "x".repeat(600)),
            ..key()
        };
        let rendered = long.render();
        assert!(rendered.starts_with("site:2:sha256:"));
        assert_eq!(rendered.len(), "site:2:sha256:".len() + 64);
        assert_eq!(rendered, long.render(), "hashing is deterministic");
        assert_ne!(
            rendered,
            CacheKey {
                path: format!("/{}", "y".repeat(600)),
                ..key()
            }
            .render()
        );
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "session=abc; lang=fr; xlang=de";
        assert_eq!(cookie_value(header, "lang"), Some("fr".into()));
        assert_eq!(cookie_value(header, "missing"), None);
    }
}
