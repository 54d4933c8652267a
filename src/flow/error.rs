//! What went wrong while a request was answered, carried with its answer (`report`) for the
//! log line: none of it is a 500. A failed tier counts as a miss there, a failed origin is
//! answered stale or with a 502/504, a missing shield is done without.

use std::fmt;

use crate::flow::origin::OriginError;
use crate::flow::shield::SHIELD_BINDING;
use crate::store::TierError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// A storage tier failed: the request went on without it.
    Tier(TierError),
    /// The origin gave this request's fetch no response.
    Origin(OriginError),
    /// The fetch this request waited for (another request's, for the same key) gave none.
    Awaited(OriginError),
    /// A shielded route, but no shield binding: this location asked the origin itself.
    NoShieldBinding,
    /// An invalidation did not reach the shield's copy of `url`.
    ShieldNotInvalidated { url: String, why: String },
    /// The configuration is broken: the request was refused.
    Config(String),
    /// The response could not be built (the runtime's error).
    Response(String),
}

impl From<TierError> for RequestError {
    fn from(error: TierError) -> RequestError {
        RequestError::Tier(error)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Tier(error) => write!(f, "{error}"),
            RequestError::Origin(error) => write!(f, "{error}"),
            RequestError::Awaited(error) => write!(f, "the fetch this request waited for: {error}"),
            RequestError::NoShieldBinding => write!(
                f,
                "shield = true, but the worker has no {SHIELD_BINDING} binding: this location asks the origin itself"
            ),
            RequestError::ShieldNotInvalidated { url, why } => {
                write!(f, "the shield's copy of {url} was not invalidated: {why}")
            }
            RequestError::Config(error) | RequestError::Response(error) => write!(f, "{error}"),
        }
    }
}
