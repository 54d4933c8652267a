//! What a request is to the cache: its canonical target (`target`), the rule that applies
//! (`glob`, `route`), whether a cookie passes it (`bypass_cookie`), its key (`key`), and the
//! plan that follows from them (`plan`).

pub mod bypass_cookie;
pub mod glob;
pub mod key;
pub mod plan;
pub mod route;
pub mod target;
