//! Workers KV: global and eventually consistent (writes reach other locations within about
//! 60 s), 512-byte keys (longer keys are hashed by `key.rs`), 25 MiB values, and an
//! `expirationTtl` of at least 60 s. Freshness is enforced on read from the entry's own
//! metadata, so an entry fresh for 10 s is not served for 60.

use worker::kv::KvStore;
use worker::Env;

use super::{Entry, Store, StoreError, KEEP_FOREVER};
use edgecache_core::config::Backend;
use edgecache_core::storage::record::{decode, encode};

/// The KV namespace binding edgecache uses, as named in `wrangler.toml`.
pub const KV_BINDING: &str = match Backend::Kv.describe().binding {
    Some(binding) => binding,
    None => "EDGECACHE_KV",
};

/// The longest `expirationTtl` asked of KV, a year: the runtime refuses values past 2^31 - 1
/// (a lifetime saturated at 2^31, or a far-future `Expires`, would fail every write), and
/// freshness is enforced from the entry itself, so an entry dropped earlier is only a miss.
pub const KV_MAX_TTL: u64 = 365 * 24 * 3600;

pub struct KvBackend {
    kv: KvStore,
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        backend: Backend::Kv,
        reason: error.to_string(),
    }
}

impl KvBackend {
    /// A backend over any KV namespace, e.g. one a library user binds under another name.
    pub fn new(kv: KvStore) -> KvBackend {
        KvBackend { kv }
    }
}

impl Store for KvBackend {
    fn open(env: &Env, _url_base: &str, _memory_budget: u64) -> Result<KvBackend, StoreError> {
        env.kv(KV_BINDING)
            .map(|kv| KvBackend { kv })
            .map_err(|e| StoreError::Binding(format!("KV namespace {KV_BINDING}: {e}")))
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let value = self.kv.get(key).bytes().await.map_err(failed)?;
        Ok(value
            .and_then(decode)
            .map(|(meta, body)| Entry::new(meta, body)))
    }

    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError> {
        let put = self
            .kv
            .put_bytes(key, &encode(&entry.meta, &entry.body))
            .map_err(failed)?;
        let put = if keep_secs == KEEP_FOREVER {
            put
        } else {
            put.expiration_ttl(keep_secs.clamp(Backend::Kv.describe().min_ttl_secs, KV_MAX_TTL))
        };
        put.execute().await.map_err(failed)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv.delete(key).await.map_err(failed)
    }
}
