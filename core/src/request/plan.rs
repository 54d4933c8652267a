//! The cache plan for one request: its key, the tiers that hold its entries, and the route
//! settings that apply. Owned, so background work can keep it after the response has gone.

use std::rc::Rc;

use crate::config::{Backend, Config, Route};
use crate::http::{Fields, Overrides};
use crate::request::field_value::keyed_value;
use crate::request::key::{cookie_value, CacheKey, Variant};
use crate::request::route::Routing;
use crate::request::target::Target;

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
    /// The route passes requests carrying named cookies (`bypass_cookies`): its shared
    /// answers depend on the request's cookies as much as keyed ones do.
    pub cookies_bypass: bool,
    pub backends: Vec<Backend>,
    pub browser_ttl: Option<u64>,
    pub tags: Vec<String>,
    pub overrides: Overrides,
    /// The client's fields a request for this key sends to the origin (lowercase): the
    /// configuration's (`Config::forwarded`) and the ones the key carries.
    pub forwarded: Rc<[String]>,
    pub keyed_headers: Vec<String>,
    /// `scheme://host`, under which the Cache API names this request's entries.
    pub url_base: String,
    /// Misses go to the shield (the route's `shield`, else the site's).
    pub shield: bool,
}

impl Plan {
    /// `keyed_on` adds to the route's `vary_headers` and `vary_cookies` (an ESI include's own).
    pub fn new(
        config: &Config,
        routing: &Routing,
        target: &Target,
        headers: &impl Fields,
        keyed_on: Option<&KeyedOn>,
    ) -> Plan {
        let route = routing.route;
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
        // CORS answers are built from `Origin`, which is sent on: a request that carries one
        // is keyed on it, so an origin that reflects it without `Vary: Origin` reflects it
        // to that site's requests alone.
        if !keyed_on.headers.iter().any(|h| h == "origin") {
            if let Some(origin) = headers.field("origin") {
                variance.push(Variant {
                    name: "origin".into(),
                    value: keyed_value("origin", &origin),
                });
            }
        }
        let query_rule = route
            .map(|r| &r.query)
            .unwrap_or(&crate::config::QueryRule::All);
        let key = CacheKey {
            prefix: config.key_prefix.clone(),
            version: config.version,
            scheme: target.scheme.clone(),
            host: target.authority(),
            path: target.path.clone(),
            query: target.query_for(query_rule),
            variance,
        };
        let overriding = routing.overrides;
        Plan {
            primary: key.render(),
            key,
            cookies_keyed: !keyed_on.cookies.is_empty(),
            cookies_bypass: !routing.bypass_cookies.is_empty(),
            backends: route.map_or_else(|| config.backends.clone(), |r| r.backends.clone()),
            browser_ttl: route.and_then(|r| r.browser_ttl),
            tags: route.map(|r| r.tags.clone()).unwrap_or_default(),
            overrides: Overrides {
                route_ttl: route.and_then(|r| r.ttl).filter(|_| overriding),
                ttl_by_status: match (overriding, route) {
                    (false, _) => Rc::from([]),
                    (true, Some(route)) => route.ttl_by_status.clone(),
                    (true, None) => config.ttl_by_status.clone(),
                },
                default_ttl: config.default_ttl,
                stale_while_revalidate: route
                    .and_then(|r| r.stale_while_revalidate)
                    .unwrap_or(config.stale_while_revalidate),
                stale_if_error: route
                    .and_then(|r| r.stale_if_error)
                    .unwrap_or(config.stale_if_error),
                extension: extension(&target.path),
            },
            forwarded: config.forwarded.clone(),
            keyed_headers: keyed_on.headers,
            url_base: format!("{}://{}", target.scheme, target.host),
            shield: route.and_then(|r| r.shield).unwrap_or(config.shield),
        }
    }

    /// Whether the client's field `name` (lowercase) reaches the origin on a request for
    /// this key.
    pub fn forwards(&self, name: &str) -> bool {
        self.forwarded.iter().any(|n| n == name) || self.keyed_headers.iter().any(|n| n == name)
    }

    /// Every client field a request for this key sends on (lowercase), each once.
    pub fn forwarded_fields(&self) -> Vec<String> {
        let mut fields = self.forwarded.to_vec();
        for name in &self.keyed_headers {
            if !fields.contains(name) {
                fields.push(name.clone());
            }
        }
        fields
    }

    /// The key of this request's variant of a response that varies on `vary`; the primary
    /// key when it does not vary. A route that keys on named cookies has already put the
    /// cookies that matter into the primary key, so `Vary: Cookie` does not split it further.
    /// Every field a stored response varies on was sent to the origin (`fill` makes sure of
    /// it), so the key holds what the origin chose its answer by.
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
}

/// The extension of a path's last segment (`css` of `/a/b.min.css`), lowercase, if any.
fn extension(path: &str) -> Option<String> {
    let last = path.rsplit('/').next().unwrap_or_default();
    let (stem, extension) = last.rsplit_once('.')?;
    (!stem.is_empty() && !extension.is_empty()).then(|| extension.to_ascii_lowercase())
}

fn header_variant(headers: &impl Fields, name: &str) -> Variant {
    Variant {
        name: name.to_string(),
        value: headers.field(name).and_then(|v| keyed_value(name, &v)),
    }
}
