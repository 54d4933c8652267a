//! GET and HEAD on a cacheable route: look the request up, then serve what was found, go to
//! the origin for it (once per key), or refuse, as `decide::stored` chooses; and what a failed
//! origin or a stored entry is answered with.

use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::Context;

use crate::flow::assemble::{self, Fragment};
use crate::flow::coalesce::{self, Flight, Settled};
use crate::flow::error::RequestError;
use crate::flow::fill::{fill, PartFetch, Start};
use crate::flow::job::{keep_secs, Answer, Job};
use crate::flow::lookup::{backfill, lookup, Found, Unusable};
use crate::flow::origin::OriginError;
use crate::flow::parts::{self, PartRequest};
use crate::flow::pass::{error_page, failure_of, pass_through, refusal};
use crate::flow::reply::{self, Decoration, PartBytes, Unread};
use crate::flow::report::Served;
use crate::flow::shield::Role;
use crate::runtime::{now_ms, JsFields};
use crate::store::Entry;
use edgecache_core::decide::answer::{on_failure, OnFailure};
use edgecache_core::decide::shield::tries_after_failed_flight;
use edgecache_core::decide::stored::{
    after_lookup, collapsed, with_unknown_standing, AfterLookup, Asked, HeldParts, PartAsked,
    Stored, Then,
};
use edgecache_core::esi::template as esi;
use edgecache_core::http::conditional::is_not_modified;
use edgecache_core::http::range::{self, RangeAnswer, Spec};
use edgecache_core::http::reuse::usable_on_error;
use edgecache_core::http::Fields;
use edgecache_core::status::{Fwd, Outcome};
use edgecache_core::storage::read;
use edgecache_core::storage::record::{Kind, Meta};
use edgecache_core::workers_cache::fields::Kept;

/// Looks the request up and carries out what `decide::stored::after_lookup` chooses.
/// What went wrong on the way (storage, the origin) comes back with the answer, for the log
/// line.
pub async fn serve_cacheable(
    job: &Rc<Job>,
    ctx: &Rc<Context>,
    head: bool,
    fragment: Option<&Fragment>,
) -> Served {
    // A lookup can take a while (a slow tier, a busy isolate): when the key's flight closed
    // meanwhile, what it stored was not there yet when this request looked. It looks once
    // more instead of asking the origin (or the shield) a second time.
    serve_looked_up(job, ctx, head, fragment, Some(coalesce::mark())).await
}

/// `serve_cacheable` after one lookup, whose `coalesce::mark` is `looked` if the request may
/// still look again (`coalesce::Flight::LookAgain`).
async fn serve_looked_up(
    job: &Rc<Job>,
    ctx: &Rc<Context>,
    head: bool,
    fragment: Option<&Fragment>,
    looked: Option<u64>,
) -> Served {
    let found = lookup(&job.tiers, &job.plan, &job.headers, &job.registry).await;
    let mut errors: Vec<RequestError> = found.failed.into_iter().map(Into::into).collect();
    let vary_miss = found.vary_miss;
    let vary = found.vary;
    let standing_unknown = found.standing_unknown;
    // An entry whose body turns out unusable (cut short, unreadable) counts as not found.
    let mut found = found.found;
    // Parts are not a response: they answer Range requests only (`parts`).
    let ranged = !head && job.headers.field("range").is_some();
    let mut held = found
        .take_if(|f| f.entry.meta.kind == Kind::Parts)
        .filter(|_| ranged);
    let (spec, decision, unread, held_part) = loop {
        let spec = parts::part_spec(job, head, held.as_ref());
        let asked = Asked {
            cache_control: job.facts.cache_control.clone(),
            range: job.headers.field("range").is_some(),
            head,
            refresh: job.refresh,
            part: spec.map(|spec| PartAsked {
                held: held.as_ref().and_then(|f| held_parts(f, spec, job)),
            }),
        };
        let (decision, unread) = loop {
            let stored = found.as_ref().map(|f| stored_of(f, job, now_ms()));
            let decision = after_lookup(stored.as_ref(), vary_miss, &asked);
            let Some(entry) = found.as_mut() else {
                break (decision, None);
            };
            // A hit that nothing else will read (no refresh, no copy to a faster tier) is
            // sent from storage unread (whole, or only the part a Range asks for, as
            // `storage::read` chooses); anything else reads the body first.
            let unread = if let AfterLookup::Serve { unread: true, .. } = decision {
                let meta = &entry.entry.meta;
                let range = range_for(job, meta, is_template(job, meta.status, &**meta));
                let tier = &job.tiers[entry.tier];
                let read = read::for_response(tier.backend(), range, head);
                match entry.take_unread(tier, read).await {
                    Ok(unread) => unread,
                    Err(Unusable(failed)) => {
                        errors.extend(failed.map(Into::into));
                        found = None;
                        continue;
                    }
                }
            } else {
                None
            };
            if unread.is_none() {
                if let Err(Unusable(failed)) = entry.complete().await {
                    errors.extend(failed.map(Into::into));
                    found = None;
                    continue;
                }
            }
            break (decision, unread);
        };
        // Held parts are read as far as the choice needs them: only the bytes sent when
        // nothing else reads them; whole when a part is fetched (it may be merged into them,
        // whether asked as their missing bytes or as the client's range) or they are copied
        // up. Parts whose body turns out unusable count as none.
        let serving_parts = matches!(decision, AfterLookup::Serve { .. }) && found.is_none();
        let held_part = match (&decision, held.as_mut(), spec) {
            (
                AfterLookup::Serve {
                    then: Then::Nothing,
                    ..
                },
                Some(parts_found),
                Some(spec),
            ) if serving_parts => match read_held_part(job, parts_found, spec).await {
                Ok(part) => part,
                Err(Unusable(failed)) => {
                    errors.extend(failed.map(Into::into));
                    held = None;
                    continue;
                }
            },
            _ => None,
        };
        let needs_whole = serving_parts || matches!(decision, AfterLookup::FetchPart { .. });
        if let Some(parts_found) = held.as_mut().filter(|_| needs_whole && held_part.is_none()) {
            if let Err(Unusable(failed)) = parts_found.complete().await {
                errors.extend(failed.map(Into::into));
                held = None;
                continue;
            }
        }
        break (spec, decision, unread, held_part);
    };

    let (fwd, leader, part_fetch) = match (decision, found) {
        (AfterLookup::Serve { outcome, then, .. }, Some(found)) => {
            assemble::tell(fragment, &outcome);
            let mut served = respond_with_entry(job, &found.entry, unread, head, outcome, true);
            served.bytes_from_cache = found.entry.meta.body_len;
            match then {
                Then::Refresh => ctx.wait_until(refresh(job.clone(), ctx.clone(), found)),
                Then::CopyUp => {
                    let keep = keep_secs(&found.entry.meta, job.keep_stale);
                    let job = job.clone();
                    ctx.wait_until(async move { backfill(&job.tiers, found, keep).await });
                }
                Then::Nothing => {}
            }
            return served.after(errors);
        }
        (AfterLookup::Serve { outcome, then, .. }, None) => {
            if let (Some(parts_found), Some(spec)) = (held, spec) {
                assemble::tell(fragment, &outcome);
                let entry = &parts_found.entry;
                if let Some(mut served) =
                    parts::respond_with_part(job, entry, outcome.clone(), spec, held_part)
                {
                    served.bytes_from_cache = entry.meta.body_len;
                    if then == Then::CopyUp {
                        let keep = keep_secs(&entry.meta, job.keep_stale);
                        let job = job.clone();
                        ctx.wait_until(
                            async move { backfill(&job.tiers, parts_found, keep).await },
                        );
                    }
                    return served.after(errors);
                }
            }
            let error = JsValue::from_str("edgecache: a hit without its entry");
            return Served::new(Err(error), outcome).after(errors);
        }
        (AfterLookup::Refuse { status, outcome }, _) => {
            let response = reply::plain(status, &refusal(&outcome), &outcome);
            return Served::new(response, outcome).after(errors);
        }
        (AfterLookup::Pass { fwd, reason }, _) => {
            let forward = job.pass();
            return pass_through(forward, fwd, Some(reason), job.audience(), fragment)
                .await
                .after(errors);
        }
        (AfterLookup::Fetch { fwd, coalesce }, stale) => {
            assemble::tell(fragment, &Outcome::forward(fwd, None, false, None));
            let flight = coalesce.then(|| coalesce::join(&job.flight_key(), now_ms(), looked));
            let leader = match flight {
                Some(Flight::LookAgain) => {
                    let again = Box::pin(serve_looked_up(job, ctx, head, fragment, None));
                    return again.await.after(errors);
                }
                Some(Flight::Leader(leader)) => Some(leader),
                Some(Flight::Follower(ticket)) => {
                    let settled = coalesce::wait_for(&ticket, job.origin_timeout_ms()).await;
                    let shielded = job.role == Role::Shield || job.sending.shield.is_some();
                    if let Some(Settled::Unreached(error)) = &settled {
                        if !tries_after_failed_flight(shielded) {
                            errors.push(RequestError::Awaited(error.clone()));
                            return origin_failed(job, stale, fwd, error.clone(), head)
                                .after(errors);
                        }
                    }
                    if let Some(Settled::Stored(entry)) = settled {
                        if entry.meta.key == job.plan.variant_key(&entry.meta.vary, &job.headers) {
                            let mut outcome = collapsed(fwd, entry.meta.status);
                            if standing_unknown {
                                outcome = with_unknown_standing(outcome);
                            }
                            let mut served =
                                respond_with_entry(job, &entry, None, head, outcome, true);
                            served.bytes_from_cache = entry.body.len() as u64;
                            return served.after(errors);
                        }
                    }
                    None
                }
                Some(Flight::Pass) | None => None,
            };
            ((fwd, stale), leader, None)
        }
        (AfterLookup::FetchPart { fwd, held }, _) => {
            assemble::tell(fragment, &Outcome::forward(fwd, None, false, None));
            ((fwd, None), None, Some(held))
        }
    };
    let (fwd, stale) = fwd;

    let part_request = match (part_fetch, spec) {
        (Some(use_held), Some(spec)) => Some((PartRequest { spec, held }, use_held)),
        _ => None,
    };
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
        head,
        client_body: !head,
        vary: &vary,
        part,
    };
    let mut answer = fill(job, ctx, start, leader).await;
    if standing_unknown {
        answer = answer.map_outcome(with_unknown_standing);
    }
    let served = match answer {
        // A part just kept, merged with the held ones: the client's range is cut from them.
        Answer::Entry { entry, outcome, .. } if entry.meta.kind == Kind::Parts => {
            let spec = part_request.as_ref().map(|(request, _)| request.spec);
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
        } => respond_with_entry(job, &entry, None, head, outcome, shareable),
        Answer::Origin {
            origin,
            body,
            outcome,
            kept,
        } => {
            let stored = matches!(outcome, Outcome::Forward { stored: true, .. });
            let fields = origin.headers();
            let template = is_template(job, origin.status(), &JsFields(&fields));
            let not_modified = origin.status() == 200
                && !template
                && is_not_modified(&job.headers, &JsFields(&fields));
            let decoration = Decoration {
                outcome: &outcome,
                browser_ttl: job.plan.browser_ttl.filter(|_| stored),
                audience: job.audience(),
            };
            let response = reply::from_origin(&origin, body.as_ref(), not_modified, &decoration);
            Served {
                template,
                kept,
                ..Served::new(response, outcome)
            }
        }
        Answer::Failed(error) => {
            errors.push(RequestError::Origin(error.clone()));
            origin_failed(job, stale, fwd, error, head)
        }
    };
    served.after(errors)
}

/// The lookup's entry as the choice after it sees it.
fn stored_of(found: &Found, job: &Job, now: i64) -> Stored {
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
fn held_parts(found: &Found, spec: Spec, job: &Job) -> Option<HeldParts> {
    let pieces = parts::pieces(found)?;
    let (first, last) = parts::wanted(spec, pieces.total)?;
    Some(HeldParts {
        stored: stored_of(found, job, now_ms()),
        all: edgecache_core::http::parts::holds(&pieces.held, first, last),
    })
}

/// The bytes of held parts (`spec` of the representation) that a hit sends, read from their
/// tier alone where it can (`storage::read::for_parts`); `Ok(None)`: their body is in Wasm
/// already (the memory tier), or must be read whole.
async fn read_held_part(
    job: &Job,
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

/// Whether a response is an ESI template: its origin asked (`Surrogate-Control`), or its
/// route did and it is text. Only a 200 is assembled.
fn is_template(job: &Job, status: u16, fields: &impl Fields) -> bool {
    status == 200
        && (esi::requested_by(fields)
            || (job.esi_route && esi::is_textual(fields.field("content-type").as_deref())))
}

/// Serves a stored entry, answering the client's validators with a 304 when they match
/// (never for an ESI template: its validators are the shell's, not the assembled page's).
/// `shareable`: the entry is one the cache keeps, so a route's `browser_ttl` applies.
/// `unread`: the entry's body still in the runtime, sent instead of `entry.body`.
fn respond_with_entry(
    job: &Job,
    entry: &Entry,
    unread: Option<Unread>,
    head: bool,
    outcome: Outcome,
    shareable: bool,
) -> Served {
    let template = is_template(job, entry.meta.status, &*entry.meta);
    let not_modified = !template && is_not_modified(&job.headers, &*entry.meta);
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: job.plan.browser_ttl.filter(|_| shareable),
        audience: job.audience(),
    };
    let range = range_for(job, &entry.meta, template);
    let response = reply::from_entry(
        entry,
        unread,
        now_ms(),
        head,
        not_modified,
        range,
        &decoration,
    );
    Served {
        template,
        kept: (shareable && job.workers_cache).then(|| Kept::of(&entry.meta, now_ms())),
        ..Served::new(response, outcome)
    }
}

/// RFC 9110 §13.2.2: a Range is evaluated after the conditionals (`from_entry` answers them
/// first), on a 200 as stored; an ESI template's bytes are not the page's (`template`, as
/// `is_template` found, which the caller has already asked).
fn range_for(job: &Job, meta: &Meta, template: bool) -> RangeAnswer {
    if template || meta.status != 200 {
        return RangeAnswer::Full;
    }
    range::answer(&job.headers, meta, meta.body_len)
}

/// The origin gave no response: a stale entry if stale-if-error allows, else 502 or 504.
fn origin_failed(
    job: &Job,
    stale: Option<Found>,
    fwd: Fwd,
    error: OriginError,
    head: bool,
) -> Served {
    let usable = stale.as_ref().filter(|found| {
        let meta = &found.entry.meta;
        usable_on_error(&meta.reuse, meta.age(now_ms()), meta.lifetime)
    });
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
async fn refresh(job: Rc<Job>, ctx: Rc<Context>, found: Found) {
    let Flight::Leader(leader) = coalesce::join(&job.flight_key(), now_ms(), None) else {
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
