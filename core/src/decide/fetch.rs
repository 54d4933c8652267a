//! Before a fetch for a key: the request to send the origin, as far as the cache chooses it
//! (after the manner of http-cache-semantics' `before_request`, which returns the
//! revalidation request itself): the method, the validators, the fields sent because
//! responses vary on them, and whether the answer is for the client alone or for everyone
//! with the key. The flow only builds the request from it and sends it.

use crate::decide::refresh::Fetching;
use crate::http::revalidate::conditional_fields;
use crate::request::plan::Plan;
use crate::status::Fwd;
use crate::storage::record::Meta;

/// What a fetch for a key starts from.
#[derive(Debug, Clone, Copy)]
pub struct Prior<'a> {
    pub fwd: Fwd,
    /// The client asked with HEAD.
    pub head: bool,
    /// The stored response being replaced or revalidated.
    pub stale: Option<&'a Meta>,
    /// Parts are held for the key: a request for a part completes or replaces them.
    pub held_parts: bool,
    /// A request for a part: the fields it sends are the parts' own (`parts::forward_for`).
    pub part: bool,
    /// The fields the URL's responses are known to vary on (its `Vary` marker's).
    pub url_vary: &'a [String],
}

/// What a fetch is, for judging its answer (`answer::judge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// Nothing is stored for the key.
    Miss,
    /// A HEAD with nothing stored: its answer has no body to keep.
    Head,
    /// A stored response or parts are refreshed or replaced, without validators.
    Replacing,
    /// A stored response is revalidated with its validators: a 304 is merged into it.
    Revalidating,
    /// A revalidation's 304 named another response (RFC 9111 §4.3.4: none matches), so it is
    /// asked again without validators: another 304 answers this client alone.
    Reasked,
}

impl Fetched {
    /// A stored entry is revalidated or would be replaced by what is stored.
    pub fn replaces(self) -> bool {
        matches!(
            self,
            Fetched::Replacing | Fetched::Revalidating | Fetched::Reasked
        )
    }
}

/// The request to send the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToSend {
    /// Sent as GET whatever the client's method: a HEAD refreshes a stored GET, whose body
    /// the stored entry needs.
    pub as_get: bool,
    /// A client's forced refresh: the shield is asked to refresh too (RFC 9111 §5.2.1.4).
    pub refresh: bool,
    /// The stored response's validators (RFC 9111 §4.3.1: "a cache SHOULD ... generate a
    /// conditional request"), empty for an unconditional fetch.
    pub validators: Vec<(String, String)>,
    /// The fields the origin is sent because responses vary on them, so that its answer can
    /// be stored under this request's variant; `None`: a part's, as its request says.
    pub vary_fields: Option<Vec<String>>,
    /// For everyone with the key (a stored entry or held parts are refreshed: a credential
    /// the key does not hold stays behind, `decide::refresh`) or for the client alone.
    pub fetching: Fetching,
    pub fetched: Fetched,
}

impl ToSend {
    /// RFC 9111 §4.3.4: a 304 that names no stored response ("none matches") is asked again
    /// without validators.
    pub fn without_validators(&mut self) {
        self.validators.clear();
        if self.fetched == Fetched::Revalidating {
            self.fetched = Fetched::Reasked;
        }
    }
}

/// The request a fetch for a key sends, from what it starts from.
pub fn before_fetch(prior: &Prior) -> ToSend {
    let validators = prior
        .stale
        .filter(|meta| meta.reuse.validators)
        .map(conditional_fields)
        .unwrap_or_default();
    let fetching = if prior.stale.is_some() || prior.held_parts {
        Fetching::Stored
    } else {
        Fetching::Miss
    };
    let fetched = match (fetching, prior.head) {
        _ if !validators.is_empty() => Fetched::Revalidating,
        (Fetching::Stored, _) => Fetched::Replacing,
        (Fetching::Miss, true) => Fetched::Head,
        (Fetching::Miss, false) => Fetched::Miss,
    };
    // A stored entry's own `Vary` fields, else the URL marker's.
    let vary_fields = (!prior.part).then(|| {
        prior
            .stale
            .map_or_else(|| prior.url_vary.to_vec(), |meta| meta.vary.clone())
    });
    ToSend {
        as_get: prior.head && prior.stale.is_some(),
        refresh: prior.fwd == Fwd::Request,
        validators,
        vary_fields,
        fetching,
        fetched,
    }
}

/// Whether the client's field `name` (lowercase) reaches the origin on a fetch for `plan`'s
/// key that withholds `withheld` (`refresh::Sent`) and sends `vary_fields` because responses
/// vary on them.
pub fn origin_saw<'a>(
    plan: &'a Plan,
    withheld: &'a [String],
    vary_fields: &'a [String],
) -> impl Fn(&str) -> bool + 'a {
    move |name| {
        !withheld.iter().any(|w| w == name)
            && (plan.forwards(name) || vary_fields.iter().any(|f| f == name))
    }
}
