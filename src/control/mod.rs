//! The control plane on the worker's side: asking its Durable Object (`plane`), the rules the
//! object runs in Wasm (`object`, with the proxy only), each isolate's copy of the purge
//! registry (`registry_copy`), the stats each isolate reports (`stats_report`), and what
//! asking it can fail with (`error`).

pub mod error;
#[cfg(feature = "proxy")]
pub mod object;
pub mod plane;
pub mod registry_copy;
pub mod stats_report;
