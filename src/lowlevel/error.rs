//! The low-level API's one error type. Pure: no `worker` dependency, so the limits and key
//! rules that produce most of these are tested on the host.

use std::fmt;

use edgecache_core::config::Backend;
use edgecache_core::storage::error::StoreError;

/// Everything a low-level cache call can fail with. Runtime limits (KV's key and value sizes,
/// its minimum TTL) are handled before a call reaches the backend, so what the runtime would
/// refuse arrives here as a named variant rather than as a JavaScript exception's text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The key (after the key function) cannot be stored: empty, or `.`/`..`, which KV refuses.
    InvalidKey {
        /// The stored key the key function made.
        key: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The key prefix is longer than 64 bytes or holds `:` or a control character; a long
    /// prefix would push hashed keys past KV's 512 bytes, and `:` would blur where it ends.
    InvalidPrefix(String),
    /// The value does not fit the backend: over 25 MiB for KV, over a quarter of the memory
    /// tier's budget, over 512 MiB for the Cache API.
    ValueTooLarge {
        /// The key as the caller gave it.
        key: String,
        /// The stored record's size in bytes (the value's JSON plus the record's envelope).
        bytes: u64,
        /// The backend's limit in bytes.
        limit: u64,
        /// The backend that would refuse it.
        backend: Backend,
    },
    /// The value could not be turned into JSON (e.g. a map with non-string keys).
    Serialize(String),
    /// The stored JSON is not a value of the type asked for (the type changed between
    /// deploys: bump the version).
    Deserialize {
        /// The key as the caller gave it.
        key: String,
        /// serde_json's message.
        reason: String,
    },
    /// `incr`, `decr` or `incr_version` on a key that holds nothing (Django's `ValueError`).
    Missing(String),
    /// `incr`/`decr` on a value that is not an integer.
    NotAnInteger(String),
    /// `incr`/`decr` past `i64`, or a version pushed below 0 or past `u64`.
    Overflow(String),
    /// The backend's binding is missing, or the backend failed the operation.
    Store(StoreError),
}

/// The low-level API's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidKey { key, reason } => write!(f, "invalid cache key {key:?}: {reason}"),
            Error::InvalidPrefix(reason) => write!(f, "invalid key prefix: {reason}"),
            Error::ValueTooLarge {
                key,
                bytes,
                limit,
                backend,
            } => write!(
                f,
                "value for {key:?} is {bytes} bytes stored, over the {} limit of {limit} bytes",
                backend.as_str()
            ),
            Error::Serialize(reason) => write!(f, "value cannot be serialized: {reason}"),
            Error::Deserialize { key, reason } => {
                write!(
                    f,
                    "value under {key:?} is not of the type asked for: {reason}"
                )
            }
            Error::Missing(key) => write!(f, "key {key:?} not found"),
            Error::NotAnInteger(key) => write!(f, "value under {key:?} is not an integer"),
            Error::Overflow(key) => write!(f, "incrementing {key:?} overflows"),
            Error::Store(e) => write!(f, "storage: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}
