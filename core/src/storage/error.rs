//! What a storage backend can fail with, the same failure as the flow and the admin API
//! report it (which tier, doing what), and the keep time that asks for no expiry.

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

/// What a tier was asked to do when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Opening it for the request (its binding).
    Open,
    /// Reading an entry (its metadata, the body left unread where the backend can).
    Read,
    /// Reading the body an entry's read left in the runtime.
    ReadBody,
    /// Reading part of a body (`Ranges::ByBackend`).
    ReadPart,
    Delete,
}

impl Operation {
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Open => "open",
            Operation::Read => "read",
            Operation::ReadBody => "body read",
            Operation::ReadPart => "part read",
            Operation::Delete => "delete",
        }
    }
}

/// A storage failure as a request's report and the admin API carry it: the tier, what it was
/// asked to do, and the backend's error. The request goes on without that tier (a read that
/// failed is a miss there; the origin answers), never with a 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierError {
    pub backend: Backend,
    pub operation: Operation,
    pub error: StoreError,
}

impl TierError {
    pub fn new(backend: Backend, operation: Operation, error: StoreError) -> TierError {
        TierError {
            backend,
            operation,
            error,
        }
    }
}

impl fmt::Display for TierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (backend, operation) = (self.backend.as_str(), self.operation.as_str());
        match &self.error {
            // The backend's own error names it already.
            StoreError::Backend { reason, .. } => write!(f, "{backend} {operation}: {reason}"),
            StoreError::Binding(reason) => write!(f, "{backend} {operation}: binding: {reason}"),
        }
    }
}

/// `keep_secs` asking a backend to keep an entry with no expiry of its own (KV: no
/// `expirationTtl`; Cache API: the longest `max-age` HTTP allows; memory: until evicted).
pub const KEEP_FOREVER: u64 = u64::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tier_error_names_the_tier_and_the_operation_once() {
        let refused = StoreError::Backend {
            backend: Backend::Kv,
            reason: "KV put() limit exceeded".into(),
        };
        assert_eq!(
            TierError::new(Backend::Kv, Operation::Read, refused).to_string(),
            "kv read: KV put() limit exceeded"
        );
        let unbound = StoreError::Binding("R2 bucket EDGECACHE_R2: missing".into());
        assert_eq!(
            TierError::new(Backend::R2, Operation::Open, unbound).to_string(),
            "r2 open: binding: R2 bucket EDGECACHE_R2: missing"
        );
    }
}
