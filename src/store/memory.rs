//! The in-isolate memory tier: a byte-bounded S3-FIFO map (`edgecache_core::storage::s3fifo`)
//! that lives as long as the isolate.
//!
//! Isolates are many and short-lived, so this tier is a per-isolate accelerator in front
//! of the shared backends, never the only copy anyone relies on.

use std::cell::{OnceCell, RefCell};
use std::mem::size_of;

use super::ClientHeaders;
use super::{Entry, Store, StoreError};
use crate::runtime::now_ms;
use edgecache_core::control::registry::{Registry, Standing};
use edgecache_core::http::Fields;
use edgecache_core::storage::heap;
use edgecache_core::storage::record::{Kind, Meta};
use edgecache_core::storage::s3fifo::S3Fifo;

thread_local! {
    static MEMORY: RefCell<Option<S3Fifo<Entry>>> = const { RefCell::new(None) };
}

pub struct MemoryStore;

impl MemoryStore {
    /// The isolate's tier, created with `budget` bytes on first use.
    pub fn new(budget: u64) -> MemoryStore {
        MEMORY.with(|m| {
            m.borrow_mut().get_or_insert_with(|| S3Fifo::new(budget));
        });
        MemoryStore
    }

    fn with<T>(f: impl FnOnce(&mut S3Fifo<Entry>) -> T) -> Option<T> {
        MEMORY.with(|m| m.borrow_mut().as_mut().map(f))
    }

    /// The budget of this isolate's tier (0 before it is created); one entry may use at most
    /// a quarter of it.
    pub fn budget() -> u64 {
        Self::with(|map| map.budget()).unwrap_or(0)
    }

    /// Bytes held by this isolate's tier.
    pub fn used() -> u64 {
        Self::with(|map| map.used()).unwrap_or(0)
    }

    /// Drops the entries a purge has made unusable in this isolate, freeing their memory at
    /// once (the registry would refuse them on read anyway); returns how many went.
    pub fn purge(registry: &Registry) -> usize {
        Self::with(|map| {
            map.retain(|_, entry| {
                let meta = &entry.meta;
                meta.kind != Kind::Response
                    || registry.standing(&meta.url, &meta.tags, meta.purged_from())
                        != Standing::Purged
            })
        })
        .unwrap_or(0)
    }
}

/// Bytes the runtime holds for one entry's client fields once a hit has built them
/// (`client_headers::ClientHeaders`, a JavaScript `Headers`): measured in workerd as about 1.7 KB per
/// `Headers` object and 250 to 280 bytes per field beyond its name and value (the process's
/// memory growth over 20,000 objects of 1 to 64 fields), rounded up.
const JS_HEADERS_BYTES: usize = 2048;
const JS_FIELD_BYTES: usize = 320;

/// What an entry costs the isolate while this tier holds it, counted against the budget:
/// every allocation it owns (the body; each string of its metadata at its capacity: key, URL,
/// header fields, tags, `Vary` names), the boxes its parts are shared through, the map's two
/// copies of the key with their slots, and, for a response, the client fields a hit builds
/// (`client_headers::ClientHeaders`): the `Cache-Status` it keeps in Wasm and the `Headers` object the
/// runtime keeps, counted from the start, built or not.
pub fn footprint(key: &str, entry: &Entry) -> u64 {
    footprint_of(key, &entry.meta, entry.body.len())
}

/// `footprint` of an entry with metadata `meta` and a body of `body_len` bytes.
pub fn footprint_of(key: &str, meta: &Meta, body_len: usize) -> u64 {
    // An `Rc`'s strong and weak counts.
    let counts = 2 * size_of::<usize>();
    let boxes = heap::allocation(counts + size_of::<Meta>())
        + heap::allocation(counts + body_len)
        + heap::allocation(counts + size_of::<OnceCell<ClientHeaders>>());
    let client_headers = if meta.kind == Kind::Response {
        let upstream_status = meta.field("cache-status").map_or(0, |v| v.len());
        let fields: usize = meta
            .headers
            .iter()
            .map(|(n, v)| JS_FIELD_BYTES + n.len() + v.len())
            .sum();
        heap::allocation(upstream_status) + JS_HEADERS_BYTES + fields
    } else {
        0
    };
    (boxes + meta.heap_bytes() + client_headers) as u64 + S3Fifo::<Entry>::key_cost(key)
}

impl Store for MemoryStore {
    fn open(_env: &worker::Env, _url_base: &str, budget: u64) -> Result<MemoryStore, StoreError> {
        Ok(MemoryStore::new(budget))
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        Ok(Self::with(|map| map.get(key, now_ms())).flatten())
    }

    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError> {
        // `KEEP_FOREVER` (u64::MAX) saturates to "never" rather than wrapping negative.
        let keep = i64::try_from(keep_secs).unwrap_or(i64::MAX);
        let expires = now_ms().saturating_add(keep.saturating_mul(1000));
        let bytes = footprint(key, entry);
        Self::with(|map| map.insert(key.to_string(), entry.clone(), bytes, expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        Self::with(|map| map.remove(key));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgecache_core::storage::record::{Keeping, Said};

    fn entry(url: &str, tags: usize, body: usize) -> Entry {
        let said = Said {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/html".into()),
                ("cache-control".into(), "max-age=60".into()),
            ],
            tags: (0..tags).map(|i| format!("tag-{i}")).collect(),
        };
        let keeping = Keeping {
            lifetime: 60,
            ..Keeping::default()
        };
        let meta = Meta::response(format!("p:1:{url}"), url.into(), vec![], said, keeping);
        Entry::new(meta.with_body_len(body as u64), vec![b'x'; body])
    }

    /// The bytes an entry's strings and body hold, without any overhead: a floor for its
    /// footprint.
    fn content_bytes(key: &str, entry: &Entry) -> usize {
        let meta = &entry.meta;
        2 * key.len()
            + meta.key.len()
            + meta.url.len()
            + meta
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
            + meta.tags.iter().map(String::len).sum::<usize>()
            + meta.vary.iter().map(String::len).sum::<usize>()
            + entry.body.len()
    }

    #[test]
    fn every_byte_an_entry_holds_is_counted() {
        for entry in [
            entry("https://example.com/", 0, 0),
            entry(
                &format!("https://example.com/?q={}", "q".repeat(8000)),
                64,
                10,
            ),
            entry("https://example.com/big", 3, 100_000),
        ] {
            // The long URL's key is hashed, but its URL is kept whole.
            let key = "p:1:sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
            let counted = footprint(key, &entry) as usize;
            assert!(
                counted >= content_bytes(key, &entry) + JS_HEADERS_BYTES,
                "{counted} for {} URL bytes",
                entry.meta.url.len()
            );
        }
    }

    #[test]
    fn a_long_url_costs_its_length_even_under_a_hashed_key() {
        let key = "p:1:sha256:00";
        let short = footprint(key, &entry("https://example.com/", 0, 0));
        let long = footprint(
            key,
            &entry(&format!("https://example.com/{}", "u".repeat(8000)), 0, 0),
        );
        // Counted twice: in the URL and in the metadata's copy of the full key.
        assert!(long - short >= 2 * 8000, "{short} then {long}");
    }

    #[test]
    fn tags_headers_and_vary_names_are_counted() {
        let key = "p:1:k";
        let plain = footprint(key, &entry("https://example.com/", 0, 0));
        let tagged = footprint(key, &entry("https://example.com/", 64, 0));
        assert!(tagged - plain >= (0..64).map(|i| format!("tag-{i}").len() as u64).sum());
        let mut meta = (*entry("https://example.com/", 0, 0).meta).clone();
        meta.vary = vec!["accept-language".into(); 10];
        assert!(footprint_of(key, &meta, 0) - plain >= 150);
        meta.headers.push(("x-long".into(), "v".repeat(2000)));
        assert!(
            footprint_of(key, &meta, 0) - plain >= 150 + 2 * 2000,
            "a field is counted in Wasm and in the runtime's Headers"
        );
    }

    #[test]
    fn the_client_fields_are_counted_for_responses_only() {
        let key = "p:1:k";
        let response = entry("https://example.com/", 0, 0);
        let mut marker = (*response.meta).clone();
        marker.kind = Kind::Variants;
        let difference = footprint(key, &response) - footprint_of(key, &marker, 0);
        assert!(difference >= JS_HEADERS_BYTES as u64 + 2 * JS_FIELD_BYTES as u64);
    }
}
