//! Filling the cache from the origin: fetch (conditionally, when a stored response can be
//! revalidated), judge the answer, and store it in the background while the client's copy
//! streams. The leader of a coalesced flight settles it here, so its followers learn what
//! became of the fetch.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{ReadableStream, Response};
use worker::Context;

use crate::flow::coalesce::{self, Leader, Settled};
use crate::flow::job::{keep_secs, tiers_to_write, Answer, Job, Replacing};
use crate::flow::lookup::{delete_all, log_failure, write_all, Found};
use crate::flow::markers::marker_for;
use crate::flow::origin::{Forward, OriginError};
use crate::flow::parts::{self, PartRequest};
use crate::flow::revalidated::not_modified;
use crate::runtime::{header_list, now_ms, read_limited, Body, FieldSet, JsFields, PickedFields};
use crate::store::{Entry, Tier};
use edgecache_core::control::registry::response_tags;
use edgecache_core::decide::answer::{body_not_stored, judge, speaks_for_key, Answered, Judgement};
use edgecache_core::decide::refresh::Fetching;
use edgecache_core::decide::shield::{as_stored_at_shield, SHIELD_FIELDS, STORED_AT_FIELD};
use edgecache_core::http::parts::PartAsked;
use edgecache_core::http::reuse::usable_on_error;
use edgecache_core::http::revalidate::{conditional_fields, names_other_response};
use edgecache_core::http::{fields_to_store, storability, Exchange, Fields, Storability};
use edgecache_core::status::{Fwd, Outcome, Reason};
use edgecache_core::storage::record::{Kind, Meta, FORMAT};
use edgecache_core::workers_cache::fields::{Held, Kept};

/// Where a fill starts from.
pub struct Start<'a> {
    /// The stored response being replaced or revalidated.
    pub stale: Option<&'a Found>,
    pub fwd: Fwd,
    /// A HEAD request: it revalidates a stored GET, and otherwise is forwarded as HEAD and
    /// not stored.
    pub head: bool,
    /// Whether anyone will read the body (a background refresh will not).
    pub client_body: bool,
    /// The fields the URL's responses are known to vary on (a `Vary` marker's).
    pub vary: &'a [String],
    /// A request for a part (`parts`): sent as `forward` says; any answer but a 200 is the
    /// parts' to keep or pass.
    pub part: Option<PartFetch<'a>>,
}

/// A request for a part, as `parts::forward_for` builds it.
pub struct PartFetch<'a> {
    pub request: &'a PartRequest,
    pub forward: Forward,
    pub asked: PartAsked,
}

/// Goes to the origin for `job`'s key and decides what to store and what to send.
pub async fn fill(
    job: &Rc<Job>,
    ctx: &Rc<Context>,
    start: Start<'_>,
    leader: Option<Leader>,
) -> Answer {
    let Start {
        stale,
        fwd,
        head,
        client_body,
        vary,
        part,
    } = start;
    let mut forward = part
        .as_ref()
        .map_or_else(|| job.forward(), |p| p.forward.clone());
    // A client's forced refresh asks the shield to refresh too (RFC 9111 §5.2.1.4).
    forward.refresh = fwd == Fwd::Request;
    let revalidating = stale.filter(|s| s.entry.meta.reuse.validators);
    if let Some(found) = revalidating {
        forward.validators = conditional_fields(&*found.entry.meta);
    }
    if head && stale.is_some() {
        forward.method = Some("GET");
    }
    // The origin is sent every field the URL's responses are known to vary on, so that
    // its answer can be stored under this request's variant.
    if part.is_none() {
        forward.vary_fields = stale.map_or_else(|| vary.to_vec(), |s| s.entry.meta.vary.clone());
    }
    // A stored entry (or held parts) is refreshed as anyone with its key would ask for it:
    // a credential the key does not hold stays behind, so no one user's answer can replace
    // or remove what everyone gets.
    let held = part.as_ref().and_then(|p| p.request.held.as_ref());
    let fetching = if stale.is_some() || held.is_some() {
        Fetching::Stored
    } else {
        Fetching::Miss
    };
    let as_sent = job.as_sent(fetching, &forward.vary_fields);
    forward.withheld = as_sent.sent.withheld.clone();
    let withheld = |name: &String| as_sent.sent.withheld.contains(name);
    let mut asked_again = false;
    let (origin, exchange, origin_fields, verdict) = loop {
        let (origin, exchange) = match fetch(&mut forward, revalidating).await {
            Ok(answer) => answer,
            Err(error) => {
                if let Some(leader) = leader {
                    leader.settle(Settled::Unreached(error.clone()));
                }
                return Answer::Failed(error);
            }
        };
        if let Some(part) = part.as_ref().filter(|_| origin.status() != 200) {
            let asked = (&forward, &part.asked, &as_sent);
            return parts::answered(job, ctx, part.request, asked, origin, exchange, fwd).await;
        }
        // Judged on the fields storability reads, fetched in one call; all of them are
        // listed only for a response that is kept.
        let origin_fields = PickedFields::read(origin.headers(), FieldSet::Response);
        let status = origin.status();
        let verdict = storability(
            &as_sent.facts,
            status,
            &origin_fields,
            &job.plan.overrides,
            exchange,
        );
        // The answer varies on a field the client sent and the origin was not sent (or a
        // credential it withheld): it was chosen without it, so it is not this client's
        // variant.
        let unsent: Vec<String> = match &verdict {
            Storability::Store { vary, .. } => vary
                .iter()
                .filter(|name| {
                    (withheld(name)
                        || (!job.plan.forwards(name) && !forward.vary_fields.contains(name)))
                        && job.headers.field(name).is_some()
                })
                .cloned()
                .collect(),
            Storability::DontStore(_) => Vec::new(),
        };
        let answered = Answered {
            fwd,
            status,
            conditional: revalidating.is_some() && !forward.validators.is_empty(),
            stale_usable_on_error: stale.is_some_and(|found| {
                let meta = &found.entry.meta;
                usable_on_error(&meta.reuse, meta.age(now_ms()), meta.lifetime)
            }),
            head_without_entry: head && stale.is_none(),
            beyond_key: as_sent.sent.beyond_key,
            beyond_url: as_sent.sent.beyond_url,
            replacing: fetching == Fetching::Stored,
            no_tiers: job.tiers.is_empty(),
            too_large: content_length(&origin_fields).is_some_and(|len| len > job.max_body_bytes),
            varies_on_unsent: !unsent.is_empty(),
            asked_again,
            unsent_withheld: unsent.iter().any(withheld),
            verdict,
        };
        match judge(&answered) {
            Judgement::NotModified => {
                let Some(found) = revalidating else {
                    return Answer::Failed(OriginError::Unreachable(
                        "a 304 to a request without validators".into(),
                    ));
                };
                let update = header_list(&origin.headers());
                return not_modified(job, ctx, found, &update, exchange, fwd, leader, &as_sent);
            }
            Judgement::ServeStale(outcome) => {
                if let Some(body) = origin.body() {
                    let _ = body.cancel();
                }
                if let Some(found) = stale {
                    return Answer::Entry {
                        entry: found.entry.clone(),
                        outcome,
                        shareable: true,
                    };
                }
                return pass(job, ctx, stale, origin, outcome, (false, false), leader);
            }
            Judgement::AskAgain => {
                if let Some(body) = origin.body() {
                    let _ = body.cancel();
                }
                forward.vary_fields.extend(unsent);
                asked_again = true;
            }
            Judgement::UnexpectedNotModified(outcome) => {
                return pass(job, ctx, stale, origin, outcome, (true, true), leader)
            }
            Judgement::Pass {
                outcome,
                response_says,
                hit_for_pass,
            } => {
                // A whole response to a request for parts that is not kept: the held parts go
                // when it shows they are of an outdated representation, never for fewer
                // bytes of the same one.
                if let Some(held) = held {
                    let whole = JsFields(&origin.headers());
                    if parts::outdated(held, &whole, as_sent.sent.beyond_key) {
                        parts::drop_parts(job, ctx, held);
                    }
                }
                let says = (response_says, hit_for_pass);
                return pass(job, ctx, stale, origin, outcome, says, leader);
            }
            Judgement::Store(outcome) => {
                break (origin, exchange, origin_fields, (answered.verdict, outcome))
            }
        }
    };
    let status = origin.status();
    let (verdict, outcome) = verdict;
    let Storability::Store {
        lifetime,
        initial_age,
        strip_fields,
        vary,
        reuse,
    } = verdict
    else {
        return pass(job, ctx, stale, origin, outcome, (false, false), leader);
    };
    // The URL's other answers vary on fields this one does not name (an origin that says
    // `Vary: Accept-Language` only to requests carrying it): it is stored as a variant of
    // them too, a narrower key than its own `Vary` asks (RFC 9111 §4.1), so the marker that
    // picks the others stays, and no tier takes this answer for every request to the URL.
    let vary = edgecache_core::http::with_url_vary(vary, &forward.vary_fields);

    coalesce::clear_pass(&job.flight_key());
    let mut all_fields = header_list(origin_fields.headers());
    // From the shield's storage: kept as stored when the shield stored it, for purges.
    let shield_stored_at = forward
        .answered_by_shield
        .get()
        .then(|| origin.headers().get(STORED_AT_FIELD).ok().flatten())
        .flatten();
    let (stored_at, initial_age) = as_stored_at_shield(
        exchange.response_ms,
        initial_age,
        shield_stored_at.as_deref(),
    );
    all_fields.retain(|(name, _)| !SHIELD_FIELDS.contains(&name.as_str()));
    let tags = response_tags(&all_fields, &job.plan.tags);
    let kept = job.workers_cache.then(|| Kept {
        fresh_secs: lifetime as i64 - initial_age as i64,
        reuse,
        tags: tags.clone(),
        withheld: !strip_fields.is_empty(),
        body: Held::Arriving,
        url_vary: vary.clone(),
    });
    let meta = Meta {
        v: FORMAT,
        kind: Kind::Response,
        key: job.plan.variant_key(&vary, &job.headers),
        url: job.plan.key.url(),
        status,
        headers: fields_to_store(all_fields, &strip_fields, exchange.response_secs()),
        stored_at,
        initial_age,
        lifetime,
        tags,
        vary,
        body_len: 0,
        reuse,
        parts: None,
    };
    let (client, store_branch) = match origin.body() {
        Some(body) if client_body => {
            let branches = body.tee();
            (
                Some(branches.get(0).unchecked_into::<ReadableStream>()),
                Some(branches.get(1).unchecked_into::<ReadableStream>()),
            )
        }
        body => (None, body),
    };
    // A client-forced refresh replaces an entry still fresh in KV.
    let replacing = stale
        .filter(|found| fwd == Fwd::Request && !found.soft_purged)
        .map(|found| Replacing {
            stored_at: found.entry.meta.stored_at,
            fresh: true,
        });
    let streamable = streamable_length(&origin_fields);
    let speaks = speaks_for_key(Reason::TooLarge, as_sent.sent.beyond_url);
    ctx.wait_until(store(
        job.clone(),
        meta,
        store_branch,
        (leader, speaks),
        replacing,
        streamable,
    ));
    Answer::Origin {
        origin,
        body: client,
        outcome,
        kept,
    }
}

/// The answer cannot be stored: stream it through, tell followers to fetch for themselves;
/// when the response itself is to blame (`response_says`, as `judge` says) drop a stale entry
/// that the origin no longer allows to be shared, and when it speaks for the whole URL
/// (`hit_for_pass`) remember the key as hit-for-pass.
fn pass(
    job: &Rc<Job>,
    ctx: &Rc<Context>,
    stale: Option<&Found>,
    origin: Response,
    outcome: Outcome,
    (response_says, hit_for_pass): (bool, bool),
    leader: Option<Leader>,
) -> Answer {
    if hit_for_pass {
        mark_hit_for_pass(job);
    }
    if let (true, Some(found)) = (response_says, stale) {
        let tiers = job.clone();
        let key = found.entry.meta.key.clone();
        ctx.wait_until(async move {
            delete_all(&tiers.tiers, &key).await;
        });
    }
    if let Some(leader) = leader {
        leader.settle(Settled::Pass);
    }
    Answer::unstored(origin, outcome)
}

/// Sends `forward`; when a revalidation's 304 names another stored response (RFC 9111
/// §4.3.4: none matches), asks again without validators. Returns the answer and when it was
/// asked for and came.
async fn fetch(
    forward: &mut Forward,
    revalidating: Option<&Found>,
) -> Result<(Response, Exchange), OriginError> {
    let request_ms = now_ms();
    let mut origin = forward.send().await?;
    if let Some(found) = revalidating {
        if origin.status() == 304
            && names_other_response(&*found.entry.meta, &JsFields(&origin.headers()))
        {
            forward.validators.clear();
            origin = forward.send().await?;
        }
    }
    let exchange = Exchange::of(request_ms, now_ms(), forward.answered_by_shield.get());
    Ok((origin, exchange))
}

/// A body at least this long (bytes), of known length, is written to the tiers that take
/// streams (`Descriptor::streams_writes`, R2) straight from the origin's stream; a shorter one
/// is read once and handed to every tier, and to the flight's followers.
pub const STREAM_FROM_BYTES: u64 = 1024 * 1024;

/// Reads the stored branch of the body (up to the size limit) and writes the entry, and its
/// `Vary` marker, to every tier; then settles the flight. A body that fails or overflows is
/// not stored at all. `streamable`: the body's length, when the origin states it for the
/// bytes the body stream gives (no `Content-Encoding`). `speaks`: a body too large to keep
/// marks the URL hit-for-pass (`answer::speaks_for_key`).
async fn store(
    job: Rc<Job>,
    meta: Meta,
    body: Option<ReadableStream>,
    (leader, speaks): (Option<Leader>, bool),
    replacing: Option<Replacing>,
    streamable: Option<u64>,
) {
    let length = streamable.filter(|&n| n >= STREAM_FROM_BYTES && n <= job.max_body_bytes);
    let (streamed, mut held): (Vec<&Tier>, Vec<&Tier>) = tiers_to_write(&job, replacing)
        .partition(|tier| length.is_some() && tier.backend().describe().streams_writes);
    if let (Some(length), false) = (length, streamed.is_empty()) {
        // A body streamed to R2 is not read into Wasm for a tier that could not hold it.
        held.retain(|tier| tier.holds(length));
    }
    let (Some(length), Some(body)) = (length.filter(|_| !streamed.is_empty()), body.as_ref())
    else {
        let tiers = held.into_iter().chain(streamed);
        return store_read(&job, meta, body, (leader, speaks), tiers).await;
    };
    // One branch of the body for each tier that takes a stream, and one read for the others.
    let mut branches = Vec::with_capacity(streamed.len() + 1);
    let mut rest = body.clone();
    for _ in 1..streamed.len() + usize::from(!held.is_empty()) {
        let pair = rest.tee();
        branches.push(pair.get(0).unchecked_into::<ReadableStream>());
        rest = pair.get(1).unchecked_into();
    }
    branches.push(rest);
    let read_branch = (!held.is_empty()).then(|| branches.pop()).flatten();
    let meta = Meta {
        body_len: length,
        ..meta
    };
    let marker = marker_for(&job.plan.primary, &meta);
    let keep = keep_secs(&meta, job.keep_stale);
    let streams = streamed
        .iter()
        .zip(branches)
        .map(|(tier, branch)| put_streamed(tier, &meta, marker.as_ref(), branch, keep));
    let streams = futures_util::future::join_all(streams);
    match read_branch {
        // The other tiers, and the followers, get the body read as before.
        Some(branch) => {
            futures_util::future::join(
                streams,
                store_read(
                    &job,
                    meta.clone(),
                    Some(branch),
                    (leader, speaks),
                    held.into_iter(),
                ),
            )
            .await;
        }
        // Nothing holds the body in Wasm: followers, told nothing, fetch for themselves.
        None => {
            streams.await;
            drop(leader);
        }
    }
}

/// Writes an entry whose body streams from `body` to `tier` (and its marker first), and logs
/// where it went as `write_all` does.
async fn put_streamed(
    tier: &Tier,
    meta: &Meta,
    marker: Option<&Entry>,
    body: ReadableStream,
    keep: u64,
) {
    if let Some(marker) = marker {
        if log_failure(tier.put(&marker.meta.key, marker, keep).await) {
            crate::flow::markers::remember(tier.backend(), marker, now_ms());
        }
    }
    let written = log_failure(tier.put_stream(&meta.key, meta, body, keep).await);
    worker::console_log!(
        "{}",
        serde_json::json!({
            "edgecache": "stored",
            "key": edgecache_core::redact::key(&meta.key),
            "id": edgecache_core::redact::id(&meta.key),
            "tiers": if written { vec![tier.backend().as_str()] } else { Vec::new() },
            "bytes": meta.body_len,
            "keep": keep,
            "streamed": true,
        })
    );
}

/// Reads `body` (up to the size limit) and writes the entry, and its `Vary` marker, to
/// `tiers`; then settles the flight.
async fn store_read<'a>(
    job: &Job,
    meta: Meta,
    body: Option<ReadableStream>,
    (leader, speaks): (Option<Leader>, bool),
    tiers: impl Iterator<Item = &'a Tier>,
) {
    let body = match body {
        None => Vec::new(),
        Some(stream) => match read_limited(stream, job.max_body_bytes).await {
            Ok(Body::Complete(bytes)) => bytes,
            Ok(Body::TooLarge) => {
                return not_stored(job, &meta.key, body_not_stored(false), leader, speaks)
            }
            Err(_) => return not_stored(job, &meta.key, body_not_stored(true), leader, speaks),
        },
    };
    let entry = Entry::new(
        Meta {
            body_len: body.len() as u64,
            ..meta
        },
        body,
    );
    let marker = marker_for(&job.plan.primary, &entry.meta);
    // Followers get the entry now; the flight stays open until it is written, so requests
    // arriving meanwhile get it too rather than the storage they would read it from.
    if let Some(leader) = &leader {
        leader.publish(Settled::Stored(entry.clone()));
    }
    let keep = keep_secs(&entry.meta, job.keep_stale);
    write_all(tiers, &entry, marker.as_ref(), keep).await;
    drop(leader);
}

/// The body's length as the origin states it, when the body stream gives exactly those bytes
/// (no `Content-Encoding`, which the runtime decodes).
fn streamable_length(fields: &PickedFields) -> Option<u64> {
    let encoded = fields
        .headers()
        .get("content-encoding")
        .ok()
        .flatten()
        .is_some_and(|coding| !coding.trim().eq_ignore_ascii_case("identity"));
    (!encoded).then(|| content_length(fields)).flatten()
}

/// For `hit_for_pass_ttl` seconds, requests for the key no longer wait for each other's fetch:
/// its answers are not stored whoever asks.
fn mark_hit_for_pass(job: &Job) {
    let now = now_ms();
    coalesce::mark_pass(
        &job.flight_key(),
        now + job.hit_for_pass_ttl as i64 * 1000,
        now,
    );
}

fn not_stored(job: &Job, key: &str, reason: Reason, leader: Option<Leader>, speaks: bool) {
    if reason == Reason::TooLarge && speaks {
        mark_hit_for_pass(job);
    }
    if let Some(leader) = leader {
        leader.settle(Settled::Pass);
    }
    worker::console_warn!(
        "{}",
        serde_json::json!({ "edgecache": "not-stored", "key": edgecache_core::redact::key(key), "id": edgecache_core::redact::id(key), "reason": reason.as_str() })
    );
}

fn content_length(fields: &impl Fields) -> Option<u64> {
    fields
        .field("content-length")
        .and_then(|v| v.trim().parse().ok())
}
