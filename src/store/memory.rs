//! The in-isolate memory tier: a byte-bounded LRU that lives as long as the isolate.
//!
//! Isolates are many and short-lived, so this tier is a per-isolate accelerator in front
//! of the shared backends, never the only copy anyone relies on.

use std::cell::RefCell;

use super::{Entry, Store, StoreError};
use crate::entry::Kind;
use crate::lru::Lru;
use crate::purge::{Registry, Standing};
use crate::runtime::now_ms;

thread_local! {
    static MEMORY: RefCell<Option<Lru<Entry>>> = const { RefCell::new(None) };
}

pub struct MemoryStore;

impl MemoryStore {
    /// The isolate's tier, created with `budget` bytes on first use.
    pub fn new(budget: u64) -> MemoryStore {
        MEMORY.with(|m| {
            m.borrow_mut().get_or_insert_with(|| Lru::new(budget));
        });
        MemoryStore
    }

    fn with<T>(f: impl FnOnce(&mut Lru<Entry>) -> T) -> Option<T> {
        MEMORY.with(|m| m.borrow_mut().as_mut().map(f))
    }

    /// The budget of this isolate's tier (0 before it is created); one entry may use at most
    /// a quarter of it.
    pub fn budget() -> u64 {
        Self::with(|lru| lru.budget()).unwrap_or(0)
    }

    /// Bytes held by this isolate's tier.
    pub fn used() -> u64 {
        Self::with(|lru| lru.used()).unwrap_or(0)
    }

    /// Drops the entries a purge has made unusable in this isolate, freeing their memory at
    /// once (the registry would refuse them on read anyway); returns how many went.
    pub fn purge(registry: &Registry) -> usize {
        Self::with(|lru| {
            lru.retain(|_, entry| {
                let meta = &entry.meta;
                meta.kind != Kind::Response
                    || registry.standing(&meta.url, &meta.tags, meta.stored_at) != Standing::Purged
            })
        })
        .unwrap_or(0)
    }
}

/// What an entry costs the budget: its body, key, and header text.
fn footprint(key: &str, entry: &Entry) -> u64 {
    let headers: usize = entry
        .meta
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 16)
        .sum();
    (entry.body.len() + key.len() + headers + 256) as u64
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        Ok(Self::with(|lru| lru.get(key, now_ms())).flatten())
    }

    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError> {
        // `KEEP_FOREVER` (u64::MAX) saturates to "never" rather than wrapping negative.
        let keep = i64::try_from(keep_secs).unwrap_or(i64::MAX);
        let expires = now_ms().saturating_add(keep.saturating_mul(1000));
        let bytes = footprint(key, entry);
        Self::with(|lru| lru.insert(key.to_string(), entry.clone(), bytes, expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        Self::with(|lru| lru.remove(key));
        Ok(())
    }
}
