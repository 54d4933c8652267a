//! The request flow's choices, as pure functions of what is known: the request, what the
//! lookup found, the configuration and the time. Each returns what to do, with the `Outcome`
//! that `Cache-Status`, the log line and the stats will report; the worker's `flow` carries it
//! out and decides nothing of its own (after the manner of http-cache-semantics'
//! `before_request`/`after_response` and pingora-cache's phases).
//!
//! - `arrival`: before any lookup: refuse, pass the request on as it is, or look it up;
//! - `stored`: after the lookup: serve what was found (and refresh or copy it up after), go
//!   to the origin for it, or refuse;
//! - `answer`: after the origin answered: store it, pass it on, merge a 304, serve stale, or
//!   ask again; whether an answer speaks for everyone with the key; and what a failed
//!   origin, a pass-through or a collapsed wait report;
//! - `fetch`: before a fetch for a key: the request to send (method, validators, `Vary`
//!   fields, for the client alone or for everyone with the key);
//! - `store`: once an answer is to be stored: the record, which tiers take it (the KV write
//!   throttle), how long it is kept, and what a body that could not be stored marks;
//! - `refresh`: what a fetch for a key sends of the client's credentials (a stored entry is
//!   refreshed as a shared request), and the request as the origin saw it;
//! - `shield`: whether a miss goes to the shield, which shard, and which tiers each side keeps.

pub mod answer;
pub mod arrival;
pub mod fetch;
pub mod refresh;
pub mod shield;
pub mod store;
pub mod stored;

#[cfg(test)]
mod tests;
