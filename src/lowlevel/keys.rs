//! Key making for the low-level API, as Django's `make_key`: a key function turns
//! (prefix, version, key) into the stored key, `prefix:version:key` by default, and keys over
//! KV's 512-byte limit are hashed by the same rule as the proxy's cache keys
//! (`edgecache_core::request::key::fit_kv_limit`). Pure: tested on the host.

use std::rc::Rc;

use edgecache_core::request::key::{digest, fit_kv_limit, KV_MAX_KEY_BYTES};

use super::error::{Error, Result};

/// Django's `KEY_FUNCTION`: `(prefix, version, key)` → the key to store under. A closure, so
/// it can capture what it needs (a tenant, a schema name).
pub type KeyFunction = Rc<dyn Fn(&str, u64, &str) -> String>;

/// Django's default key function: `prefix:version:key`.
pub fn default_key_function(prefix: &str, version: u64, key: &str) -> String {
    format!("{prefix}:{version}:{key}")
}

/// The longest key prefix: with it, a hashed key (`prefix:version:sha256:<64 hex>`) still
/// fits KV's 512 bytes. The proxy's `key_prefix` has the same limit.
pub const MAX_PREFIX_BYTES: usize = 64;

/// What a call's key becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The backend key: the key function's output, hashed when over 512 bytes.
    pub key: String,
    /// What the record must say its key was, checked on read: the full key when it was
    /// stored as is, `sha256:<hex>` of it when hashed (so a record stays small whatever the
    /// key's length, and the Cache API's header holding it stays small too).
    pub check: String,
}

/// A prefix the API accepts: at most 64 bytes, no `:` and no control characters.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(Error::InvalidPrefix(format!(
            "{} bytes, at most {MAX_PREFIX_BYTES}",
            prefix.len()
        )));
    }
    if prefix.contains(':') || prefix.chars().any(char::is_control) {
        return Err(Error::InvalidPrefix(format!(
            "{prefix:?} holds ':' or a control character"
        )));
    }
    Ok(())
}

/// The prefix the key function is given: the configured one while the cache has never been
/// cleared, `prefix@<generation>` after a `clear()`, so every earlier key becomes
/// unreachable at once (see `record::next_generation`).
pub fn effective_prefix(prefix: &str, generation: i64) -> String {
    if generation == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}@{generation}")
    }
}

/// Makes the stored key for `key`.
pub fn make_key(
    key_function: &dyn Fn(&str, u64, &str) -> String,
    prefix: &str,
    version: u64,
    key: &str,
) -> Result<StoredKey> {
    let full = key_function(prefix, version, key);
    if full.is_empty() || full == "." || full == ".." {
        return Err(Error::InvalidKey {
            key: full,
            reason: "KV refuses empty keys and the keys \".\" and \"..\"",
        });
    }
    let hashed = full.len() > KV_MAX_KEY_BYTES;
    let check = if hashed {
        format!("sha256:{}", digest(&full))
    } else {
        full.clone()
    };
    Ok(StoredKey {
        key: fit_kv_limit(full, prefix, version),
        check,
    })
}

/// Where a cache keeps its generation (the time of its last `clear()`): outside the key
/// function's keys, which always hold a version between prefix and key.
pub fn generation_key(prefix: &str) -> String {
    format!("{prefix}:__edgecache:generation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_is_prefix_version_key_as_in_django() {
        let made = make_key(&default_key_function, "site", 2, "user:42").unwrap();
        assert_eq!(made.key, "site:2:user:42");
        assert_eq!(made.check, "site:2:user:42");
        assert_eq!(
            make_key(&default_key_function, "", 1, "k").unwrap().key,
            ":1:k"
        );
    }

    #[test]
    fn a_key_function_decides_the_stored_key() {
        let reversed = |p: &str, v: u64, k: &str| format!("{k}|{v}|{p}");
        assert_eq!(make_key(&reversed, "p", 3, "k").unwrap().key, "k|3|p");
    }

    #[test]
    fn keys_over_kv_limit_are_hashed_with_prefix_and_version_readable() {
        let long = "x".repeat(600);
        let made = make_key(&default_key_function, "site", 2, &long).unwrap();
        let full = format!("site:2:{long}");
        assert_eq!(made.key, format!("site:2:sha256:{}", digest(&full)));
        assert_eq!(made.check, format!("sha256:{}", digest(&full)));
        assert!(made.key.len() <= KV_MAX_KEY_BYTES);
        let other = make_key(&default_key_function, "site", 3, &long).unwrap();
        assert_ne!(
            other.key, made.key,
            "a version bump changes hashed keys too"
        );
    }

    #[test]
    fn a_key_of_exactly_512_bytes_is_kept_as_is() {
        let key = "k".repeat(512 - "p:1:".len());
        let made = make_key(&default_key_function, "p", 1, &key).unwrap();
        assert_eq!(made.key.len(), 512);
        assert_eq!(made.key, made.check);
    }

    #[test]
    fn keys_kv_refuses_are_errors() {
        for bad in ["", ".", ".."] {
            let f = move |_: &str, _: u64, _: &str| bad.to_string();
            assert!(matches!(
                make_key(&f, "p", 1, "k"),
                Err(Error::InvalidKey { .. })
            ));
        }
    }

    #[test]
    fn prefixes_are_short_and_free_of_colons() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("site-1").is_ok());
        assert!(validate_prefix(&"p".repeat(64)).is_ok());
        assert!(matches!(
            validate_prefix(&"p".repeat(65)),
            Err(Error::InvalidPrefix(_))
        ));
        assert!(validate_prefix("a:b").is_err());
        assert!(validate_prefix("a\nb").is_err());
    }

    #[test]
    fn a_cleared_cache_gives_the_key_function_a_new_prefix() {
        assert_eq!(effective_prefix("site", 0), "site");
        assert_eq!(
            effective_prefix("site", 1_795_000_000_000),
            "site@1795000000000"
        );
        assert_eq!(generation_key("site"), "site:__edgecache:generation");
    }
}
