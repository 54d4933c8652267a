//! After the origin's answer is judged worth storing: the record to store (built by the
//! record's one constructor, `storage::record::Meta::new`), what Workers Cache in front is
//! told of it, which tiers a write goes to (by their descriptors: the KV write throttle), how
//! long an entry is kept, and what a body that could not be stored after all marks. Every
//! function takes the request's one `now`.

use crate::control::registry::response_tags;
use crate::decide::answer::{body_not_stored, speaks_for_key};
use crate::decide::shield::{as_stored_at_shield, SHIELD_FIELDS};
use crate::http::{fields_to_store, with_url_vary, Exchange, Fields, Storability};
use crate::request::plan::Plan;
use crate::status::{Fwd, Reason};
use crate::storage::backend::Backend;
pub use crate::storage::backend::KV_REWRITE_INTERVAL_MS;
use crate::storage::record::{Keeping, Kind, Meta, Pieces, Place, Said};
use crate::workers_cache::emit::{BodyHeld, Kept};

/// The origin's answer to a fetch for a key, as it arrived.
#[derive(Debug, Clone)]
pub struct Arrived<'a> {
    pub status: u16,
    /// Every field of the response, as the runtime lists them.
    pub fields: Vec<(String, String)>,
    /// When it was asked for and came.
    pub exchange: Exchange,
    /// From the shield's storage: when the shield stored it (`shield::STORED_AT_FIELD`).
    pub shield_stored_at: Option<&'a str>,
}

/// What to store of an answer, and what Workers Cache in front is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToStore {
    /// The record, its `body_len` set once the body is read (`Meta::with_body_len`).
    pub meta: Meta,
    pub kept: Kept,
}

/// The record for an answer that `verdict` (`http::storability`) says to store, to the
/// client's `request` for `plan`'s key; `url_vary`: the fields the URL's other answers vary
/// on, which the fetch sent. `None` when `verdict` says not to store.
pub fn to_store(
    verdict: Storability,
    arrived: Arrived,
    plan: &Plan,
    request: &impl Fields,
    url_vary: &[String],
) -> Option<ToStore> {
    let Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        vary,
        reuse,
    } = verdict
    else {
        return None;
    };
    // The URL's other answers vary on fields this one does not name (an origin that says
    // `Vary: Accept-Language` only to requests carrying it): it is stored as a variant of
    // them too, a narrower key than its own `Vary` asks (RFC 9111 §4.1), so the marker that
    // picks the others stays, and no tier takes this answer for every request to the URL.
    let vary = with_url_vary(vary, url_vary);
    let Arrived {
        status,
        mut fields,
        exchange,
        shield_stored_at,
    } = arrived;
    // From the shield's storage: kept as stored when the shield stored it, for purges.
    let (stored_at, initial_age) =
        as_stored_at_shield(exchange.response_ms, initial_age, shield_stored_at);
    fields.retain(|(name, _)| !SHIELD_FIELDS.contains(&name.as_str()));
    let tags = response_tags(&fields, &plan.tags);
    let kept = Kept {
        fresh_secs: lifetime as i64 - initial_age as i64,
        reuse,
        tags: tags.clone(),
        withheld: !strip_fields.is_empty(),
        body: BodyHeld::Arriving,
        url_vary: vary.clone(),
    };
    let said = Said {
        status,
        headers: fields_to_store(fields, &strip_fields, exchange.response_secs()),
        tags,
    };
    let keeping = Keeping {
        stored_at,
        asked_at: Some(exchange.sent_ms),
        initial_age,
        lifetime,
        reuse,
    };
    let key = plan.variant_key(&vary, request);
    let meta = Meta::response(key, plan.key.url(), vary, said, keeping);
    Some(ToStore { meta, kept })
}

/// The record for parts held of a response (`Meta::of_parts`: a response once they hold every
/// byte): `fields`, the latest part's (its `Content-Range` left out), which `verdict`
/// (`http::part_storability`) says to store; `pieces`, the bytes held, `body_len` of them.
pub fn parts_to_store(
    verdict: Storability,
    (mut fields, exchange): (Vec<(String, String)>, Exchange),
    plan: &Plan,
    request: &impl Fields,
    (pieces, body_len): (Pieces, u64),
) -> Option<Meta> {
    let Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        vary,
        reuse,
    } = verdict
    else {
        return None;
    };
    fields.retain(|(name, _)| !name.eq_ignore_ascii_case("content-range"));
    let place = Place {
        kind: Kind::Parts,
        key: plan.variant_key(&vary, request),
        url: plan.key.url(),
        vary,
    };
    let said = Said {
        status: 200,
        tags: response_tags(&fields, &plan.tags),
        headers: fields_to_store(fields, &strip_fields, exchange.response_secs()),
    };
    let keeping = Keeping {
        stored_at: exchange.response_ms,
        asked_at: Some(exchange.sent_ms),
        initial_age,
        lifetime,
        reuse,
    };
    Some(Meta::of_parts(place, said, keeping, pieces, body_len))
}

/// The stored record `stored` as a 304 refreshed it (RFC 9111 §4.3.4): `merged`, its fields
/// with the 304's, which `verdict` (`http::storability` of the merged response) says to store;
/// `None` when it says not to.
pub fn refreshed(
    stored: &Meta,
    merged: Vec<(String, String)>,
    verdict: Storability,
    exchange: Exchange,
    route_tags: &[String],
) -> Option<Meta> {
    let Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        reuse,
        ..
    } = verdict
    else {
        return None;
    };
    let said = Said {
        status: stored.status,
        tags: response_tags(&merged, route_tags),
        headers: fields_to_store(merged, &strip_fields, exchange.response_secs()),
    };
    let keeping = Keeping {
        stored_at: exchange.response_ms,
        asked_at: Some(exchange.sent_ms),
        initial_age,
        lifetime,
        reuse,
    };
    Some(stored.refreshed(said, keeping))
}

/// The entry a write replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replacing {
    /// When it was stored (ms).
    pub stored_at: i64,
    /// Its copy is still fresh: the refresh was a client's forcing.
    pub fresh: bool,
}

/// What a fill replaces: a client-forced refresh replaces an entry still fresh (never one
/// soft-purged, which must be rewritten everywhere for the purge to take effect).
pub fn replacing_by_fill(fwd: Fwd, stale: Option<(&Meta, bool)>) -> Option<Replacing> {
    let (meta, soft_purged) = stale?;
    (fwd == Fwd::Request && !soft_purged).then_some(Replacing {
        stored_at: meta.stored_at,
        fresh: true,
    })
}

/// What a merged 304 replaces: the same entry, unchanged; still fresh when the refresh was a
/// client's forcing. A soft-purged entry is always rewritten.
pub fn replacing_by_304(fwd: Fwd, stored: &Meta, soft_purged: bool) -> Option<Replacing> {
    (!soft_purged).then_some(Replacing {
        stored_at: stored.stored_at,
        fresh: fwd == Fwd::Request,
    })
}

/// Whether a write goes to `backend`, of the request's `tiers`: every one, but a backend
/// whose writes are rationed when it would rewrite an entry stored less than its interval
/// ago that is still fresh there (a client-forced refresh), or unchanged (a 304) while a
/// tier without a ration keeps the refreshed copy.
pub fn writes_to(
    backend: Backend,
    tiers: &[Backend],
    replacing: Option<Replacing>,
    now_ms: i64,
) -> bool {
    let Some(interval) = backend.describe().rewrite_interval_ms else {
        return true;
    };
    let unrationed = tiers
        .iter()
        .any(|tier| tier.describe().rewrite_interval_ms.is_none());
    !replacing.is_some_and(|r| now_ms - r.stored_at < interval && (r.fresh || unrationed))
}

/// How long an entry is kept (s): its freshness left at `now_ms` plus what it may still be
/// used for stale (`keep_stale`, the route's default for how long).
pub fn keep_secs(meta: &Meta, keep_stale: u64, now_ms: i64) -> u64 {
    let fresh_left = meta.ttl(now_ms).max(0) as u64;
    fresh_left.saturating_add(meta.reuse.stale_keep(keep_stale))
}

/// Until when (ms) a key marked hit-for-pass at `now_ms` stays so: requests for it no longer
/// wait for each other's fetch, its answers are not stored whoever asks.
pub fn hit_for_pass_until(now_ms: i64, hit_for_pass_ttl: u64) -> i64 {
    now_ms.saturating_add((hit_for_pass_ttl as i64).saturating_mul(1000))
}

/// A body that could not be stored after all: why, and whether the key is marked
/// hit-for-pass (a body too large to keep, on a fetch that speaks for the URL's key:
/// `answer::speaks_for_key`; a body the origin broke off says nothing of the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDropped {
    pub reason: Reason,
    pub hit_for_pass: bool,
}

/// `broke_off`: the body failed, rather than growing past `max_body_bytes`; `beyond_url`: the
/// fetch carried a credential the URL's key does not hold.
pub fn body_dropped(broke_off: bool, beyond_url: bool) -> BodyDropped {
    let reason = body_not_stored(broke_off);
    BodyDropped {
        reason,
        hit_for_pass: reason == Reason::TooLarge && speaks_for_key(Reason::TooLarge, beyond_url),
    }
}
