//! Edge Side Includes: templates and what an include may fetch.

pub mod grant;
pub mod reports;
pub mod template;
