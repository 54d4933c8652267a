//! Purges and stats across every location: the registry each entry is checked against, how an
//! isolate's copy of it propagates, the control plane's rules, and the request counters.

pub mod propagation;
pub mod registry;
pub mod rules;
pub mod stats;
