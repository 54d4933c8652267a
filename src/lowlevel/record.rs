//! The stored record of a low-level value, its exact expiry, and the backends' limits. Pure:
//! time is passed in, and everything here is tested on the host.
//!
//! A value is stored as the same `Meta` + body every backend already stores for responses
//! (`Kind::Value`), so no backend needs a second format: the body
//! is the value's JSON, `Meta::key` what the key was (checked on read), and `stored_at` +
//! `lifetime` the exact expiry. The expiry is checked on every read because backends keep
//! entries longer than asked: KV at least 60 s, the Cache API by whole seconds. A 1 s timeout
//! therefore means 1 s on every backend.

use edgecache_core::config::Backend;
use edgecache_core::storage::error::KEEP_FOREVER;
use edgecache_core::storage::record::{encode, Kind, Meta};

use super::error::{Error, Result};

/// `Meta::lifetime` of a value stored with no timeout (`None`, Django's "forever").
pub const FOREVER: u64 = u64::MAX;

/// Backend keeps beyond this many seconds (about 68 years, HTTP's 2^31 cap on
/// delta-seconds) are asked for as "no expiry": the record's own expiry still applies.
pub const MAX_KEEP_SECS: u64 = 1 << 31;

/// When a value stops being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueExpiry {
    /// Stored with `timeout = None`.
    Never,
    /// Milliseconds since the epoch.
    At(i64),
}

impl ValueExpiry {
    /// The expiry of a value stored at `now_ms` with `timeout` seconds (`None`: never).
    pub fn after(now_ms: i64, timeout: Option<u64>) -> ValueExpiry {
        match timeout {
            None | Some(FOREVER) => ValueExpiry::Never,
            Some(secs) => {
                let ms = i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000);
                ValueExpiry::At(now_ms.saturating_add(ms))
            }
        }
    }

    /// The expiry a record states.
    pub fn of(meta: &Meta) -> ValueExpiry {
        ValueExpiry::after(meta.stored_at, Some(meta.lifetime))
    }

    /// Still served at `now_ms`: an expiry is exclusive, so a value stored for 1 s is gone
    /// 1,000 ms later.
    pub fn is_live(self, now_ms: i64) -> bool {
        match self {
            ValueExpiry::Never => true,
            ValueExpiry::At(at) => now_ms < at,
        }
    }

    /// How long to ask the backend to keep the record: whole seconds rounded up, at least
    /// 60 on KV (its minimum `expirationTtl`), `KEEP_FOREVER` for `Never` and for keeps
    /// beyond `MAX_KEEP_SECS`. `None` once expired: nothing to store.
    pub fn keep_secs(self, now_ms: i64, backend: Backend) -> Option<u64> {
        let ValueExpiry::At(at) = self else {
            return Some(KEEP_FOREVER);
        };
        let left_ms = at.checked_sub(now_ms).filter(|&ms| ms > 0)?;
        let secs = (left_ms as u64).div_ceil(1000);
        Some(if secs > MAX_KEEP_SECS {
            KEEP_FOREVER
        } else {
            secs.max(backend.describe().min_ttl_secs)
        })
    }
}

/// The record for `value` (JSON) stored under a key whose check is `check`, at `stored_at`
/// for `lifetime` seconds (`FOREVER`: no expiry): `Meta::value`, the record's one constructor.
pub fn value_meta(check: &str, stored_at: i64, lifetime: u64, value_len: usize) -> Meta {
    Meta::value(check, stored_at, lifetime, value_len as u64)
}

/// A record read back is ours, for this key, and live at `now_ms`; anything else (a
/// response the proxy stored, another key's record under a hashed key, an expired value
/// KV still keeps) reads as absent.
pub fn is_usable(meta: &Meta, check: &str, now_ms: i64) -> bool {
    meta.kind == Kind::Value && meta.key == check && ValueExpiry::of(meta).is_live(now_ms)
}

/// Refuses a record the backend would: its stored size against the backend's limit.
/// `memory_budget` is the memory tier's, which holds no entry over a quarter of it.
pub fn check_size(
    key: &str,
    meta: &Meta,
    value: &[u8],
    backend: Backend,
    memory_budget: u64,
) -> Result<()> {
    let described = backend.describe();
    let (bytes, limit) = match described.max_value_bytes {
        // Bounded by its budget alone (the memory tier), counted as it counts an entry
        // (every byte it holds).
        None => (
            crate::store::footprint_of(&meta.key, meta, value.len()),
            memory_budget / 4,
        ),
        Some(limit) if described.record_in_value => {
            (encode(meta, &[]).len() as u64 + value.len() as u64, limit)
        }
        Some(limit) => (value.len() as u64, limit),
    };
    if bytes > limit {
        return Err(Error::ValueTooLarge {
            key: key.to_string(),
            bytes,
            limit,
            backend,
        });
    }
    Ok(())
}

/// The generation a `clear()` sets: the time of the clear, and always above the current
/// one, so a generation is never reused even if its record was lost (an evicted Cache API
/// entry, say), which a plain counter restarting at 1 would do.
pub fn next_generation(current: i64, now_ms: i64) -> i64 {
    current.saturating_add(1).max(now_ms)
}

/// How long a cache handle trusts the generation it read before reading it again: a
/// `clear()` elsewhere is seen within this (plus KV's own propagation, up to 60 s).
pub const GENERATION_RECHECK_MS: i64 = 5_000;

/// `incr`/`decr` on stored JSON: the new value, or why not.
pub fn add_to(key: &str, json: &[u8], delta: i64) -> Result<i64> {
    let current: i64 =
        serde_json::from_slice(json).map_err(|_| Error::NotAnInteger(key.to_string()))?;
    current
        .checked_add(delta)
        .ok_or_else(|| Error::Overflow(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_second_value_lives_exactly_one_second() {
        let expiry = ValueExpiry::after(10_000, Some(1));
        assert_eq!(expiry, ValueExpiry::At(11_000));
        assert!(expiry.is_live(10_999));
        assert!(!expiry.is_live(11_000));
    }

    #[test]
    fn no_timeout_never_expires() {
        assert_eq!(ValueExpiry::after(10_000, None), ValueExpiry::Never);
        assert!(ValueExpiry::Never.is_live(i64::MAX));
        let meta = value_meta("k", 10_000, FOREVER, 2);
        assert_eq!(ValueExpiry::of(&meta), ValueExpiry::Never);
    }

    #[test]
    fn huge_timeouts_saturate_instead_of_wrapping() {
        let expiry = ValueExpiry::after(10_000, Some(u64::MAX - 1));
        assert_eq!(expiry, ValueExpiry::At(i64::MAX));
        assert!(expiry.is_live(i64::MAX - 1));
        assert_eq!(expiry.keep_secs(10_000, Backend::Kv), Some(KEEP_FOREVER));
    }

    #[test]
    fn kv_is_asked_to_keep_at_least_sixty_seconds() {
        let expiry = ValueExpiry::after(0, Some(1));
        assert_eq!(expiry.keep_secs(0, Backend::Kv), Some(60));
        assert_eq!(expiry.keep_secs(0, Backend::CacheApi), Some(1));
        assert_eq!(expiry.keep_secs(0, Backend::Memory), Some(1));
        assert_eq!(
            ValueExpiry::after(0, Some(600)).keep_secs(0, Backend::Kv),
            Some(600)
        );
    }

    #[test]
    fn keeps_round_up_and_expired_values_are_not_stored() {
        let expiry = ValueExpiry::At(10_500);
        assert_eq!(expiry.keep_secs(9_000, Backend::CacheApi), Some(2));
        assert_eq!(expiry.keep_secs(10_500, Backend::CacheApi), None);
        assert_eq!(expiry.keep_secs(20_000, Backend::Memory), None);
        assert_eq!(
            ValueExpiry::Never.keep_secs(0, Backend::Kv),
            Some(KEEP_FOREVER)
        );
    }

    #[test]
    fn only_live_value_records_of_the_same_key_are_usable() {
        let meta = value_meta("p:1:k", 1_000, 10, 2);
        assert!(is_usable(&meta, "p:1:k", 5_000));
        assert!(
            !is_usable(&meta, "p:1:other", 5_000),
            "another key's record"
        );
        assert!(
            !is_usable(&meta, "p:1:k", 11_000),
            "expired, though KV may keep it"
        );
        let response = Meta {
            kind: Kind::Response,
            ..meta.clone()
        };
        assert!(!is_usable(&response, "p:1:k", 5_000), "a proxy response");
    }

    /// Workers KV refuses values over 25 MiB, the record included.
    const KV_MAX_VALUE_BYTES: u64 = 25 * 1024 * 1024;

    #[test]
    fn sizes_are_checked_against_each_backends_limit() {
        let meta = value_meta("p:1:k", 0, 10, 0);
        let big = vec![b'x'; KV_MAX_VALUE_BYTES as usize];
        let kv = check_size("k", &meta, &big, Backend::Kv, 0);
        match kv {
            Err(Error::ValueTooLarge {
                bytes,
                limit,
                backend,
                ..
            }) => {
                assert!(bytes > limit);
                assert_eq!(limit, KV_MAX_VALUE_BYTES);
                assert_eq!(backend, Backend::Kv);
            }
            other => panic!("expected ValueTooLarge, got {other:?}"),
        }
        assert!(check_size("k", &meta, &big, Backend::CacheApi, 0).is_ok());
        assert!(
            check_size("k", &meta, &big, Backend::R2, 0).is_ok(),
            "R2 takes what KV refuses"
        );
        // The memory tier holds no entry over a quarter of its budget, counted as it counts.
        let overhead = crate::store::footprint_of(&meta.key, &meta, 0) as usize;
        let fits = vec![0; 1024 - overhead];
        assert!(check_size("k", &meta, &fits, Backend::Memory, 4096).is_ok());
        assert!(check_size("k", &meta, &[0; 1024], Backend::Memory, 4096).is_err());
        let over = vec![0; 1025 - overhead];
        assert!(check_size("k", &meta, &over, Backend::Memory, 4096).is_err());
    }

    #[test]
    fn a_generation_always_moves_forward() {
        assert_eq!(next_generation(0, 1_000), 1_000);
        assert_eq!(
            next_generation(5_000, 1_000),
            5_001,
            "a clock behind the last clear"
        );
    }

    #[test]
    fn increments_need_an_integer_and_stay_in_range() {
        assert_eq!(add_to("k", b"41", 1).unwrap(), 42);
        assert_eq!(add_to("k", b"-1", -2).unwrap(), -3);
        assert_eq!(
            add_to("k", b"\"x\"", 1),
            Err(Error::NotAnInteger("k".into()))
        );
        assert_eq!(add_to("k", b"1.5", 1), Err(Error::NotAnInteger("k".into())));
        assert_eq!(
            add_to("k", i64::MAX.to_string().as_bytes(), 1),
            Err(Error::Overflow("k".into()))
        );
    }
}
