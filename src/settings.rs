//! What a worker reads from its environment once per isolate.

use url::Url;

use edgecache_core::config::Config;

/// Everything read from the environment once per isolate.
pub struct Settings {
    pub config: Config,
    /// `ORIGIN`: where requests go; `None` forwards to the request's own URL.
    pub origin: Option<Url>,
    /// Admin tokens, from secrets.
    pub tokens: Vec<edgecache_core::admin::auth::Token>,
}
