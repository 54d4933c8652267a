//! A stored response's fields as clients see them, built in JavaScript once per entry and
//! kept with it (`store::Entry::client_headers`), so a memory-tier hit copies them in one call.

use web_sys::Headers;

use crate::runtime::headers_from;
use edgecache_core::control::registry::TAG_FIELDS;
use edgecache_core::decide::shield::SHIELD_FIELDS;
use edgecache_core::http::CONSUMED_FIELDS;
use edgecache_core::storage::record::Meta;

/// Fields that are for edgecache, not clients: the targeted fields it consumes (RFC 9213), and
/// the tag fields unless `expose_tags`.
pub fn is_for_caches(name: &str, expose_tags: bool) -> bool {
    CONSUMED_FIELDS.contains(&name)
        || SHIELD_FIELDS.contains(&name)
        || (!expose_tags && TAG_FIELDS.contains(&name))
}

/// A stored response's fields as every client sees them, before what each hit adds (`Age`,
/// `Cache-Status`, `browser_ttl`); built once per entry (`Entry::client_headers`).
#[derive(Clone)]
pub struct ClientHeaders {
    pub headers: Headers,
    pub upstream_status: Option<String>,
}

impl ClientHeaders {
    pub fn of(meta: &Meta, expose_tags: bool) -> ClientHeaders {
        let kept: Vec<(String, String)> = meta
            .headers
            .iter()
            .filter(|(n, _)| !is_for_caches(n, expose_tags) && n != "cache-status")
            .cloned()
            .collect();
        ClientHeaders {
            headers: headers_from(&kept),
            upstream_status: edgecache_core::http::Fields::field(meta, "cache-status"),
        }
    }

    /// Every field stored with the response, as the shield sends it on to the locations'
    /// caches (they judge and keep it as an origin's answer).
    pub fn for_caches(meta: &Meta) -> ClientHeaders {
        let kept: Vec<(String, String)> = meta
            .headers
            .iter()
            .filter(|(n, _)| n != "cache-status" && !SHIELD_FIELDS.contains(&n.as_str()))
            .cloned()
            .collect();
        ClientHeaders {
            headers: headers_from(&kept),
            upstream_status: edgecache_core::http::Fields::field(meta, "cache-status"),
        }
    }
}
