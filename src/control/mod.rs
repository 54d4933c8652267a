//! The control plane on the worker's side: asking its Durable Object (`plane`), the rules the
//! object runs in Wasm (`object`, with the proxy only), each isolate's copy of the purge
//! registry (`registry_copy`), and the stats each isolate reports (`stats_report`).

#[cfg(feature = "proxy")]
pub mod object;
pub mod plane;
pub mod registry_copy;
pub mod stats_report;
