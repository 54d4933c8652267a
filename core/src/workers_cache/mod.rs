//! Workers Cache: the cache Cloudflare puts in front of a worker (`[cache] enabled = true` in
//! `wrangler.toml`), which answers a hit without running the worker at all. It keys on the
//! path and query alone and reads its policy from the worker's response fields, so with it
//! in front (configuration `workers_cache`) edgecache tells it, per response, what it may keep
//! and for how long (`fields`), and asks it to forget what edgecache purges (`purge`).
//!
//! `fields` and `purge` are pure and tested on the host; the worker crate's `workers_cache`
//! is the glue that sets the fields on a response and calls `ctx.cache.purge`.

pub mod emit;
pub mod purge;

/// The site Workers Cache serves, as `workers_cache` holds it (`https://example.com`, a
/// port only when it is not the scheme's default), for a request's scheme and authority.
pub fn site_of(scheme: &str, authority: &str) -> String {
    format!("{scheme}://{authority}")
}
