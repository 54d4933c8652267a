//! Django's low-level cache API (`cache.get`, `set`, `add`, `get_or_set`, `incr`, …) for
//! workers-rs projects, over any edgecache backend (`Backend::ALL`): the in-isolate memory
//! tier, the Cache API, Workers KV or R2. Add edgecache with `default-features = false` (which leaves out
//! the proxy's `#[event(fetch)]`) and:
//!
//! ```no_run
//! # async fn example(env: worker::Env) -> edgecache::lowlevel::Result<()> {
//! use edgecache::lowlevel::Cache;
//!
//! let cache = Cache::kv(&env, "CACHE")?.with_prefix("blog");
//! cache.set("greeting", "hello", Some(60)).await?;
//! let greeting: Option<String> = cache.get("greeting").await?;
//! let report: String = cache
//!     .get_or_set("report", Some(600), || async { Ok::<_, edgecache::lowlevel::Error>("…".to_string()) })
//!     .await?;
//! # let _ = (greeting, report); Ok(()) }
//! ```
//!
//! Values are any `serde` type, stored as JSON. Timeouts are seconds: `None` keeps a value
//! forever, `Some(0)` does not store it (and deletes what was there), as in Django. Every
//! value records its exact expiry and is checked on read, so a 1 s timeout is 1 s on KV too
//! (KV itself is given its 60 s minimum).
//!
//! What each backend guarantees:
//! - **memory**: one isolate's LRU (shared with the proxy's memory tier). Not shared between
//!   isolates, gone when the isolate is, and values may be evicted early. Within an isolate
//!   `add`, `incr`, `decr`, `touch` and `incr_version` are atomic: they never wait on I/O
//!   between reading and writing, and an isolate runs one task at a time.
//! - **cache** (the Cache API, `caches.default`): one data center; entries may be
//!   evicted before they expire. Read-modify-write operations (`add`, `incr`, `decr`, `touch`,
//!   `incr_version`) are **not atomic**: two concurrent calls, even in one isolate, can both
//!   `add`, and concurrent `incr`s can lose updates.
//! - **kv** (Workers KV): global and eventually consistent: a write is seen in other
//!   locations within about 60 s, and KV accepts about one write per second per key.
//!   Read-modify-write operations are **not atomic** either. Use a Durable Object for an
//!   exact counter.
//! - **r2** (an R2 bucket, `Cache::r2`): global and strongly consistent, values up to R2's
//!   object size, no minimum timeout; read-modify-write operations are **not atomic**.
//!
//! On every backend, concurrent `get_or_set` misses for one key within an isolate share one
//! call of the producer; other isolates run their own.
//!
//! `clear()` is O(1) whatever the cache holds: it records a new generation, which enters
//! every key through the prefix the key function is given. A handle re-reads the generation
//! at most every 5 s, so a clear elsewhere is seen within 5 s (plus KV's 60 s propagation).
#![warn(missing_docs)]

mod counters;
pub mod error;
pub mod keys;
mod open;
pub mod record;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::rc::Rc;

use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::flow::coalesce::{self, Flight, Settled};
use crate::runtime::now_ms;
use crate::store::{Entry, MemoryStore, Tier};

pub use error::{Error, Result};
pub use keys::{default_key_function, KeyFunction};
use keys::{effective_prefix, generation_key, make_key, validate_prefix, StoredKey};
use record::{check_size, is_usable, next_generation, value_meta, ValueExpiry, FOREVER};

/// The Cache API needs URLs as keys; values are stored under
/// `<base>/__edgecache/<sha256 of key>`. Cloudflare keeps Cache API entries per zone, so a
/// fixed internal host names nothing outside it.
pub const CACHE_API_BASE: &str = "https://edgecache.internal";

/// How long a `get_or_set` waits for another call in the isolate producing the same key
/// before producing for itself.
pub const GET_OR_SET_WAIT_MS: u64 = 30_000;

/// Django's default timeout: 300 s.
pub const DEFAULT_TIMEOUT: Option<u64> = Some(300);

/// The memory tier's budget when `Cache::memory()` is the first to open it in an isolate.
pub const DEFAULT_MEMORY_BUDGET: u64 = 16 * 1024 * 1024;

thread_local! {
    /// The memory backend's generations, per prefix: per isolate, like its values, and never
    /// evicted (a generation kept in the LRU could be, bringing cleared values back).
    static MEMORY_GENERATIONS: RefCell<HashMap<String, i64>> = RefCell::new(HashMap::new());
}

/// A handle on one backend with a prefix, a version, a default timeout and a key function.
/// Cheap to clone; `with_*` return adjusted copies that share the backend.
#[derive(Clone)]
pub struct Cache {
    backend: Rc<Tier>,
    prefix: String,
    version: u64,
    default_timeout: Option<u64>,
    key_function: KeyFunction,
    /// The generation last read, and when; shared by copies of this handle.
    generation: Rc<Cell<Option<(i64, i64)>>>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.backend.backend())
            .field("prefix", &self.prefix)
            .field("version", &self.version)
            .field("default_timeout", &self.default_timeout)
            .finish_non_exhaustive()
    }
}

impl From<Error> for worker::Error {
    /// So that `get_or_set` producers and handlers returning `worker::Result` can use `?`.
    fn from(e: Error) -> worker::Error {
        worker::Error::RustError(e.to_string())
    }
}

impl Cache {
    /// The stored key for `key` (Django's `make_key`), with the current generation.
    pub async fn make_key(&self, key: &str) -> Result<String> {
        Ok(self.stored_key(key).await?.key)
    }

    async fn stored_key(&self, key: &str) -> Result<StoredKey> {
        validate_prefix(&self.prefix)?;
        let generation = self.generation().await?;
        make_key(
            &*self.key_function,
            &effective_prefix(&self.prefix, generation),
            self.version,
            key,
        )
    }

    async fn generation(&self) -> Result<i64> {
        let now = now_ms();
        if let Some((generation, read_at)) = self.generation.get() {
            if now - read_at < record::GENERATION_RECHECK_MS {
                return Ok(generation);
            }
        }
        let generation = if let Tier::Memory(_) = &*self.backend {
            MEMORY_GENERATIONS.with(|g| g.borrow().get(&self.prefix).copied().unwrap_or(0))
        } else {
            let key = generation_key(&self.prefix);
            match self.backend.get(&key).await? {
                Some(entry) if is_usable(&entry.meta, &key, now) => {
                    serde_json::from_slice(&entry.body).unwrap_or(0)
                }
                _ => 0,
            }
        };
        self.generation.set(Some((generation, now)));
        Ok(generation)
    }

    /// The live record under `stored`, if any.
    async fn read(&self, stored: &StoredKey) -> Result<Option<Entry>> {
        let entry = self.backend.get(&stored.key).await?;
        Ok(entry.filter(|e| is_usable(&e.meta, &stored.check, now_ms())))
    }

    /// Writes `json` under `stored` with the given start and lifetime; a record already
    /// expired is not written.
    async fn write(
        &self,
        key: &str,
        stored: &StoredKey,
        json: Vec<u8>,
        stored_at: i64,
        lifetime: u64,
    ) -> Result<()> {
        let meta = value_meta(&stored.check, stored_at, lifetime, json.len());
        check_size(key, &meta, &json, self.backend(), MemoryStore::budget())?;
        let Some(keep) = ValueExpiry::of(&meta).keep_secs(now_ms(), self.backend()) else {
            return Ok(());
        };
        self.backend
            .put(&stored.key, &Entry::new(meta, json), keep)
            .await?;
        Ok(())
    }

    fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| Error::Serialize(e.to_string()))
    }

    fn from_json<T: DeserializeOwned>(key: &str, json: &[u8]) -> Result<T> {
        serde_json::from_slice(json).map_err(|e| Error::Deserialize {
            key: key.to_string(),
            reason: e.to_string(),
        })
    }

    /// The value under `key`, or `None` if absent or expired.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let stored = self.stored_key(key).await?;
        match self.read(&stored).await? {
            Some(entry) => Ok(Some(Self::from_json(key, &entry.body)?)),
            None => Ok(None),
        }
    }

    /// The value under `key`, or `default` (Django's `get(key, default)`).
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        Ok(self.get(key).await?.unwrap_or(default))
    }

    /// Stores `value` under `key` for `timeout` seconds: `None` forever, `Some(0)` not at all
    /// (and what was there is deleted), as in Django.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        timeout: Option<u64>,
    ) -> Result<()> {
        let json = Self::to_json(value)?;
        let stored = self.stored_key(key).await?;
        self.set_json(key, &stored, json, timeout).await
    }

    async fn set_json(
        &self,
        key: &str,
        stored: &StoredKey,
        json: Vec<u8>,
        timeout: Option<u64>,
    ) -> Result<()> {
        if timeout == Some(0) {
            self.backend.delete(&stored.key).await?;
            return Ok(());
        }
        self.write(key, stored, json, now_ms(), timeout.unwrap_or(FOREVER))
            .await
    }

    /// Stores `value` only if `key` holds nothing live; `true` if it did. Not atomic on the
    /// Cache API or KV (see the module's documentation).
    pub async fn add<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        timeout: Option<u64>,
    ) -> Result<bool> {
        let json = Self::to_json(value)?;
        let stored = self.stored_key(key).await?;
        if self.read(&stored).await?.is_some() {
            return Ok(false);
        }
        if timeout != Some(0) {
            self.write(key, &stored, json, now_ms(), timeout.unwrap_or(FOREVER))
                .await?;
        }
        Ok(true)
    }

    /// The value under `key`; on a miss, `producer` is called once, its value stored for
    /// `timeout` and returned. Concurrent calls for one key in an isolate share one
    /// production (whatever the backend); calls in other isolates do not. The producer's error type absorbs the cache's (`E:
    /// From<Error>`; `worker::Error` does), so it can be any error of the caller's. A failure
    /// to store the produced value is returned as an error, the value with it lost: use
    /// `get` and `set` to treat storage as best effort.
    pub async fn get_or_set<T, F, Fut, E>(
        &self,
        key: &str,
        timeout: Option<u64>,
        producer: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let stored = self.stored_key(key).await?;
        if let Some(entry) = self.read(&stored).await? {
            return Ok(Self::from_json(key, &entry.body)?);
        }
        // Concurrent misses for one key in this isolate share one production: the first
        // leads, the others wait for its value (see `crate::flow::coalesce`).
        let flight_key = format!("lowlevel\u{0}{}", stored.key);
        let leader = match coalesce::join(&flight_key, now_ms(), None) {
            Flight::Leader(leader) => Some(leader),
            Flight::Follower(ticket) => {
                if let Some(Settled::Stored(entry)) =
                    coalesce::wait_for(&ticket, GET_OR_SET_WAIT_MS).await
                {
                    return Ok(Self::from_json(key, &entry.body)?);
                }
                // The leader failed or took too long: produce for ourselves.
                None
            }
            Flight::Pass | Flight::LookAgain => None,
        };
        // A leader dropped unsettled (an error below) settles as failed: followers then
        // produce for themselves.
        let value = producer().await?;
        let json = Self::to_json(&value)?;
        self.set_json(key, &stored, json.clone(), timeout).await?;
        if let Some(leader) = leader {
            let meta = value_meta(&stored.check, now_ms(), 0, json.len());
            leader.settle(Settled::Stored(Entry::new(meta, json)));
        }
        Ok(value)
    }

    /// Deletes `key`; deleting nothing is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let stored = self.stored_key(key).await?;
        self.backend.delete(&stored.key).await?;
        Ok(())
    }

    /// `key` holds a live value.
    pub async fn has_key(&self, key: &str) -> Result<bool> {
        let stored = self.stored_key(key).await?;
        Ok(self.read(&stored).await?.is_some())
    }

    /// The live values among `keys`, by key (absent keys are left out), read concurrently.
    pub async fn get_many<T: DeserializeOwned>(&self, keys: &[&str]) -> Result<HashMap<String, T>> {
        let found = join_all(keys.iter().map(|key| async move {
            self.get::<T>(key)
                .await
                .map(|v| v.map(|v| (key.to_string(), v)))
        }))
        .await;
        let mut values = HashMap::new();
        for item in found {
            if let Some((key, value)) = item? {
                values.insert(key, value);
            }
        }
        Ok(values)
    }

    /// Stores every `(key, value)` pair for `timeout`, concurrently. Every pair is
    /// attempted; the first error, if any, is returned.
    pub async fn set_many<T: Serialize>(
        &self,
        items: &[(&str, T)],
        timeout: Option<u64>,
    ) -> Result<()> {
        let results = join_all(
            items
                .iter()
                .map(|(key, value)| self.set(key, value, timeout)),
        )
        .await;
        results.into_iter().collect()
    }

    /// Deletes every key in `keys`, concurrently; the first error, if any, is returned.
    pub async fn delete_many(&self, keys: &[&str]) -> Result<()> {
        let results = join_all(keys.iter().map(|key| self.delete(key))).await;
        results.into_iter().collect()
    }

    /// Gives `key` a new timeout from now (`Some(0)`: expires it at once); `true` if it held
    /// a live value. Not atomic on the Cache API or KV.
    pub async fn touch(&self, key: &str, timeout: Option<u64>) -> Result<bool> {
        let stored = self.stored_key(key).await?;
        let Some(entry) = self.read(&stored).await? else {
            return Ok(false);
        };
        self.set_json(key, &stored, entry.body.to_vec(), timeout)
            .await?;
        Ok(true)
    }

    /// Makes every value of this prefix unreachable at once, in O(1): a new generation is
    /// recorded (in the backend, or per isolate for the memory tier) and enters every key.
    /// Old values are not deleted; they expire, or the backend evicts them.
    pub async fn clear(&self) -> Result<()> {
        validate_prefix(&self.prefix)?;
        let now = now_ms();
        // Read afresh: another isolate may have cleared since this handle last looked.
        self.generation.set(None);
        let generation = next_generation(self.generation().await?, now);
        if let Tier::Memory(_) = &*self.backend {
            MEMORY_GENERATIONS.with(|g| g.borrow_mut().insert(self.prefix.clone(), generation));
        } else {
            let key = generation_key(&self.prefix);
            let stored = StoredKey {
                key: key.clone(),
                check: key,
            };
            self.write(
                "(generation)",
                &stored,
                Self::to_json(&generation)?,
                now,
                FOREVER,
            )
            .await?;
        }
        self.generation.set(Some((generation, now_ms())));
        Ok(())
    }
}
