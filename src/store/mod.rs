//! Storage backends behind one small trait, and the tiers a route reads through.
//!
//! Every backend stores the same `Entry` (metadata + body) under the same rendered key, so a
//! route can move between backends, or stack them, without a format change. Errors are
//! values, never panics: the proxy logs them and falls through to the origin.

mod cache_api;
mod kv;
mod memory;

use std::cell::OnceCell;
use std::fmt;
use std::rc::Rc;

use worker::Env;

use crate::flow::client_fields::ClientFields;
use edgecache_core::config::Backend;
use edgecache_core::storage::record::Meta;

pub use cache_api::{read_body, read_part, unread_body, CacheApiStore};
pub use edgecache_core::storage::error::{StoreError, KEEP_FOREVER};
pub use kv::{KvBackend, KV_BINDING};
pub use memory::{footprint, footprint_of, MemoryStore};

/// A stored record: a response, or a `Vary` marker (whose body is empty). Every part is
/// shared, so handing an entry out of the memory tier copies nothing.
#[derive(Clone)]
pub struct Entry {
    pub meta: Rc<Meta>,
    pub body: Rc<[u8]>,
    /// The client-facing fields, built in JavaScript on first use: a memory-tier entry then
    /// answers each hit with one copy of them instead of one call per field.
    pub client_fields: Rc<OnceCell<ClientFields>>,
}

impl Entry {
    pub fn new(meta: Meta, body: impl Into<Rc<[u8]>>) -> Entry {
        Entry {
            meta: Rc::new(meta),
            body: body.into(),
            client_fields: Rc::default(),
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

/// get / put / delete. Workers futures are not `Send`, so neither is this trait.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The entry under `key`, or `None`; an unreadable or foreign-format record is `None`.
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;
    /// Stores `entry`, to be kept for at least `keep_secs` seconds where the backend allows
    /// (`KEEP_FOREVER`: with no expiry).
    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Opens `backends` for requests under `url_base` (`https://host`); one that cannot be opened
/// is reported in `errors` and left out, so the others still serve.
pub fn open_tiers(
    backends: &[Backend],
    env: &Env,
    url_base: &str,
    memory_budget: u64,
    errors: &mut Vec<String>,
) -> Vec<Tier> {
    backends
        .iter()
        .filter_map(
            |&backend| match Tier::open(backend, env, url_base, memory_budget) {
                Ok(tier) => Some(tier),
                Err(e) => {
                    errors.push(e.to_string());
                    None
                }
            },
        )
        .collect()
}

/// One backend, opened for one request.
pub enum Tier {
    Memory(MemoryStore),
    Cache(CacheApiStore),
    Kv(KvBackend),
}

impl Tier {
    /// Opens `backend`; `url_base` (`https://host`) names Cache API entries within the zone.
    pub fn open(
        backend: Backend,
        env: &Env,
        url_base: &str,
        memory_budget: u64,
    ) -> Result<Tier, StoreError> {
        Ok(match backend {
            Backend::Memory => Tier::Memory(MemoryStore::new(memory_budget)),
            Backend::Cache => Tier::Cache(CacheApiStore::new(url_base)),
            Backend::Kv => Tier::Kv(KvBackend::open(env)?),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tier::Memory(_) => Backend::Memory,
            Tier::Cache(_) => Backend::Cache,
            Tier::Kv(_) => Backend::Kv,
        }
    }
}

/// An entry as a lookup reads it. From the Cache API its body is left in the runtime
/// (`unread`, and `entry.body` is empty until it is read): a hit can then be sent to the
/// client, whole or in part, without the body passing through Wasm.
pub struct Read {
    pub entry: Entry,
    pub unread: Option<web_sys::Response>,
}

impl Tier {
    /// Like `get`, but leaves a Cache API entry's body unread (`Read`).
    pub async fn read(&self, key: &str) -> Result<Option<Read>, StoreError> {
        Ok(match self {
            Tier::Cache(store) => store.get_unread(key).await?.map(|(entry, response)| Read {
                entry,
                unread: Some(response),
            }),
            tier => tier.get(key).await?.map(|entry| Read {
                entry,
                unread: None,
            }),
        })
    }
}

impl Store for Tier {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        match self {
            Tier::Memory(s) => s.get(key).await,
            Tier::Cache(s) => s.get(key).await,
            Tier::Kv(s) => s.get(key).await,
        }
    }

    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError> {
        match self {
            Tier::Memory(s) => s.put(key, entry, keep_secs).await,
            Tier::Cache(s) => s.put(key, entry, keep_secs).await,
            Tier::Kv(s) => s.put(key, entry, keep_secs).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Tier::Memory(s) => s.delete(key).await,
            Tier::Cache(s) => s.delete(key).await,
            Tier::Kv(s) => s.delete(key).await,
        }
    }
}
