//! What a fill answers the client with: a stored (or just revalidated) entry, the origin's
//! response streaming, or no response.

use web_sys::{ReadableStream, Response};

use crate::flow::origin::OriginError;
use crate::store::Entry;
use edgecache_core::status::Outcome;
use edgecache_core::workers_cache::emit::Kept;

/// What the client is to be sent.
pub enum Answer {
    /// A stored (or just revalidated) entry; `shareable` when the cache may keep it, so a
    /// route's `browser_ttl` applies.
    Entry {
        entry: Entry,
        outcome: Outcome,
        shareable: bool,
    },
    /// The origin's response, streaming `body` (the client's branch when it is being stored);
    /// `kept`, with `workers_cache`, the entry being stored from it.
    Origin {
        origin: Response,
        body: Option<ReadableStream>,
        outcome: Outcome,
        kept: Option<Kept>,
    },
    /// No response from the origin.
    Failed(OriginError),
}

impl Answer {
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            Answer::Entry { outcome, .. } | Answer::Origin { outcome, .. } => Some(outcome),
            Answer::Failed(_) => None,
        }
    }

    /// The origin's response, streamed to the client and not stored.
    pub fn unstored(origin: Response, outcome: Outcome) -> Answer {
        let body = origin.body();
        Answer::Origin {
            origin,
            body,
            outcome,
            kept: None,
        }
    }

    /// The same answer, reporting `change(outcome)`.
    pub fn map_outcome(self, change: impl FnOnce(Outcome) -> Outcome) -> Answer {
        match self {
            Answer::Entry {
                entry,
                outcome,
                shareable,
            } => Answer::Entry {
                entry,
                outcome: change(outcome),
                shareable,
            },
            Answer::Origin {
                origin,
                body,
                outcome,
                kept,
            } => Answer::Origin {
                origin,
                body,
                outcome: change(outcome),
                kept,
            },
            failed @ Answer::Failed(_) => failed,
        }
    }
}
