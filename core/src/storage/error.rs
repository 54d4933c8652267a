//! What a storage backend can fail with, and the keep time that asks for no expiry.

use std::fmt;

use crate::storage::backend::Backend;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The binding a backend needs is missing or of the wrong type.
    Binding(String),
    /// The backend refused or failed an operation.
    Backend { backend: Backend, reason: String },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Binding(reason) => write!(f, "binding: {reason}"),
            StoreError::Backend { backend, reason } => write!(f, "{}: {reason}", backend.as_str()),
        }
    }
}

/// `keep_secs` asking a backend to keep an entry with no expiry of its own (KV: no
/// `expirationTtl`; Cache API: the longest `max-age` HTTP allows; memory: until evicted).
pub const KEEP_FOREVER: u64 = u64::MAX;
