//! Purges and stats across every location: the registry each entry is checked against, how an
//! isolate's copy of it propagates, the control plane's rules, the request counters, the
//! heavy-hitters sketch that bounds them, and how the control plane keeps them.

pub mod heavy;
pub mod origin_times;
pub mod propagation;
pub mod registry;
pub mod rules;
pub mod stats;
pub mod stats_store;
pub mod why;
