//! A shared entry is refreshed as a shared request: what a fetch for a key sends of the
//! client's credentials, and whether its answer may change what others with the key get.
//!
//! What is stored under a key is everyone's whose request has that key. A fetch that
//! refreshes, revalidates, replaces or completes it (in the background, behind a
//! stale-while-revalidate answer; for a stale hit that must be revalidated first; for a
//! client's forced refresh; for parts) is therefore sent as anyone with the key would send
//! it: a credential the key does not hold stays behind. Only a miss, where nothing is stored,
//! goes with the client's own credentials, and its answer is stored only as
//! `http::storability` allows one to a request with credentials (RFC 9111 §3.5).
//!
//! An answer to a request that carried a credential the key does not hold speaks for that
//! client alone: it never replaces or removes a stored entry, and its `private` or `no-store`
//! never marks the URL hit-for-pass for everyone (`answer::speaks_for_key`).

use crate::http::{Fields, RequestFacts};

/// What a fetch goes to the origin for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetching {
    /// Nothing is stored for the key (a miss, or a variant not yet stored).
    Miss,
    /// A response or parts stored for the key are refreshed, revalidated, replaced or
    /// completed.
    Stored,
}

/// What the key holds of the request besides its URL.
#[derive(Debug, Clone, Copy)]
pub struct KeyHolds<'a> {
    /// Header fields whose values are in the URL's key (lowercase): the route's
    /// `vary_headers`.
    pub fields: &'a [String],
    /// The fields the stored response (or the URL's `Vary` marker) varies on: its variant's
    /// key holds them too.
    pub varies_on: &'a [String],
    /// The route's `vary_cookies`: the only cookies a fetch for the key sends on.
    pub cookies: &'a [String],
}

impl KeyHolds<'_> {
    /// The URL's key (the one hit-for-pass marks) holds the value of the field `name`
    /// (lowercase) as a fetch sends it.
    pub fn url_holds(&self, name: &str) -> bool {
        self.fields.iter().any(|field| field == name)
            || (name == "cookie" && !self.cookies.is_empty())
    }

    /// The variant's key holds it.
    pub fn holds(&self, name: &str) -> bool {
        self.url_holds(name) || self.varies_on.iter().any(|field| field == name)
    }
}

/// What a fetch sends of the client's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Credential fields the client sent that stay behind (lowercase).
    pub withheld: Vec<String>,
    /// It carries a credential whose value the key does not hold: its answer may be this
    /// client's own.
    pub beyond_key: bool,
    /// It carries a credential the URL's key does not hold (one a `Vary` keys, as Django's
    /// `Vary: Cookie`): its answer says nothing of the URL's other variants, so it never marks
    /// the URL hit-for-pass.
    pub beyond_url: bool,
}

/// What a fetch for `fetching` sends of `request`'s credentials. `credentials`: the credential
/// fields a request for the key sends on (`credential_headers` but `Proxy-Authorization`,
/// which is never sent), lowercase.
pub fn sent(
    fetching: Fetching,
    credentials: &[String],
    request: &(impl Fields + ?Sized),
    key: &KeyHolds,
) -> Sent {
    let present = || {
        credentials
            .iter()
            .filter(|name| request.field(name).is_some())
    };
    let beyond: Vec<String> = present().filter(|name| !key.holds(name)).cloned().collect();
    let withheld = match fetching {
        Fetching::Miss => Vec::new(),
        Fetching::Stored => beyond.clone(),
    };
    let beyond_url = present().any(|name| !key.url_holds(name) && !withheld.contains(name));
    Sent {
        beyond_key: beyond.iter().any(|name| !withheld.contains(name)),
        beyond_url,
        withheld,
    }
}

/// The request as a fetch sends it: its fields but the `withheld` ones.
pub struct Without<'a, F: Fields + ?Sized> {
    pub fields: &'a F,
    pub withheld: &'a [String],
}

impl<F: Fields + ?Sized> Fields for Without<'_, F> {
    fn field(&self, name: &str) -> Option<String> {
        if self.withheld.iter().any(|w| w.eq_ignore_ascii_case(name)) {
            return None;
        }
        self.fields.field(name)
    }
}

/// What the cache knows of the request as sent (`RequestFacts::of` without the withheld
/// credentials): its answer is judged as one to the request the origin saw.
pub fn facts_sent(
    request: &(impl Fields + ?Sized),
    credentials: &[String],
    withheld: &[String],
) -> RequestFacts {
    RequestFacts::of(
        &Without {
            fields: request,
            withheld,
        },
        credentials,
    )
}
