//! Storage backends behind one small trait, and the tiers a route reads through.
//!
//! Every backend stores the same `Entry` (metadata + body) under the same rendered key, so a
//! route can move between backends, or stack them, without a format change. Errors are
//! values, never panics: the proxy logs them and falls through to the origin.

mod body;
mod cache_api;
mod client_headers;
mod kv;
mod memory;
mod r2;

use std::cell::OnceCell;
use std::fmt;
use std::rc::Rc;

use web_sys::ReadableStream;
use worker::Env;

use edgecache_core::config::Backend;
use edgecache_core::storage::record::Meta;

pub use body::{read_body, unread_body};
pub use cache_api::CacheApiStore;
pub use client_headers::ClientHeaders;
pub use edgecache_core::storage::error::{Operation, StoreError, TierError, KEEP_FOREVER};
pub use kv::{KvBackend, KV_BINDING};
pub use memory::{footprint, footprint_of, MemoryStore};
pub use r2::R2Store;

/// A stored record: a response, or a `Vary` marker (whose body is empty). Every part is
/// shared, so handing an entry out of the memory tier copies nothing.
#[derive(Clone)]
pub struct Entry {
    pub meta: Rc<Meta>,
    pub body: Rc<[u8]>,
    /// The client-facing fields, built in JavaScript on first use: a memory-tier entry then
    /// answers each hit with one copy of them instead of one call per field.
    pub client_headers: Rc<OnceCell<ClientHeaders>>,
}

impl Entry {
    pub fn new(meta: Meta, body: impl Into<Rc<[u8]>>) -> Entry {
        Entry {
            meta: Rc::new(meta),
            body: body.into(),
            client_headers: Rc::default(),
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("meta", &self.meta)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What every backend does: open, get / put / delete, and the two ways around Wasm that some
/// of them offer (a read that leaves the body in the runtime, a write from a stream). Workers
/// futures are not `Send`, so neither is this trait.
#[allow(async_fn_in_trait)]
pub trait Store: Sized {
    /// Opens the backend for a request under `url_base` (`https://host`); a missing binding
    /// is `StoreError::Binding`.
    fn open(env: &Env, url_base: &str, memory_budget: u64) -> Result<Self, StoreError>;
    /// Like `get`, but a backend that can leaves the body unread (`Read`).
    async fn read(&self, key: &str) -> Result<Option<Read>, StoreError> {
        Ok(self.get(key).await?.map(|entry| Read {
            entry,
            unread: None,
        }))
    }
    /// The entry under `key`, or `None`; an unreadable or foreign-format record is `None`.
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;
    /// Stores `entry`, to be kept for at least `keep_secs` seconds where the backend allows
    /// (`KEEP_FOREVER`: with no expiry).
    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError>;
    /// Stores an entry whose body (`meta.body_len` bytes) is read from `body` as it is
    /// written, never held in Wasm: for backends whose descriptor says `streams_writes`.
    async fn put_stream(
        &self,
        key: &str,
        meta: &Meta,
        body: ReadableStream,
        keep_secs: u64,
    ) -> Result<(), StoreError> {
        let _ = (key, meta, keep_secs, body.cancel());
        Err(StoreError::Binding(
            "this backend stores no streams".to_string(),
        ))
    }
    /// Bytes `first..=last` of the body of the entry `meta` describes (stored under
    /// `meta.key`), read by the backend itself so that no other byte reaches the isolate: for
    /// backends whose descriptor says `Ranges::ByBackend`. `None` when the entry there is no
    /// longer that one (replaced or removed since it was read).
    async fn read_part(
        &self,
        meta: &Meta,
        first: u64,
        last: u64,
    ) -> Result<Option<ReadableStream>, StoreError> {
        let _ = (meta, first, last);
        Err(StoreError::Binding(
            "this backend reads no parts of a body".to_string(),
        ))
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Opens `backends` for requests under `url_base` (`https://host`); one that cannot be opened
/// is left out, so the others still serve, and reported in `failed`.
pub fn open_tiers(backends: &[Backend], env: &Env, url_base: &str, memory_budget: u64) -> Opened {
    let mut opened = Opened {
        tiers: Vec::with_capacity(backends.len()),
        failed: Vec::new(),
    };
    for &backend in backends {
        match Tier::open(backend, env, url_base, memory_budget) {
            Ok(tier) => opened.tiers.push(tier),
            Err(e) => opened
                .failed
                .push(TierError::new(backend, Operation::Open, e)),
        }
    }
    opened
}

/// The tiers `open_tiers` opened, and those it could not.
pub struct Opened {
    pub tiers: Vec<Tier>,
    pub failed: Vec<TierError>,
}

/// An entry as a lookup reads it. From the Cache API, KV and R2 its body is left in the
/// runtime as a stream (`unread`, and `entry.body` is empty until it is read): a hit can then
/// be sent to the client, whole or in part, without the body passing through Wasm.
pub struct Read {
    pub entry: Entry,
    pub unread: Option<web_sys::Response>,
}

/// `Tier`, one backend opened for one request: a variant per backend, named as in
/// `Backend`, over the store that implements it.
macro_rules! tiers {
    ($($backend:ident($store:ty)),* $(,)?) => {
        pub enum Tier {
            $($backend($store)),*
        }

        impl Tier {
            /// Opens `backend`; `url_base` (`https://host`) names Cache API entries within
            /// the zone.
            pub fn open(
                backend: Backend,
                env: &Env,
                url_base: &str,
                memory_budget: u64,
            ) -> Result<Tier, StoreError> {
                Ok(match backend {
                    $(Backend::$backend => {
                        Tier::$backend(<$store>::open(env, url_base, memory_budget)?)
                    })*
                })
            }

            pub fn backend(&self) -> Backend {
                match self {
                    $(Tier::$backend(_) => Backend::$backend),*
                }
            }

            /// Like `get`, but leaves the body unread where the backend can (`Read`).
            pub async fn read(&self, key: &str) -> Result<Option<Read>, StoreError> {
                match self {
                    $(Tier::$backend(s) => s.read(key).await),*
                }
            }

            pub async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
                match self {
                    $(Tier::$backend(s) => s.get(key).await),*
                }
            }

            pub async fn put(
                &self,
                key: &str,
                entry: &Entry,
                keep_secs: u64,
            ) -> Result<(), StoreError> {
                match self {
                    $(Tier::$backend(s) => s.put(key, entry, keep_secs).await),*
                }
            }

            pub async fn put_stream(
                &self,
                key: &str,
                meta: &Meta,
                body: ReadableStream,
                keep_secs: u64,
            ) -> Result<(), StoreError> {
                match self {
                    $(Tier::$backend(s) => s.put_stream(key, meta, body, keep_secs).await),*
                }
            }

            pub async fn read_part(
                &self,
                meta: &Meta,
                first: u64,
                last: u64,
            ) -> Result<Option<ReadableStream>, StoreError> {
                match self {
                    $(Tier::$backend(s) => s.read_part(meta, first, last).await),*
                }
            }

            pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
                match self {
                    $(Tier::$backend(s) => s.delete(key).await),*
                }
            }
        }
    };
}

impl Tier {
    /// Whether this tier can hold a body of `body_len` bytes: within its descriptor's largest
    /// value, or, bounded by configuration alone (the memory tier), a quarter of its budget.
    pub fn holds(&self, body_len: u64) -> bool {
        match self.backend().describe().max_value_bytes {
            Some(limit) => body_len <= limit,
            None => body_len <= MemoryStore::budget() / 4,
        }
    }
}

// The stores behind the backends `Backend::ALL` lists, one line each.
tiers! {
    Memory(MemoryStore),
    CacheApi(CacheApiStore),
    Kv(KvBackend),
    R2(R2Store),
}
