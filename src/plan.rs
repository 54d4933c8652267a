//! The cache plan for one request: its key, the tiers that hold its entries, and the route
//! settings that apply. Owned, so background work can keep it after the response has gone.

use crate::policy::Fields;
use url::Url;
use worker::Env;

use crate::config::{Backend, Config, Route};
use crate::key::{cookie_value, normalize_header_value, normalize_query, CacheKey, Variant};
use crate::policy::Overrides;
use crate::store::{open_tiers, Tier};

/// The request headers and cookies whose values join a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyedOn {
    /// Lowercase header names.
    pub headers: Vec<String>,
    pub cookies: Vec<String>,
}

impl KeyedOn {
    /// The route's names followed by `extra`'s, without repeats.
    pub fn of(route: Option<&Route>, extra: Option<&KeyedOn>) -> KeyedOn {
        let mut keyed = KeyedOn::default();
        let lists = route
            .map(|r| (&r.vary_headers, &r.vary_cookies))
            .into_iter()
            .chain(extra.map(|e| (&e.headers, &e.cookies)));
        for (headers, cookies) in lists {
            for name in headers {
                if !keyed.headers.contains(name) {
                    keyed.headers.push(name.clone());
                }
            }
            for name in cookies {
                if !keyed.cookies.contains(name) {
                    keyed.cookies.push(name.clone());
                }
            }
        }
        keyed
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.cookies.is_empty()
    }
}

pub struct Plan {
    /// The URL-level key, before any response `Vary`.
    pub key: CacheKey,
    /// `key` rendered.
    pub primary: String,
    /// The route keys on named cookies, which then stand for `Vary: Cookie`.
    pub cookies_keyed: bool,
    pub backends: Vec<Backend>,
    pub browser_ttl: Option<u64>,
    pub tags: Vec<String>,
    pub overrides: Overrides,
}

impl Plan {
    /// `keyed_on` adds to the route's `vary_headers` and `vary_cookies` (an ESI include's own).
    pub fn new(
        config: &Config,
        route: Option<&Route>,
        url: &Url,
        headers: &impl Fields,
        keyed_on: Option<&KeyedOn>,
    ) -> Plan {
        let query_rule = route.map(|r| r.query.clone()).unwrap_or_default();
        let keyed_on = KeyedOn::of(route, keyed_on);
        let mut variance = Vec::new();
        for name in &keyed_on.headers {
            variance.push(header_variant(headers, name));
        }
        let cookies = headers.field("cookie").unwrap_or_default();
        for name in &keyed_on.cookies {
            variance.push(Variant {
                name: format!("cookie.{name}"),
                value: cookie_value(&cookies, name),
            });
        }
        let mut host = url.host_str().unwrap_or_default().to_string();
        if let Some(port) = url.port() {
            host.push_str(&format!(":{port}"));
        }
        let key = CacheKey {
            prefix: config.key_prefix.clone(),
            version: config.version,
            scheme: url.scheme().to_string(),
            host,
            path: url.path().to_string(),
            query: normalize_query(url.query().unwrap_or_default(), &query_rule),
            variance,
        };
        Plan {
            primary: key.render(),
            key,
            cookies_keyed: !keyed_on.cookies.is_empty(),
            backends: route.map_or_else(|| config.backends.clone(), |r| r.backends.clone()),
            browser_ttl: route.and_then(|r| r.browser_ttl),
            tags: route.map(|r| r.tags.clone()).unwrap_or_default(),
            overrides: Overrides {
                route_ttl: route.and_then(|r| r.ttl),
                default_ttl: config.default_ttl,
                stale_while_revalidate: route
                    .and_then(|r| r.stale_while_revalidate)
                    .unwrap_or(config.stale_while_revalidate),
                stale_if_error: route
                    .and_then(|r| r.stale_if_error)
                    .unwrap_or(config.stale_if_error),
            },
        }
    }

    /// The key of this request's variant of a response that varies on `vary`; the primary
    /// key when it does not vary. A route that keys on named cookies has already put the
    /// cookies that matter into the primary key, so `Vary: Cookie` does not split it further.
    pub fn variant_key(&self, vary: &[String], headers: &impl Fields) -> String {
        let variance: Vec<Variant> = vary
            .iter()
            .filter(|name| !(self.cookies_keyed && name.as_str() == "cookie"))
            .map(|name| header_variant(headers, name))
            .collect();
        if variance.is_empty() {
            self.primary.clone()
        } else {
            self.key.with_variance(variance).render()
        }
    }

    /// Opens the route's tiers; one that cannot be opened is reported and left out.
    pub fn open_tiers(
        &self,
        env: &Env,
        url: &Url,
        memory_budget: u64,
        errors: &mut Vec<String>,
    ) -> Vec<Tier> {
        open_tiers(&self.backends, env, url, memory_budget, errors)
    }
}

fn header_variant(headers: &impl Fields, name: &str) -> Variant {
    Variant {
        name: name.to_string(),
        value: headers
            .field(name)
            .map(|v| normalize_header_value(name, &v)),
    }
}
