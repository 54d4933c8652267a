//! The request context: what one request's lookup, fills and writes read, shared with the
//! background work it starts (its key's plan, its tiers, what its fetches are sent from, its
//! one `now`); and, as the core decides them (`decide::store`) at that `now`, which tiers a
//! write goes to and how long an entry is kept.

use std::rc::Rc;

use url::Url;
use web_sys::Request;

use crate::flow::origin::{Forward, ShieldRoute};
use crate::flow::reply::Audience;
use crate::flow::shield::Role;
use crate::runtime::PickedFields;
use crate::settings::Settings;
use crate::store::Tier;
use edgecache_core::config::Backend;
use edgecache_core::control::registry::Registry;
use edgecache_core::decide::refresh::{self, Fetching, KeyHolds, Sent};
use edgecache_core::decide::store::{self, writes_to, Replacing};
use edgecache_core::http::reuse::RefreshPolicy;
use edgecache_core::http::RequestFacts;
use edgecache_core::request::plan::Plan;
use edgecache_core::request::target::Target;
use edgecache_core::storage::record::Meta;

/// What one request's lookup, fills and writes read, shared with the background work it
/// starts.
pub struct RequestContext {
    pub plan: Plan,
    pub tiers: Vec<Tier>,
    /// What the request is sent to the origin from (`forward`, `pass`).
    pub sending: ForwardSource,
    pub facts: RequestFacts,
    /// The request's fields, for its `Vary` values and conditionals.
    pub headers: PickedFields,
    pub max_body_bytes: u64,
    pub keep_stale: u64,
    pub hit_for_pass_ttl: u64,
    pub expose_tags: bool,
    /// The route has `esi = true`.
    pub esi_route: bool,
    /// The purges made so far, checked against every entry read.
    pub registry: Rc<Registry>,
    /// What a client's forced refresh may do.
    pub refresh: RefreshPolicy,
    /// Workers Cache is in front (`workers_cache`): answers say what they keep.
    pub workers_cache: bool,
    /// Answered at a location, or at the shield for every location.
    pub role: Role,
    /// The request's one reading of the clock (ms since the epoch), which its choices are
    /// made at. Only what measures the origin (`Exchange`: when it was asked and answered)
    /// and deadlines read the clock again.
    pub now: i64,
}

/// What a request's forwards are built from: only when it goes to the origin, never on a hit.
pub struct ForwardSource {
    pub request: Request,
    pub url: Url,
    pub target: Target,
    pub settings: Rc<Settings>,
    /// A route's `vary_cookies`: the only cookies a keyed request sends on.
    pub keep_cookies: Vec<String>,
    /// The route has `esi = true`.
    pub esi: bool,
    /// The route is shielded and the worker has the binding: misses may go to the shield.
    pub shield: Option<Rc<ShieldRoute>>,
}

impl RequestContext {
    /// The request as the key says it (what a fill sends).
    pub fn forward(&self) -> Forward {
        let sending = &self.sending;
        let settings = &sending.settings;
        let mut forward = Forward::for_key(
            &sending.request,
            &self.plan,
            &sending.target,
            settings.origin.as_ref(),
            sending.keep_cookies.clone(),
            self.origin_timeout_ms(),
            sending.esi,
        );
        forward.shield = sending.shield.clone();
        forward
    }

    /// How long this request waits for the origin's headers: at the shield, less than the
    /// location that asked has left (`decide::shield::origin_timeout_at_shield`).
    pub fn origin_timeout_ms(&self) -> u64 {
        let timeout = self.sending.settings.config.origin_timeout_ms;
        match self.role {
            Role::Edge => timeout,
            Role::Shield => {
                use edgecache_core::decide::shield::{origin_timeout_at_shield, DEADLINE_FIELD};
                let headers = self.sending.request.headers();
                let deadline = headers.get(DEADLINE_FIELD).ok().flatten();
                // A deadline: the clock as it is now, not the request's `now`.
                origin_timeout_at_shield(timeout, crate::runtime::now_ms(), deadline.as_deref())
            }
        }
    }

    /// Who this request's answers are for: clients, or (at the shield) the locations' caches.
    pub fn audience(&self) -> Audience {
        match self.role {
            Role::Edge => Audience::Clients {
                expose_tags: self.expose_tags,
            },
            Role::Shield => Audience::Caches,
        }
    }

    /// The key this request's fetches coalesce on: the shield's flights are its own, even in
    /// an isolate that also serves a location (a location waiting for the shield must never
    /// find the shield waiting for it).
    pub fn flight_key(&self) -> std::borrow::Cow<'_, str> {
        match self.role {
            Role::Edge => std::borrow::Cow::Borrowed(&self.plan.primary),
            Role::Shield => {
                std::borrow::Cow::Owned(crate::flow::coalesce::shield_flight(&self.plan.primary))
            }
        }
    }

    /// The request as the client sent it (a `Range` whose answer cannot be kept as a part).
    pub fn pass(&self) -> Forward {
        let sending = &self.sending;
        let settings = &sending.settings;
        let mut forward = Forward::as_sent(
            &sending.request,
            &sending.url,
            settings.origin.as_ref(),
            self.origin_timeout_ms(),
        );
        forward.esi = sending.esi;
        forward
    }
}

/// What a fetch sends of the client's credentials, and the request as the origin saw it,
/// which its answer is judged as one to.
pub struct AsSent {
    pub sent: Sent,
    pub facts: RequestFacts,
}

impl RequestContext {
    /// What a fetch for `fetching` sends of this request's credentials
    /// (`decide::refresh::sent`): refreshing a stored entry, only those its key holds, the
    /// route's `vary_cookies` and `vary_headers` and `vary_fields`, the fields the stored
    /// response varies on.
    pub fn as_sent(&self, fetching: Fetching, vary_fields: &[String]) -> AsSent {
        let config = &self.sending.settings.config;
        let credentials: Vec<String> = config
            .credential_headers
            .iter()
            .filter(|name| name.as_str() != "proxy-authorization" && self.plan.forwards(name))
            .cloned()
            .collect();
        let key = KeyHolds {
            fields: &self.plan.keyed_headers,
            varies_on: vary_fields,
            cookies: &self.sending.keep_cookies,
        };
        let sent = refresh::sent(fetching, &credentials, &self.headers, &key);
        let facts = refresh::facts_sent(&self.headers, &config.credential_headers, &sent.withheld);
        AsSent { sent, facts }
    }
}

impl RequestContext {
    /// The tiers a write goes to (`decide::store::writes_to`: the KV write throttle), as of
    /// the request's `now`.
    pub fn tiers_to_write(&self, replacing: Option<Replacing>) -> impl Iterator<Item = &Tier> {
        let backends: Vec<Backend> = self.tiers.iter().map(Tier::backend).collect();
        self.tiers
            .iter()
            .filter(move |tier| writes_to(tier.backend(), &backends, replacing, self.now))
    }

    /// How long an entry is kept (`decide::store::keep_secs`), as of the request's `now`.
    pub fn keep_secs(&self, meta: &Meta) -> u64 {
        store::keep_secs(meta, self.keep_stale, self.now)
    }
}
