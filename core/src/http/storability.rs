//! May a shared cache store a response to a GET (RFC 9111 §3), for how long is it fresh, and how
//! may it be reused once stale.

use serde::{Deserialize, Serialize};

use super::deception;
use super::fields::Fields;
use super::freshness::{corrected_initial_age, explicit_lifetime, heuristic_lifetime, Exchange};
use super::governing::{governing_directives, Governing};
use super::overrides::{Overrides, StatusOverride};
use super::request_facts::RequestFacts;
use super::vary::vary_fields;
use crate::status::Reason;

/// How a stored response may be reused once stale, decided when it is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reuse {
    /// Seconds it may be served stale while one refresh runs (RFC 5861 §3).
    #[serde(default)]
    pub swr: u64,
    /// Seconds it may be served stale when the origin fails (RFC 5861 §4).
    #[serde(default)]
    pub sie: u64,
    /// `must-revalidate`/`proxy-revalidate` (and `s-maxage`, which implies the latter for a
    /// shared cache unless stale directives say otherwise): never served stale.
    #[serde(default)]
    pub must_revalidate: bool,
    /// `no-cache`: never served without revalidation, even when fresh.
    #[serde(default)]
    pub no_cache: bool,
    /// It carries `ETag` or `Last-Modified`, so revalidation can be a conditional request.
    #[serde(default)]
    pub validators: bool,
}

impl Reuse {
    /// Seconds to keep it after it goes stale: its stale windows, or `keep_stale` when it can
    /// be revalidated cheaply.
    pub fn stale_keep(&self, keep_stale: u64) -> u64 {
        let revalidation = if self.validators { keep_stale } else { 0 };
        if self.must_revalidate {
            return revalidation;
        }
        self.swr.max(self.sie).max(revalidation)
    }
}

/// The verdict on a response: stored with a lifetime, or not, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storability {
    Store {
        /// Freshness lifetime in seconds (RFC 9111 §4.2.1).
        lifetime: u64,
        /// The corrected initial age in seconds (RFC 9111 §4.2.3).
        initial_age: u64,
        /// Fields named by `private="…"` and `no-cache="…"`, to drop before storing.
        strip_fields: Vec<String>,
        /// The `Vary` field names (lowercase), empty when the response does not vary.
        vary: Vec<String>,
        reuse: Reuse,
    },
    DontStore(Reason),
}

/// Status codes RFC 9110 §15.1 defines as heuristically cacheable.
pub fn is_heuristically_cacheable(status: u16) -> bool {
    matches!(
        status,
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// The final statuses RFC 9110 defines, whose caching rules edgecache implements (for
/// `must-understand`); 304 is never stored, and 206 only as a part.
fn understands(status: u16) -> bool {
    matches!(status, 200..=205 | 300..=305 | 307 | 308 | 400..=417 | 421 | 422 | 426 | 500..=505)
}

/// Decides whether a shared cache may store a response to a GET (RFC 9111 §3), and for how
/// long it is fresh. `Set-Cookie` is refused outright, stricter than the RFC: a cookie is
/// one user's, and serving it to another is the worst thing a shared cache can do.
pub fn storability(
    request: &RequestFacts,
    status: u16,
    response: &(impl Fields + ?Sized),
    overrides: &Overrides,
    exchange: Exchange,
) -> Storability {
    // §3.3: a 206 is a part of a representation; it is kept only as a part, by a request for
    // a part (`part_storability`), never as a response of its own.
    if status == 206 {
        return Storability::DontStore(Reason::PartialContent);
    }
    judged(request, status, response, overrides, exchange)
}

/// `storability` for a `206` answering a request for a part (RFC 9111 §3.3: a cache that
/// supports Range "MAY store" it): the same rules as for a 200. Whether the part fits what
/// was asked and what is held is `http::parts::fit`'s to say.
pub fn part_storability(
    request: &RequestFacts,
    response: &(impl Fields + ?Sized),
    overrides: &Overrides,
    exchange: Exchange,
) -> Storability {
    judged(request, 206, response, overrides, exchange)
}

fn judged(
    request: &RequestFacts,
    status: u16,
    response: &(impl Fields + ?Sized),
    overrides: &Overrides,
    exchange: Exchange,
) -> Storability {
    use Storability::DontStore;
    let Governing { cc, targeted } = governing_directives(response);

    // §3: "the request method is understood by the cache" and "the response status code is
    // final": 1xx, and 304 (which carries no representation), are never stored.
    if !(200..600).contains(&status) || status == 304 {
        return DontStore(Reason::UncacheableStatus);
    }
    // §3: "the no-store cache directive is not present in the request" nor the response.
    if request.cache_control.no_store {
        return DontStore(Reason::RequestNoStore);
    }
    // §5.2.2.3: with must-understand, a status whose caching rules the cache does not
    // implement is never stored, and one it does overrides no-store.
    if cc.must_understand && !(understands(status) || status == 206) {
        return DontStore(Reason::UncacheableStatus);
    }
    if cc.no_store && !cc.must_understand {
        return DontStore(Reason::NoStore);
    }
    // §3: "if the cache is shared: the private response directive is either not present or
    // allows a shared cache to store a modified response".
    if cc.private {
        return DontStore(Reason::Private);
    }
    if response.field("set-cookie").is_some() {
        return DontStore(Reason::SetCookie);
    }
    // §3: "if the cache is shared: the Authorization header field is not present in the
    // request or a response directive is present that explicitly allows shared caching"
    // (§3.5: public, s-maxage or must-revalidate).
    if request.has_authorization && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate) {
        return DontStore(Reason::Authorization);
    }
    // §4.1: "A stored response with a Vary header field value containing a member "*"
    // always fails to match."
    let vary = vary_fields(response);
    if vary.iter().any(|f| f == "*") {
        return DontStore(Reason::VaryStar);
    }
    let validators = response.field("etag").is_some() || response.field("last-modified").is_some();
    // §5.2.2.4: no-cache "MUST NOT be used to satisfy any other request without forwarding
    // it for validation": worth storing only when that validation can be conditional.
    if cc.no_cache && !validators {
        return DontStore(Reason::NoCache);
    }

    let route_ttl = match overrides.for_status(status) {
        StatusOverride::Never => return DontStore(Reason::UncacheableStatus),
        StatusOverride::Lifetime(ttl) => Some(ttl),
        StatusOverride::None => None,
    };
    // Cache deception armour: an override stores what the origin did not mark as
    // cacheable, and origins that strip `;params` or decode `%2F` answer `/account;.css` with
    // the account page. For a request with credentials, the answer is stored under an
    // override only if its type is what the path's extension says it is.
    if route_ttl.is_some()
        && request.has_credentials()
        && !deception::content_type_agrees(
            overrides.extension.as_deref(),
            response.field("content-type").as_deref(),
        )
    {
        return DontStore(Reason::ContentTypeMismatch);
    }

    let explicit = if targeted {
        cc.s_maxage.or(cc.max_age)
    } else {
        explicit_lifetime(&cc, response, exchange.response_secs())
    };
    let initial_age = corrected_initial_age(response, exchange);
    // §3: the response must contain "a public response directive", "an explicit expiration
    // time", or have "a status code that is defined as heuristically cacheable". A route's
    // TTL is the operator's explicit time, counted from when the response reached us.
    let lifetime = match (route_ttl, explicit) {
        (Some(route_ttl), _) => route_ttl.saturating_add(initial_age),
        (None, Some(explicit)) => explicit,
        // Stricter than the RFC: a response to a request with a cookie, that says nothing
        // about caching, is too often a page personalised by a session cookie; guessing a
        // lifetime for it would share one user's page with everyone.
        (None, None) if request.has_cookie && !cc.public => {
            return DontStore(Reason::CookieWithoutFreshness)
        }
        // Stricter than the RFC too: `must-revalidate` lets a shared cache keep an answer to a
        // request with Authorization (§3.5), but without a lifetime the edge's own guess
        // (`default_ttl`, or a tenth of its age) would serve one user's answer to everyone
        // for that long, without asking; an origin that means it for everyone says `public`
        // or gives a lifetime.
        (None, None) if request.has_authorization && !cc.public => {
            return DontStore(Reason::Authorization)
        }
        (None, None) if cc.public || is_heuristically_cacheable(status) => {
            heuristic_lifetime(response, overrides.default_ttl, exchange.response_secs())
        }
        (None, None) => return DontStore(Reason::UncacheableStatus),
    };
    let explicit_stale = cc.stale_while_revalidate.is_some() || cc.stale_if_error.is_some();
    let reuse = Reuse {
        swr: cc
            .stale_while_revalidate
            .unwrap_or(overrides.stale_while_revalidate),
        sie: cc.stale_if_error.unwrap_or(overrides.stale_if_error),
        // §5.2.2.10: s-maxage "incorporates the semantics of the proxy-revalidate response
        // directive" for a shared cache; explicit stale-* directives say the origin wants
        // stale serving all the same.
        must_revalidate: cc.must_revalidate
            || cc.proxy_revalidate
            || (cc.s_maxage.is_some() && !explicit_stale),
        no_cache: cc.no_cache,
        validators,
    };
    // Already stale and no way to use it but a full refetch: not worth a write.
    if lifetime <= initial_age && !validators && reuse.stale_keep(0) == 0 {
        return DontStore(Reason::StaleOnArrival);
    }

    let mut strip_fields = cc.private_fields;
    strip_fields.extend(cc.no_cache_fields);
    Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        vary,
        reuse,
    }
}

#[cfg(test)]
mod tests;
