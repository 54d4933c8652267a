//! What one request's handling reports beside its response: the outcome, errors, the route,
//! for the log line, the stats and Workers Cache.

use futures_channel::oneshot;

use edgecache_core::status::Outcome;
use edgecache_core::workers_cache::fields::{Asked, Kept};

/// What the request log line and the stats report beyond the response itself.
#[derive(Default)]
pub struct Notes {
    /// The response is an ESI template, to be assembled before it is sent.
    pub template: bool,
    /// For a fragment's request: told as soon as it is known whether the fragment comes from
    /// storage or from the origin, so the page can send its fields before fragments arrive.
    pub decided: Option<oneshot::Sender<Outcome>>,
    pub outcome: Option<Outcome>,
    pub errors: Vec<String>,
    /// The matching route's path pattern.
    pub route: Option<String>,
    /// Body bytes served from storage.
    pub bytes_from_cache: u64,
    /// With `workers_cache`: what Workers Cache must know of the request (a cacheable one).
    pub asked: Option<Asked>,
    /// With `workers_cache`: the entry behind the answer, when edgecache keeps it for everyone.
    pub kept: Option<Kept>,
}

impl Notes {
    /// Reports how the request is being answered, once (see `decided`).
    pub fn decide(&mut self, outcome: &Outcome) {
        if let Some(sender) = self.decided.take() {
            let _ = sender.send(outcome.clone());
        }
    }
}
