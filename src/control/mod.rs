//! The control plane: its Durable Object class (`object`) and the tables it keeps (`tables`),
//! both with the proxy only; on the worker's side, asking the object (`plane`), each
//! isolate's copy of the purge registry (`registry_copy`), and the stats each isolate reports
//! (`stats_report`).

#[cfg(feature = "proxy")]
pub mod object;
pub mod plane;
pub mod registry_copy;
pub mod stats_report;
#[cfg(feature = "proxy")]
pub mod tables;
