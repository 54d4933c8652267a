//! Who may use the admin API, how often a client may fail to, and what each request logs.

pub mod auth;
pub mod log;
pub mod path;
pub mod throttle;
