//! The control plane: its Durable Object class (`object`) and the tables it keeps (`tables`),
//! both with the proxy only; on the worker's side, asking the object (`plane`), each
//! isolate's copy of the purge registry (`registry_copy`), the stats each isolate reports
//! (`stats_report`), and what asking the object can fail with (`error`).

pub mod error;
#[cfg(feature = "proxy")]
pub mod object;
pub mod plane;
pub mod registry_copy;
pub mod stats_report;
#[cfg(feature = "proxy")]
pub mod tables;
