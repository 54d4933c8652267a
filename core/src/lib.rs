//! edgecache's pure core: everything the cache decides, as functions of what it is given and
//! the time, with no `worker`, `web-sys` or `js-sys` dependency (the compiler keeps it so, since
//! this crate has none). The worker crate (`edgecache`) is the glue that carries the decisions
//! out on the Workers runtime.
//!
//! - `http`: HTTP caching semantics (RFC 9110, 9111, 9213, 5861): storability, freshness, Age,
//!   reuse, revalidation, conditionals, ranges, targeted fields, deception armour.
//! - `request`: what a request is to the cache: its canonical target, the route that applies,
//!   its key, and the plan for it.
//! - `config`: the policy in `wrangler.toml`, parsed and validated once.
//! - `decide`: the request flow's choices: before a lookup, after it, after the origin answered.
//! - `status`: outcomes and reasons, as `Cache-Status`, the logs and the stats report them.
//! - `storage`: the stored record and its format, the memory tier's map (S3-FIFO with TinyLFU
//!   admission) and its byte counts, storage errors.
//! - `esi`: ESI templates and what an include may fetch.
//! - `control`: the purge registry, its propagation, the control plane's rules, the stats.
//! - `admin`: admin tokens, the limit on failed logins, the admin log line.
//! - `workers_cache`: what edgecache tells Workers Cache in front of it, and its purges.
//! - `redact`: log lines without the values users sent.
#![forbid(unsafe_code)]

pub mod admin;
pub mod config;
pub mod control;
pub mod decide;
pub mod esi;
pub mod http;
pub mod redact;
pub mod request;
pub mod status;
pub mod storage;
pub mod workers_cache;
