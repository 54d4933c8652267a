//! One request's fill job, shared with the background work it starts, and what it answers
//! the client with; how long an entry is kept, and which tiers a write goes to, as the core
//! decides them (`decide::store`) at the request's one `now`.

use std::rc::Rc;

use url::Url;
use web_sys::{ReadableStream, Request, Response};

use crate::flow::origin::{Forward, OriginError, ShieldRoute};
use crate::flow::reply::Audience;
use crate::flow::shield::Role;
use crate::runtime::PickedFields;
use crate::settings::Settings;
use crate::store::{Entry, Tier};
use edgecache_core::config::Backend;
use edgecache_core::control::registry::Registry;
use edgecache_core::decide::refresh::{self, Fetching, KeyHolds, Sent};
use edgecache_core::decide::store::{self, writes_to, Replacing};
use edgecache_core::http::reuse::RefreshPolicy;
use edgecache_core::http::RequestFacts;
use edgecache_core::request::plan::Plan;
use edgecache_core::request::target::Target;
use edgecache_core::status::Outcome;
use edgecache_core::storage::record::Meta;
use edgecache_core::workers_cache::fields::Kept;

/// What one request needs to fill the cache, shared with the background work it starts.
pub struct Job {
    pub plan: Plan,
    pub tiers: Vec<Tier>,
    /// What the request is sent to the origin from (`forward`, `pass`).
    pub sending: Sending,
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
pub struct Sending {
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

impl Job {
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

impl Job {
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

/// What the client is to be sent.
pub enum Answer {
    /// A stored (or just revalidated) entry; `shareable` when the cache may keep it, so a
    /// route's `browser_ttl` applies.
    Entry {
        entry: Entry,
        outcome: Outcome,
        shareable: bool,
    },
    /// The origin's response, streaming `body` (the client's branch when it is being stored);
    /// `kept`, with `workers_cache`, the entry being stored from it.
    Origin {
        origin: Response,
        body: Option<ReadableStream>,
        outcome: Outcome,
        kept: Option<Kept>,
    },
    /// No response from the origin.
    Failed(OriginError),
}

impl Answer {
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            Answer::Entry { outcome, .. } | Answer::Origin { outcome, .. } => Some(outcome),
            Answer::Failed(_) => None,
        }
    }

    /// The origin's response, streamed to the client and not stored.
    pub fn unstored(origin: Response, outcome: Outcome) -> Answer {
        let body = origin.body();
        Answer::Origin {
            origin,
            body,
            outcome,
            kept: None,
        }
    }

    /// The same answer, reporting `change(outcome)`.
    pub fn map_outcome(self, change: impl FnOnce(Outcome) -> Outcome) -> Answer {
        match self {
            Answer::Entry {
                entry,
                outcome,
                shareable,
            } => Answer::Entry {
                entry,
                outcome: change(outcome),
                shareable,
            },
            Answer::Origin {
                origin,
                body,
                outcome,
                kept,
            } => Answer::Origin {
                origin,
                body,
                outcome: change(outcome),
                kept,
            },
            failed @ Answer::Failed(_) => failed,
        }
    }
}

/// The tiers a write goes to (`decide::store::writes_to`: the KV write throttle), as of the
/// request's `now`.
pub fn tiers_to_write(job: &Job, replacing: Option<Replacing>) -> impl Iterator<Item = &Tier> {
    let backends: Vec<Backend> = job.tiers.iter().map(Tier::backend).collect();
    job.tiers
        .iter()
        .filter(move |tier| writes_to(tier.backend(), &backends, replacing, job.now))
}

/// How long an entry is kept (`decide::store::keep_secs`), as of the request's `now`.
pub fn keep_secs(job: &Job, meta: &Meta) -> u64 {
    store::keep_secs(meta, job.keep_stale, job.now)
}
