//! Opening a handle on a backend, and the handle's settings: prefix, version, default
//! timeout, key function (Django's `CACHES` entry, as builder calls).

use std::rc::Rc;

use worker::kv::KvStore;
use worker::Env;

use super::{
    default_key_function, Cache, Error, Result, CACHE_API_BASE, DEFAULT_MEMORY_BUDGET,
    DEFAULT_TIMEOUT,
};
use crate::store::{CacheApiStore, KvBackend, MemoryStore, R2Store, Tier};
use edgecache_core::config::Backend;

impl Cache {
    fn over(backend: Tier) -> Cache {
        Cache {
            backend: Rc::new(backend),
            prefix: String::new(),
            version: 1,
            default_timeout: DEFAULT_TIMEOUT,
            key_function: Rc::new(default_key_function),
            generation: Rc::default(),
        }
    }

    /// The isolate's memory tier (Django's LocMemCache), with a 16 MiB budget if this is the
    /// first use of the tier in the isolate.
    pub fn memory() -> Cache {
        Cache::memory_with_budget(DEFAULT_MEMORY_BUDGET)
    }

    /// The memory tier with `budget` bytes, if this is the first use of the tier in the
    /// isolate (the tier is one per isolate; a later budget is ignored). One value may use
    /// at most a quarter of it.
    pub fn memory_with_budget(budget: u64) -> Cache {
        Cache::over(Tier::Memory(MemoryStore::new(budget)))
    }

    /// The Cache API (`caches.default`), keys under [`CACHE_API_BASE`].
    pub fn cache_api() -> Cache {
        Cache::cache_api_at(CACHE_API_BASE)
    }

    /// The Cache API with keys under another base URL (`https://host`), e.g. your
    /// zone's own host.
    pub fn cache_api_at(base: &str) -> Cache {
        Cache::over(Tier::CacheApi(CacheApiStore::new(
            base.trim_end_matches('/'),
        )))
    }

    /// Workers KV, through the namespace bound as `binding`; a missing binding is
    /// `Error::Store(StoreError::Binding(..))`.
    pub fn kv(env: &Env, binding: &str) -> Result<Cache> {
        let kv = env.kv(binding).map_err(|e| {
            Error::Store(edgecache_core::storage::error::StoreError::Binding(
                format!("KV namespace {binding}: {e}"),
            ))
        })?;
        Ok(Cache::kv_store(kv))
    }

    /// Workers KV, through a namespace already at hand.
    pub fn kv_store(kv: KvStore) -> Cache {
        Cache::over(Tier::Kv(KvBackend::new(kv)))
    }

    /// An R2 bucket, through the bucket bound as `binding`: values over KV's 25 MiB, and no
    /// expiry of its own (a value past its timeout is a miss, and deleted when read); a
    /// missing binding is `Error::Store(StoreError::Binding(..))`.
    pub fn r2(env: &Env, binding: &str) -> Result<Cache> {
        let bucket = env.bucket(binding).map_err(|e| {
            Error::Store(edgecache_core::storage::error::StoreError::Binding(
                format!("R2 bucket {binding}: {e}"),
            ))
        })?;
        Ok(Cache::over(Tier::R2(R2Store::new(bucket))))
    }

    /// Django's `KEY_PREFIX`: at most 64 bytes, no `:` (checked on use:
    /// `Error::InvalidPrefix`).
    pub fn with_prefix(mut self, prefix: &str) -> Cache {
        if prefix != self.prefix {
            self.prefix = prefix.to_string();
            self.generation = Rc::default();
        }
        self
    }

    /// Django's `VERSION` (default 1), and its per-call `version=`:
    /// `cache.with_version(2).get("k")`.
    pub fn with_version(mut self, version: u64) -> Cache {
        self.version = version;
        self
    }

    /// The timeout [`Cache::default_timeout`] returns (Django's `TIMEOUT`, 300 s unless set).
    pub fn with_default_timeout(mut self, timeout: Option<u64>) -> Cache {
        self.default_timeout = timeout;
        self
    }

    /// Django's `KEY_FUNCTION`: `(prefix, version, key)` → stored key. Keys it makes over
    /// 512 bytes are hashed.
    pub fn with_key_function(mut self, f: impl Fn(&str, u64, &str) -> String + 'static) -> Cache {
        self.key_function = Rc::new(f);
        self
    }

    /// The backend this handle uses.
    pub fn backend(&self) -> Backend {
        self.backend.backend()
    }

    /// The version keys are made with.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The configured default timeout, to pass where Django would use `DEFAULT_TIMEOUT`.
    pub fn default_timeout(&self) -> Option<u64> {
        self.default_timeout
    }
}
