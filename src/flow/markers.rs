//! Each isolate's copy of the `Vary` markers it has lately read from or written to a shared
//! tier (any but the memory tier: `Backend::is_shared`), so that a hit on a URL whose responses vary costs one storage
//! read (the variant) instead of two (the marker, then the variant).
//!
//! A copy is trusted for `MARKER_TTL_MS` only, like the purge registry's copy: it only says
//! which request fields pick the variant, and an outdated one can at worst lead to a variant
//! that the origin's last `Vary` would no longer name, still one that matches its own `Vary`
//! (RFC 9111 §4.1). When the remembered variant is missing, the lookup reads the marker
//! afresh. Deleting a key here (a purge, an unsafe method) forgets it at once.

use std::cell::RefCell;

use crate::store::Entry;
use edgecache_core::config::Backend;
use edgecache_core::storage::lru::Lru;
use edgecache_core::storage::record::Meta;

/// How long an isolate trusts a marker it has not read again.
pub const MARKER_TTL_MS: i64 = 5_000;
/// Bytes of markers an isolate keeps, each counted as the memory tier counts an entry.
const BUDGET: u64 = 256 * 1024;

thread_local! {
    static MARKERS: RefCell<Lru<Entry>> = RefCell::new(Lru::new(BUDGET));
}

fn slot(backend: Backend, primary: &str) -> String {
    format!("{}|{primary}", backend.as_str())
}

/// The marker last seen under `primary` in `backend`, if still trusted at `now_ms` (never
/// for the memory tier: a read of it costs no more than remembering would).
pub fn recall(backend: Backend, primary: &str, now_ms: i64) -> Option<Entry> {
    if !backend.is_shared() {
        return None;
    }
    MARKERS.with(|m| m.borrow_mut().get(&slot(backend, primary), now_ms))
}

/// Remembers `marker` as read from or written to `backend` at `now_ms` (a shared tier's).
pub fn remember(backend: Backend, marker: &Entry, now_ms: i64) {
    if !backend.is_shared() {
        return;
    }
    let key = slot(backend, &marker.meta.key);
    let bytes = crate::store::footprint(&key, marker);
    MARKERS.with(|m| {
        m.borrow_mut()
            .insert(key, marker.clone(), bytes, now_ms + MARKER_TTL_MS)
    });
}

/// Forgets whatever is remembered under `primary`, in every backend.
pub fn forget(primary: &str) {
    MARKERS.with(|m| {
        let mut markers = m.borrow_mut();
        for backend in Backend::ALL.into_iter().filter(|b| b.is_shared()) {
            markers.remove(&slot(backend, primary));
        }
    });
}

/// The `Vary` marker stored at the URL's `primary` key beside a response (or parts) that
/// varies: it names the fields that pick the variant, and holds no body.
pub fn marker_for(primary: &str, meta: &Meta) -> Option<Entry> {
    (!meta.vary.is_empty()).then(|| Entry::new(Meta::marker(primary, meta), Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgecache_core::storage::record::{Keeping, Meta, Said};

    fn marker(key: &str) -> Entry {
        let keeping = Keeping {
            lifetime: 60,
            ..Keeping::default()
        };
        let url = "https://example.com/".to_string();
        let vary = vec!["accept-encoding".to_string()];
        let variant = Meta::response(key.into(), url, vary, Said::default(), keeping);
        Entry::new(Meta::marker(key, &variant), Vec::new())
    }

    #[test]
    fn a_marker_is_trusted_for_a_while_per_backend() {
        remember(Backend::CacheApi, &marker("p:1"), 1_000);
        let recalled = recall(Backend::CacheApi, "p:1", 1_000 + MARKER_TTL_MS - 1).unwrap();
        assert_eq!(recalled.meta.vary, ["accept-encoding"]);
        assert!(recall(Backend::Kv, "p:1", 1_000).is_none(), "per backend");
        remember(Backend::Memory, &marker("p:1"), 1_000);
        assert!(
            recall(Backend::Memory, "p:1", 1_000).is_none(),
            "shared tiers only"
        );
        assert!(
            recall(Backend::CacheApi, "p:1", 1_000 + MARKER_TTL_MS).is_none(),
            "expired"
        );
    }

    #[test]
    fn forgetting_a_key_drops_it_everywhere() {
        remember(Backend::CacheApi, &marker("p:2"), 0);
        remember(Backend::Kv, &marker("p:2"), 0);
        forget("p:2");
        assert!(recall(Backend::CacheApi, "p:2", 1).is_none());
        assert!(recall(Backend::Kv, "p:2", 1).is_none());
    }
}
