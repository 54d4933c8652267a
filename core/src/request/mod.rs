//! What a request is to the cache: its canonical target (`target`), the rule that applies
//! (`glob`, `route`), whether a cookie passes it (`bypass_cookie`), its key (`key`) and the
//! value each request field takes in it and on the way to the origin (`field_value`), and the
//! plan that follows from them (`plan`).

pub mod bypass_cookie;
pub mod field_value;
pub mod glob;
pub mod key;
pub mod plan;
pub mod route;
pub mod target;
