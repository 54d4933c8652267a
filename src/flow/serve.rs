//! GET and HEAD on a cacheable route: look the request up, then serve what was found, go to
//! the origin for it (once per key), or refuse, as `decide::stored` chooses; and what a failed
//! origin or a stored entry is answered with.

use std::rc::Rc;

use wasm_bindgen::JsValue;
use web_sys::{ReadableStream, Response};
use worker::Context;

use crate::flow::answer::Answer;
use crate::flow::assemble::{self, Fragment};
use crate::flow::coalesce::{self, Flight, Leader, Settled};
use crate::flow::context::RequestContext;
use crate::flow::error::RequestError;
use crate::flow::fill::{fill, PartFetch, Start};
use crate::flow::lookup::{backfill, lookup, Found, Unusable};
use crate::flow::origin::OriginError;
use crate::flow::parts::{self, PartRequest};
use crate::flow::pass::{error_page, failure_of, pass_through, refusal};
use crate::flow::reply::{self, Decoration, PartBytes, Unread};
use crate::flow::report::Served;
use crate::flow::shield::Role;
use crate::runtime::JsFields;
use crate::store::Entry;
use edgecache_core::decide::answer::{
    answers_not_modified, is_template, on_failure, IfError, OnFailure,
};
use edgecache_core::decide::shield::tries_after_failed_flight;
use edgecache_core::decide::stored::{
    after_lookup, follower_takes, with_unknown_standing, AfterLookup, ClientAsked, HeldParts,
    RangeAsked, Stored, Then,
};
use edgecache_core::http::range::{self, RangeAnswer, Spec};
use edgecache_core::http::Fields;
use edgecache_core::status::{Fwd, Outcome};
use edgecache_core::storage::read;
use edgecache_core::storage::record::{Kind, Meta};
use edgecache_core::workers_cache::emit::Kept;

/// Looks the request up and carries out what `decide::stored::after_lookup` chooses.
/// What went wrong on the way (storage, the origin) comes back with the answer, for the log
/// line.
pub async fn serve_cacheable(
    job: &Rc<RequestContext>,
    ctx: &Rc<Context>,
    head: bool,
    fragment: Option<&Fragment>,
) -> Served {
    let serving = Serving {
        job,
        ctx,
        head,
        fragment,
    };
    // A lookup can take a while (a slow tier, a busy isolate): when the key's flight closed
    // meanwhile, what it stored was not there yet when this request looked. It looks once
    // more instead of asking the origin (or the shield) a second time.
    serve_looked_up(serving, Some(coalesce::mark())).await
}

/// One request being served: what every step of serving it reads.
#[derive(Clone, Copy)]
struct Serving<'a> {
    job: &'a Rc<RequestContext>,
    ctx: &'a Rc<Context>,
    head: bool,
    fragment: Option<&'a Fragment>,
}

/// What the lookup found, read as far as the choice after it needs.
struct Chosen {
    decision: AfterLookup,
    /// The response found; its body in `unread` when it is sent from storage unread.
    found: Option<Found>,
    unread: Option<Unread>,
    /// Parts held for a Range request, the range asked of them (`spec`), and the bytes of
    /// them read for a hit (`held_part`).
    held: Option<Found>,
    spec: Option<Spec>,
    held_part: Option<PartBytes>,
}

/// `serve_cacheable` after one lookup, whose `coalesce::mark` is `looked` if the request may
/// still look again (`coalesce::Flight::LookAgain`).
async fn serve_looked_up(s: Serving<'_>, looked: Option<u64>) -> Served {
    let job = s.job;
    let looked_up = lookup(&job.tiers, &job.plan, &job.headers, &job.registry, job.now).await;
    let mut errors: Vec<RequestError> = looked_up.failed.into_iter().map(Into::into).collect();
    let (vary, standing_unknown) = (looked_up.vary, looked_up.standing_unknown);
    let chosen = choose(s, looked_up.found, looked_up.vary_miss, &mut errors).await;
    let Chosen {
        decision,
        found,
        unread,
        held,
        spec,
        held_part,
    } = chosen;
    let (fwd, stale, leader, use_held) = match (decision, found) {
        (AfterLookup::Serve { outcome, then, .. }, Some(found)) => {
            return serve_hit(s, found, unread, outcome, then).after(errors);
        }
        (AfterLookup::Serve { outcome, then, .. }, None) => {
            return serve_held(s, held.zip(spec), held_part, outcome, then).after(errors);
        }
        (AfterLookup::Refuse { status, outcome }, _) => {
            let response = reply::plain(status, &refusal(&outcome), &outcome);
            return Served::new(response, outcome).after(errors);
        }
        (AfterLookup::Pass { fwd, reason }, _) => {
            let (forward, audience) = (job.pass(), job.audience());
            let passed = pass_through(forward, fwd, Some(reason), audience, s.fragment).await;
            return passed.after(errors);
        }
        (AfterLookup::Fetch { fwd, coalesce }, stale) => {
            assemble::tell(s.fragment, &Outcome::forward(fwd, None, false, None));
            let mut flown = Ok(None);
            if coalesce {
                let standing = standing_unknown;
                flown = join_flight(s, fwd, stale.as_ref(), (looked, standing), &mut errors).await;
            }
            match flown {
                Ok(leader) => (fwd, stale, leader, None),
                Err(served) => return served.after(errors),
            }
        }
        (AfterLookup::FetchPart { fwd, held }, _) => {
            assemble::tell(s.fragment, &Outcome::forward(fwd, None, false, None));
            (fwd, None, None, Some(held))
        }
    };
    let part_request = use_held.zip(spec).map(|(use_held, spec)| {
        let request = PartRequest { spec, held };
        (request, use_held)
    });
    let part = part_request.as_ref().map(|(request, use_held)| {
        let (forward, asked) = parts::forward_for(job, request, *use_held, &vary);
        PartFetch {
            request,
            forward,
            asked,
        }
    });
    let start = Start {
        stale: stale.as_ref(),
        fwd,
        head: s.head,
        client_body: !s.head,
        vary: &vary,
        part,
    };
    let mut answer = fill(job, s.ctx, start, leader).await;
    if standing_unknown {
        answer = answer.map_outcome(with_unknown_standing);
    }
    let spec = part_request.as_ref().map(|(request, _)| request.spec);
    let served = answer_with(s, answer, spec, (stale.as_ref(), fwd), &mut errors);
    served.after(errors)
}

/// Decides after the lookup, reading what was found as far as the choice needs: an entry
/// or held parts whose body turns out unusable (cut short, unreadable) count as not found,
/// and the choice is made again without them.
async fn choose(
    s: Serving<'_>,
    mut found: Option<Found>,
    vary_miss: bool,
    errors: &mut Vec<RequestError>,
) -> Chosen {
    let job = s.job;
    // Parts are not a response: they answer Range requests only (`parts`).
    let ranged = !s.head && job.headers.field("range").is_some();
    let mut held = found
        .take_if(|f| f.entry.meta.kind == Kind::Parts)
        .filter(|_| ranged);
    loop {
        let spec = parts::part_spec(job, s.head, held.as_ref());
        let asked = ClientAsked {
            cache_control: job.facts.cache_control.clone(),
            range: job.headers.field("range").is_some(),
            head: s.head,
            refresh: job.refresh,
            part: spec.map(|spec| RangeAsked {
                held: held.as_ref().and_then(|f| held_parts(f, spec, job)),
            }),
        };
        let (decision, unread) = read_found(s, &asked, vary_miss, &mut found, errors).await;
        let found_none = found.is_none();
        match read_held(job, &decision, found_none, (held.as_mut(), spec)).await {
            Ok(held_part) => {
                return Chosen {
                    decision,
                    found,
                    unread,
                    held,
                    spec,
                    held_part,
                }
            }
            Err(Unusable(failed)) => {
                errors.extend(failed.map(Into::into));
                held = None;
            }
        }
    }
}

/// Decides after the lookup on the response `found`, and reads its body as the choice needs:
/// a hit that nothing else will read (no refresh, no copy to a faster tier) is sent from
/// storage unread (whole, or only the part a Range asks for, as `storage::read` chooses);
/// anything else reads the body first.
async fn read_found(
    s: Serving<'_>,
    asked: &ClientAsked,
    vary_miss: bool,
    found: &mut Option<Found>,
    errors: &mut Vec<RequestError>,
) -> (AfterLookup, Option<Unread>) {
    let job = s.job;
    loop {
        let stored = found.as_ref().map(|f| stored_of(f, job, job.now));
        let decision = after_lookup(stored.as_ref(), vary_miss, asked);
        let Some(entry) = found.as_mut() else {
            return (decision, None);
        };
        let unread = if let AfterLookup::Serve { unread: true, .. } = decision {
            let meta = &entry.entry.meta;
            let range = range_for(job, meta, is_template(meta.status, &**meta, job.esi_route));
            let tier = &job.tiers[entry.tier];
            let read = read::for_response(tier.backend(), range, s.head);
            entry.take_unread(tier, read).await
        } else {
            Ok(None)
        };
        let read = match unread {
            Ok(None) => entry.complete().await.map(|()| None),
            other => other,
        };
        match read {
            Ok(unread) => return (decision, unread),
            Err(Unusable(failed)) => {
                errors.extend(failed.map(Into::into));
                *found = None;
            }
        }
    }
}

/// Held parts are read as far as the choice needs them: only the bytes sent when nothing
/// else reads them; whole when a part is fetched (it may be merged into them, whether asked
/// as their missing bytes or as the client's range) or they are copied up.
async fn read_held(
    job: &RequestContext,
    decision: &AfterLookup,
    found_none: bool,
    (held, spec): (Option<&mut Found>, Option<Spec>),
) -> Result<Option<PartBytes>, Unusable> {
    let Some(parts_found) = held else {
        return Ok(None);
    };
    let serving_parts = matches!(decision, AfterLookup::Serve { .. }) && found_none;
    let held_part = match (decision, spec) {
        (
            AfterLookup::Serve {
                then: Then::Nothing,
                ..
            },
            Some(spec),
        ) if serving_parts => read_held_part(job, parts_found, spec).await?,
        _ => None,
    };
    let needs_whole = serving_parts || matches!(decision, AfterLookup::FetchPart { .. });
    if needs_whole && held_part.is_none() {
        parts_found.complete().await?;
    }
    Ok(held_part)
}

/// Serves the response found, then refreshes it or copies it up as `then` says.
fn serve_hit(
    s: Serving<'_>,
    found: Found,
    unread: Option<Unread>,
    outcome: Outcome,
    then: Then,
) -> Served {
    assemble::tell(s.fragment, &outcome);
    let mut served = respond_with_entry(s.job, &found.entry, unread, s.head, outcome, true);
    served.bytes_from_cache = found.entry.meta.body_len;
    match then {
        Then::Refresh => s
            .ctx
            .wait_until(refresh(s.job.clone(), s.ctx.clone(), found)),
        Then::CopyUp => copy_up(s, found),
        Then::Nothing => {}
    }
    served
}

/// Serves the range asked (`spec`) from held parts, then copies them up if `then` says so.
fn serve_held(
    s: Serving<'_>,
    held: Option<(Found, Spec)>,
    held_part: Option<PartBytes>,
    outcome: Outcome,
    then: Then,
) -> Served {
    if let Some((parts_found, spec)) = held {
        assemble::tell(s.fragment, &outcome);
        let entry = &parts_found.entry;
        let served = parts::respond_with_part(s.job, entry, outcome.clone(), spec, held_part);
        if let Some(mut served) = served {
            served.bytes_from_cache = entry.meta.body_len;
            if then == Then::CopyUp {
                copy_up(s, parts_found);
            }
            return served;
        }
    }
    let error = JsValue::from_str("edgecache: a hit without its entry");
    Served::new(Err(error), outcome)
}

/// Copies what was found into the faster tiers, in the background.
fn copy_up(s: Serving<'_>, found: Found) {
    let keep = s.job.keep_secs(&found.entry.meta);
    let job = s.job.clone();
    s.ctx
        .wait_until(async move { backfill(&job.tiers, found, keep, job.now).await });
}

/// Joins the key's flight: leads it (`Ok(Some)`), or waits for its leader and takes what it
/// stored when `decide::stored::follower_takes` allows, or looks again when the flight
/// closed during the lookup. `Err`: the answer, made without a fetch of this request's own.
/// `(looked, standing_unknown)`: as `serve_looked_up` has them.
async fn join_flight(
    s: Serving<'_>,
    fwd: Fwd,
    stale: Option<&Found>,
    (looked, standing_unknown): (Option<u64>, bool),
    errors: &mut Vec<RequestError>,
) -> Result<Option<Leader>, Served> {
    let job = s.job;
    let ticket = match coalesce::join(&job.flight_key(), job.now, looked) {
        Flight::LookAgain => return Err(Box::pin(serve_looked_up(s, None)).await),
        Flight::Leader(leader) => return Ok(Some(leader)),
        Flight::Pass => return Ok(None),
        Flight::Follower(ticket) => ticket,
    };
    let settled = coalesce::wait_for(&ticket, job.origin_timeout_ms()).await;
    let shielded = job.role == Role::Shield || job.sending.shield.is_some();
    match settled {
        Some(Settled::Unreached(error)) if !tries_after_failed_flight(shielded) => {
            errors.push(RequestError::Awaited(error.clone()));
            Err(origin_failed(job, stale, fwd, error, s.head))
        }
        Some(Settled::Stored(entry)) => {
            let meta = &entry.meta;
            let standing = (&*job.registry, standing_unknown);
            let takes = follower_takes(meta, &job.plan, &job.headers, fwd, standing);
            let Some(outcome) = takes else {
                return Ok(None);
            };
            let mut served = respond_with_entry(job, &entry, None, s.head, outcome, true);
            served.bytes_from_cache = entry.body.len() as u64;
            Err(served)
        }
        _ => Ok(None),
    }
}

/// What the client is sent of a fill's answer; `spec`: the range a part fetched was for;
/// `(stale, fwd)`: the entry the fill replaced or revalidated, and why it went to the origin.
fn answer_with(
    s: Serving<'_>,
    answer: Answer,
    spec: Option<Spec>,
    (stale, fwd): (Option<&Found>, Fwd),
    errors: &mut Vec<RequestError>,
) -> Served {
    let job = s.job;
    match answer {
        // A part just kept, merged with the held ones: the client's range is cut from them.
        Answer::Entry { entry, outcome, .. } if entry.meta.kind == Kind::Parts => {
            let served = spec.and_then(|spec| {
                parts::respond_with_part(job, &entry, outcome.clone(), spec, None)
            });
            served.unwrap_or_else(|| {
                let error = JsValue::from_str("edgecache: parts that do not hold the range asked");
                Served::new(Err(error), outcome)
            })
        }
        Answer::Entry {
            entry,
            outcome,
            shareable,
        } => respond_with_entry(job, &entry, None, s.head, outcome, shareable),
        Answer::Origin {
            origin,
            body,
            outcome,
            kept,
        } => respond_with_origin(job, &origin, body, outcome, kept),
        Answer::Failed(error) => {
            errors.push(RequestError::Origin(error.clone()));
            origin_failed(job, stale, fwd, error, s.head)
        }
    }
}

/// Sends the origin's response on (its `body`, the client's branch when it is being stored),
/// answering the client's validators with a 304 as `decide::answer::answers_not_modified`
/// says.
fn respond_with_origin(
    job: &RequestContext,
    origin: &Response,
    body: Option<ReadableStream>,
    outcome: Outcome,
    kept: Option<Kept>,
) -> Served {
    let stored = matches!(outcome, Outcome::Forward { stored: true, .. });
    let fields = JsFields(&origin.headers());
    let status = origin.status();
    let template = is_template(status, &fields, job.esi_route);
    let not_modified = answers_not_modified(Some(status), template, &job.headers, &fields);
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: job.plan.browser_ttl.filter(|_| stored),
        audience: job.audience(),
    };
    let response = reply::from_origin(origin, body.as_ref(), not_modified, &decoration);
    let tags = kept
        .as_ref()
        .map(|kept| kept.tags.clone())
        .unwrap_or_default();
    Served {
        template,
        kept: kept.filter(|_| job.workers_cache),
        tags,
        ..Served::new(response, outcome)
    }
}

/// The lookup's entry as the choice after it sees it.
fn stored_of(found: &Found, job: &RequestContext, now: i64) -> Stored {
    let meta = &found.entry.meta;
    Stored {
        reuse: meta.reuse,
        age: meta.age(now),
        lifetime: meta.lifetime,
        resident: ((now - meta.stored_at).max(0) / 1000) as u64,
        soft_purged: found.soft_purged,
        tier: job.tiers[found.tier].backend(),
        // Copied up only into a faster tier that can hold it: a large R2 body is otherwise
        // read into Wasm for nothing.
        lower_tier: job.tiers[..found.tier]
            .iter()
            .any(|tier| tier.holds(meta.body_len)),
    }
}

/// Held parts as the choice after a lookup sees them: whether they hold all of `spec`.
fn held_parts(found: &Found, spec: Spec, job: &RequestContext) -> Option<HeldParts> {
    let pieces = parts::pieces(found)?;
    let (first, last) = parts::wanted(spec, pieces.total)?;
    Some(HeldParts {
        stored: stored_of(found, job, job.now),
        all: edgecache_core::http::parts::holds(&pieces.held, first, last),
    })
}

/// The bytes of held parts (`spec` of the representation) that a hit sends, read from their
/// tier alone where it can (`storage::read::for_parts`); `Ok(None)`: their body is in Wasm
/// already (the memory tier), or must be read whole.
async fn read_held_part(
    job: &RequestContext,
    held: &mut Found,
    spec: Spec,
) -> Result<Option<PartBytes>, Unusable> {
    let Some(pieces) = parts::pieces(held) else {
        return Ok(None);
    };
    let Some((first, last)) = parts::wanted(spec, pieces.total) else {
        return Ok(None);
    };
    let tier = &job.tiers[held.tier];
    let Some(read) = read::for_parts(tier.backend(), pieces, first, last) else {
        return Ok(None);
    };
    Ok(match held.take_unread(tier, read).await? {
        Some(Unread::Part(stream)) => Some(PartBytes::Read(stream)),
        Some(Unread::Whole(stream)) => {
            let _ = stream.cancel();
            None
        }
        None => None,
    })
}

/// Serves a stored entry, answering the client's validators with a 304 when they match
/// (never for an ESI template: its validators are the shell's, not the assembled page's).
/// `shareable`: the entry is one the cache keeps, so a route's `browser_ttl` applies.
/// `unread`: the entry's body still in the runtime, sent instead of `entry.body`.
fn respond_with_entry(
    job: &RequestContext,
    entry: &Entry,
    unread: Option<Unread>,
    head: bool,
    outcome: Outcome,
    shareable: bool,
) -> Served {
    let template = is_template(entry.meta.status, &*entry.meta, job.esi_route);
    let not_modified = answers_not_modified(None, template, &job.headers, &*entry.meta);
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: job.plan.browser_ttl.filter(|_| shareable),
        audience: job.audience(),
    };
    let range = range_for(job, &entry.meta, template);
    let response = reply::from_entry(
        entry,
        unread,
        job.now,
        head,
        not_modified,
        range,
        &decoration,
    );
    Served {
        template,
        kept: (shareable && job.workers_cache).then(|| Kept::of(&entry.meta, job.now)),
        tags: if shareable {
            entry.meta.tags.clone()
        } else {
            Vec::new()
        },
        ..Served::new(response, outcome)
    }
}

/// RFC 9110 §13.2.2: a Range is evaluated after the conditionals (`from_entry` answers them
/// first), on a 200 as stored; an ESI template's bytes are not the page's (`template`, as
/// `is_template` found, which the caller has already asked).
fn range_for(job: &RequestContext, meta: &Meta, template: bool) -> RangeAnswer {
    if template || meta.status != 200 {
        return RangeAnswer::Full;
    }
    range::answer(&job.headers, meta, meta.body_len)
}

/// The origin gave no response: a stale entry if stale-if-error allows, else 502 or 504.
fn origin_failed(
    job: &RequestContext,
    stale: Option<&Found>,
    fwd: Fwd,
    error: OriginError,
    head: bool,
) -> Served {
    let if_error = IfError::of(stale.map(|found| &*found.entry.meta), job.now);
    let usable = stale.filter(|_| if_error == IfError::ServeStale);
    match (
        on_failure(fwd, failure_of(&error), usable.is_some()),
        usable,
    ) {
        (OnFailure::ServeStale(outcome), Some(found)) => {
            respond_with_entry(job, &found.entry, None, head, outcome, true)
        }
        _ => error_page(fwd, error),
    }
}

/// RFC 5861 §3: the one background refresh behind a stale-while-revalidate answer. Skipped
/// when another request of this isolate is already refreshing the key.
async fn refresh(job: Rc<RequestContext>, ctx: Rc<Context>, found: Found) {
    let Flight::Leader(leader) = coalesce::join(&job.flight_key(), job.now, None) else {
        return;
    };
    let start = Start {
        stale: Some(&found),
        fwd: Fwd::Stale,
        head: false,
        client_body: false,
        vary: &[],
        part: None,
    };
    if let Answer::Failed(error) = fill(&job, &ctx, start, Some(leader)).await {
        worker::console_warn!(
            "{}",
            serde_json::json!({ "edgecache": "refresh-failed", "key": edgecache_core::redact::key(&job.plan.primary), "id": edgecache_core::redact::id(&job.plan.primary), "error": edgecache_core::redact::text(&error.to_string()) })
        );
    }
}
