//! HTTP caching semantics for a shared cache (RFC 9111): may this response be stored, for how
//! long is it fresh, and how old is it now. Pure functions of headers and the time, which is
//! always passed in (`SystemTime::now()` panics on wasm32).

mod as_stored;
pub mod conditional;
mod dates;
pub mod deception;
pub mod directives;
mod fields;
mod freshness;
mod governing;
mod overrides;
pub mod parts;
pub mod range;
mod request_facts;
pub mod reuse;
pub mod revalidate;
mod storability;
mod targeted;
mod vary;

pub use as_stored::{fields_to_store, UNSTORED_FIELDS};
pub use dates::{format_http_date, http_date};
pub use directives::CacheControl;
pub use fields::{media_type, Fields};
pub use freshness::{corrected_initial_age, explicit_lifetime, Exchange};
pub use governing::{
    governing_directives, Governing, CONSUMED_FIELDS, SURROGATE_NAME, TARGETED_FIELDS,
};
pub use overrides::{ttl_applies_to, Overrides, StatusOverride};
pub use request_facts::RequestFacts;
pub use reuse::{verdict, Verdict};
pub use storability::{
    is_heuristically_cacheable, part_storability, storability, Reuse, Storability,
};
pub use vary::{vary_fields, with_url_vary};

/// A header list from string pairs, for tests.
#[cfg(test)]
pub(crate) fn field_list(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod fixtures;
