//! After the lookup: serve what was found, go to the origin for it, or refuse.

use crate::config::Backend;
use crate::control::registry::{Registry, Standing};
use crate::http::directives::CacheControl;
use crate::http::reuse::{client_verdict, Forcing, RefreshPolicy, Verdict};
use crate::http::{Fields, Reuse};
use crate::request::plan::Plan;
use crate::status::{Fwd, Outcome, Reason};
use crate::storage::record::Meta;

/// A stored entry the lookup found, as the choice needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub reuse: Reuse,
    /// Seconds old now (RFC 9111 §4.2.3).
    pub age: u64,
    /// Its freshness lifetime, seconds.
    pub lifetime: u64,
    /// Seconds since it was stored (or last revalidated).
    pub resident: u64,
    /// Soft-purged since it was stored: usable only stale, while it is refreshed.
    pub soft_purged: bool,
    /// The tier that held it, and whether a faster tier above it, one that could hold it, did
    /// not (it is then copied up).
    pub tier: Backend,
    pub lower_tier: bool,
}

impl Stored {
    /// Seconds of freshness left; negative once stale.
    pub fn ttl(&self) -> i64 {
        self.lifetime as i64 - self.age as i64
    }

    fn fresh(&self) -> bool {
        self.ttl() > 0
    }
}

/// What the request asks of the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAsked {
    pub cache_control: CacheControl,
    /// It carries `Range`.
    pub range: bool,
    pub head: bool,
    /// What a client's forced refresh may do.
    pub refresh: RefreshPolicy,
    /// Its `Range` is one byte range whose answer may be kept as a part (a GET, one range,
    /// no `If-Range` the held parts cannot answer): what stored parts hold of it.
    pub part: Option<RangeAsked>,
}

/// What stored parts hold of a Range request's range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeAsked {
    /// Parts are stored (`None`: nothing is).
    pub held: Option<HeldParts>,
}

/// Stored parts, as the choice needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldParts {
    /// The parts record, as an entry.
    pub stored: Stored,
    /// It holds every byte of the range asked for.
    pub all: bool,
}

/// What to do once the lookup is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterLookup {
    /// Answer from the entry found; then `then`. `unread`: nothing else reads the body, so it
    /// may be sent without passing through Wasm.
    Serve {
        outcome: Outcome,
        then: Then,
        unread: bool,
    },
    /// Answer at once with `status`, asking the origin nothing.
    Refuse { status: u16, outcome: Outcome },
    /// Send the request as the client sent it, alone, and store nothing.
    Pass { fwd: Fwd, reason: Reason },
    /// Go to the origin for the key (revalidating or replacing the entry found, if any) and
    /// store what may be stored; `coalesce`: requests for the key share one fetch.
    Fetch { fwd: Fwd, coalesce: bool },
    /// Go to the origin for the key with a `Range`, on its own, and keep a `206` as a part
    /// (`decide::answer::judge_part`). `held`: ask only for the bytes the held parts miss,
    /// naming their entity tag in `If-Range`; otherwise ask for the client's range, and what
    /// is kept replaces any parts stored.
    FetchPart { fwd: Fwd, held: bool },
}

/// Background work after serving an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// One refresh from the origin (RFC 5861 §3; a soft purge).
    Refresh,
    /// A copy into the faster tiers above the one that held it.
    CopyUp,
}

/// The choice after a lookup that found `stored` (or nothing; `vary_miss`: a tier knew the
/// URL's variants but not this request's).
pub fn after_lookup(stored: Option<&Stored>, vary_miss: bool, asked: &ClientAsked) -> AfterLookup {
    if let Some(stored) = stored {
        if let Some(serve) = serve(stored, asked) {
            return serve;
        }
    }
    // Parts are used only where no full response is stored: a stale one is revalidated or
    // replaced whole, as before parts were kept.
    let held = match (stored, &asked.part) {
        (None, Some(part)) => part.held.as_ref(),
        _ => None,
    };
    let usable = held.and_then(|held| usable_parts(held, asked).map(|serve| (held, serve)));
    if let Some((HeldParts { all: true, .. }, serve)) = usable {
        return serve;
    }
    // RFC 9111 §5.2.1.7: only-if-cached: "respond using a stored response or ... with a 504
    // (Gateway Timeout) status code".
    if asked.cache_control.only_if_cached {
        return AfterLookup::Refuse {
            status: 504,
            outcome: Outcome::forward(Fwd::Miss, None, false, Some(Reason::OnlyIfCached)),
        };
    }
    let fwd = match stored.or(held.map(|held| &held.stored)) {
        // Fresh, but the request asked for more: RFC 9211's `fwd=request`.
        Some(stored) if stored.fresh() && !stored.reuse.no_cache => Fwd::Request,
        Some(_) => Fwd::Stale,
        None if vary_miss => Fwd::VaryMiss,
        None => Fwd::Miss,
    };
    // A Range request that no full response answers goes on its own: its 206 is kept as a
    // part (RFC 9111 §3.3), says nothing about the URL as a whole (no hit-for-pass), and no
    // full request should wait for it. Parts that hold some of it are completed with the
    // bytes they miss (RFC 9211's `fwd=partial`).
    if asked.range && stored.is_none() && asked.part.is_some() {
        return match usable {
            Some(_) => AfterLookup::FetchPart {
                fwd: Fwd::Partial,
                held: true,
            },
            None => AfterLookup::FetchPart { fwd, held: false },
        };
    }
    // Any other Range request that nothing stored answers (several ranges, a HEAD, an
    // `If-Range` for another version, a stale full response) goes as it is.
    if asked.range {
        return AfterLookup::Pass {
            fwd,
            reason: Reason::Range,
        };
    }
    AfterLookup::Fetch {
        fwd,
        // A HEAD with nothing stored is forwarded as HEAD: nobody to share a fetch with.
        coalesce: !(asked.head && stored.is_none()),
    }
}

/// Held parts answer the request (when they hold all of it), if they may: fresh, or stale
/// as the client allows, but never served stale while a refresh runs, which no part has.
fn usable_parts(held: &HeldParts, asked: &ClientAsked) -> Option<AfterLookup> {
    match serve(&held.stored, asked)? {
        AfterLookup::Serve {
            then: Then::Refresh,
            ..
        } => None,
        AfterLookup::Serve { outcome, then, .. } => Some(AfterLookup::Serve {
            outcome,
            then,
            unread: false,
        }),
        _ => None,
    }
}

/// The entry answers the request, if it may.
fn serve(stored: &Stored, asked: &ClientAsked) -> Option<AfterLookup> {
    let (mut verdict, forcing) = client_verdict(
        &stored.reuse,
        stored.age,
        stored.lifetime,
        &asked.cache_control,
        stored.resident,
        asked.refresh,
    );
    if stored.soft_purged && matches!(verdict, Verdict::Fresh | Verdict::StaleAccepted) {
        // A soft purge: served once more, stale, while one refresh goes to the origin.
        verdict = if stored.reuse.must_revalidate {
            Verdict::Revalidate
        } else {
            Verdict::StaleWhileRevalidate
        };
    }
    let detail = match verdict {
        Verdict::Fresh if forcing == Forcing::Limited => Some(Reason::RefreshLimited),
        Verdict::Fresh => None,
        Verdict::StaleAccepted => Some(Reason::MaxStale),
        Verdict::StaleWhileRevalidate if stored.soft_purged => Some(Reason::SoftPurged),
        Verdict::StaleWhileRevalidate => Some(Reason::StaleWhileRevalidate),
        Verdict::Revalidate => return None,
    };
    let then = if verdict == Verdict::StaleWhileRevalidate {
        Then::Refresh
    } else if stored.lower_tier {
        Then::CopyUp
    } else {
        Then::Nothing
    };
    Some(AfterLookup::Serve {
        outcome: Outcome::Hit {
            ttl: stored.ttl(),
            tier: stored.tier,
            stale: detail,
        },
        then,
        unread: then == Then::Nothing,
    })
}

/// What a request reports that waited for another's fetch and got the entry it stored.
pub fn collapsed(fwd: Fwd, status: u16) -> Outcome {
    Outcome::Forward {
        fwd,
        status: Some(status),
        stored: false,
        collapsed: true,
        reason: None,
    }
}

/// What a request that waited for another's fetch (a collapsed follower) reports when it
/// takes the entry the leader stored, or `None` when it may not: the entry is another
/// variant's (its `Vary` fields pick another key for this request's values), or a purge in
/// `registry` (the follower's copy) reaches it, and the follower fetches for itself.
/// `standing_unknown`: as `with_unknown_standing`.
pub fn follower_takes(
    entry: &Meta,
    plan: &Plan,
    request: &impl Fields,
    fwd: Fwd,
    (registry, standing_unknown): (&Registry, bool),
) -> Option<Outcome> {
    if entry.key != plan.variant_key(&entry.vary, request) {
        return None;
    }
    // A purge acknowledged while the leader's fetch was on its way reaches what it brought
    // (`Meta::purged_from`): a request that joined the flight after it never gets that.
    let standing =
        registry.standing_under(&entry.url, &entry.tags, &plan.tags, entry.purged_from());
    if standing == Standing::Purged {
        return None;
    }
    let outcome = collapsed(fwd, entry.status);
    Some(if standing_unknown {
        with_unknown_standing(outcome)
    } else {
        outcome
    })
}

/// Says that a request went to the origin because no stored entry's purge standing is known
/// (the control plane could not be asked for longer than the grace), unless another reason
/// already explains its answer.
pub fn with_unknown_standing(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Forward {
            fwd,
            status,
            stored,
            collapsed,
            reason: None,
        } => Outcome::Forward {
            fwd,
            status,
            stored,
            collapsed,
            reason: Some(Reason::PurgeStandingUnknown),
        },
        other => other,
    }
}
