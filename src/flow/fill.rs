//! Filling the cache from the origin: fetch (conditionally, when a stored response can be
//! revalidated), judge the answer, and store it in the background while the client's copy
//! streams. The leader of a coalesced flight settles it here, so its followers learn what
//! became of the fetch.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{ReadableStream, Response};
use worker::Context;

use crate::flow::answer::Answer;
use crate::flow::coalesce::{self, Leader, Settled};
use crate::flow::context::{AsSent, RequestContext};
use crate::flow::lookup::{delete_all, log_failure, write_all, Found};
use crate::flow::markers::marker_for;
use crate::flow::origin::{Forward, OriginError};
use crate::flow::parts::{self, PartRequest};
use crate::flow::revalidated::{not_modified, not_modified_alone};
use crate::runtime::{header_list, now_ms, read_limited, Body, FieldSet, JsFields, PickedFields};
use crate::store::{Entry, Tier};
use edgecache_core::decide::answer::{
    judge, Answered, AnsweredBy, Credentials, IfError, Judgement, Room, Variance,
};
use edgecache_core::decide::fetch::{before_fetch, origin_saw, Prior, ToSend};
use edgecache_core::decide::shield::STORED_AT_FIELD;
use edgecache_core::decide::store::{
    body_dropped, hit_for_pass_until, replacing_by_fill, to_store, Arrived, BodyDropped, Replacing,
    ToStore,
};
use edgecache_core::http::parts::PartAsked;
use edgecache_core::http::revalidate::names_other_response;
use edgecache_core::http::{storability, Exchange, Fields, Storability};
use edgecache_core::status::{Fwd, Outcome};
use edgecache_core::storage::record::Meta;

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

/// A fetch under way: the request sent, as `decide::fetch::before_fetch` chose it, and what
/// it sends of the client's credentials.
struct Fetch {
    forward: Forward,
    to_send: ToSend,
    as_sent: AsSent,
    /// It was asked again with the fields its answer varies on.
    asked_again: bool,
}

/// Goes to the origin for `job`'s key and carries out what `decide::answer::judge` says of
/// its answer: store it, pass it on, merge a 304, serve stale, or ask again.
pub async fn fill(
    job: &Rc<RequestContext>,
    ctx: &Rc<Context>,
    start: Start<'_>,
    leader: Option<Leader>,
) -> Answer {
    let mut fetch = prepare(job, &start);
    let revalidating = start.stale.filter(|_| !fetch.to_send.validators.is_empty());
    loop {
        let (origin, exchange) = match send(&mut fetch, revalidating).await {
            Ok(answer) => answer,
            Err(error) => {
                if let Some(leader) = leader {
                    leader.settle(Settled::Unreached(error.clone()));
                }
                return Answer::Failed(error);
            }
        };
        if let Some(part) = start.part.as_ref().filter(|_| origin.status() != 200) {
            let asked = (&fetch.forward, &part.asked, &fetch.as_sent);
            let fwd = start.fwd;
            return parts::answered(job, ctx, part.request, asked, origin, exchange, fwd).await;
        }
        // Judged on the fields storability reads, fetched in one call; all of them are
        // listed only for a response that is kept.
        let fields = PickedFields::read(origin.headers(), FieldSet::Response);
        let answered = answered(job, &fetch, &start, (&fields, origin.status(), exchange));
        let stale = start.stale;
        return match (judge(&answered), revalidating) {
            (Judgement::AskAgain(unsent), _) => {
                cancel(&origin);
                fetch.forward.vary_fields.extend(unsent);
                fetch.asked_again = true;
                continue;
            }
            (Judgement::NotModified, Some(found)) => {
                let update = header_list(&origin.headers());
                let (fwd, as_sent) = (start.fwd, &fetch.as_sent);
                not_modified(job, ctx, found, &update, exchange, fwd, leader, as_sent)
            }
            (Judgement::NotModifiedAlone(outcome), Some(found)) => {
                if let Some(leader) = leader {
                    leader.settle(Settled::Pass);
                }
                not_modified_alone(found, &header_list(&origin.headers()), outcome)
            }
            (Judgement::NotModified | Judgement::NotModifiedAlone(_), None) => Answer::Failed(
                OriginError::Unreachable("a 304 to a request without validators".into()),
            ),
            (Judgement::ServeStale(outcome), _) => {
                cancel(&origin);
                match stale {
                    Some(found) => Answer::Entry {
                        entry: found.entry.clone(),
                        outcome,
                        shareable: true,
                    },
                    None => pass(job, ctx, stale, origin, outcome, (false, false), leader),
                }
            }
            (Judgement::UnexpectedNotModified(outcome), _) => {
                pass(job, ctx, stale, origin, outcome, (true, true), leader)
            }
            (
                Judgement::Pass {
                    outcome,
                    response_says,
                    hit_for_pass,
                },
                _,
            ) => {
                outdate_parts(job, ctx, &start, &origin, &fetch.as_sent);
                let says = (response_says, hit_for_pass);
                pass(job, ctx, stale, origin, outcome, says, leader)
            }
            (Judgement::Store(outcome), _) => {
                let answer = (origin, fields, exchange, answered.verdict, outcome);
                keep(job, ctx, &start, &fetch, answer, leader)
            }
        };
    }
}

/// The request a fill sends: as `before_fetch` chooses it, built on the key's request (or a
/// part's), with what it withholds of the client's credentials.
fn prepare(job: &RequestContext, start: &Start) -> Fetch {
    let held = start.part.as_ref().and_then(|p| p.request.held.as_ref());
    let prior = Prior {
        fwd: start.fwd,
        head: start.head,
        stale: start.stale.map(|found| &*found.entry.meta),
        held_parts: held.is_some(),
        part: start.part.is_some(),
        url_vary: start.vary,
    };
    let to_send = before_fetch(&prior);
    let mut forward = start
        .part
        .as_ref()
        .map_or_else(|| job.forward(), |p| p.forward.clone());
    forward.refresh = to_send.refresh;
    // A revalidation's validators; a part's request keeps its own `Range` and `If-Range`.
    if !to_send.validators.is_empty() {
        forward.validators.clone_from(&to_send.validators);
    }
    if to_send.as_get {
        forward.method = Some("GET");
    }
    if let Some(vary_fields) = &to_send.vary_fields {
        forward.vary_fields.clone_from(vary_fields);
    }
    let as_sent = job.as_sent(to_send.fetching, &forward.vary_fields);
    forward.withheld.clone_from(&as_sent.sent.withheld);
    Fetch {
        forward,
        to_send,
        as_sent,
        asked_again: false,
    }
}

/// What is known once the origin answered `fetch`, each part worked out by the core.
fn answered(
    job: &RequestContext,
    fetch: &Fetch,
    start: &Start,
    (fields, status, exchange): (&PickedFields, u16, Exchange),
) -> Answered {
    let as_sent = &fetch.as_sent;
    let verdict = storability(
        &as_sent.facts,
        status,
        fields,
        &job.plan.overrides,
        exchange,
    );
    let withheld = &as_sent.sent.withheld;
    let saw = origin_saw(&job.plan, withheld, &fetch.forward.vary_fields);
    let variance = Variance::of(&verdict, saw, withheld, &job.headers, fetch.asked_again);
    let stale = start.stale.map(|found| &*found.entry.meta);
    Answered {
        fwd: start.fwd,
        status,
        fetched: fetch.to_send.fetched,
        credentials: Credentials::of(&as_sent.sent),
        if_error: IfError::of(stale, job.now),
        room: Room::of(job.tiers.len(), content_length(fields), job.max_body_bytes),
        variance,
        verdict,
        by: fetch.forward.answered_by.get(),
    }
}

fn cancel(origin: &Response) {
    if let Some(body) = origin.body() {
        let _ = body.cancel();
    }
}

/// A whole response to a request for parts that is not kept: the held parts go when it
/// shows they are of an outdated representation, never for fewer bytes of the same one.
fn outdate_parts(
    job: &Rc<RequestContext>,
    ctx: &Rc<Context>,
    start: &Start,
    origin: &Response,
    as_sent: &AsSent,
) {
    let held = start.part.as_ref().and_then(|p| p.request.held.as_ref());
    if let Some(held) = held {
        let whole = JsFields(&origin.headers());
        if parts::outdated(held, &whole, as_sent.sent.beyond_key) {
            parts::drop_parts(job, ctx, held);
        }
    }
}

/// Stores the origin's answer (`decide::store::to_store`) in the background while the
/// client's branch of its body streams.
fn keep(
    job: &Rc<RequestContext>,
    ctx: &Rc<Context>,
    start: &Start,
    fetch: &Fetch,
    (origin, fields, exchange, verdict, outcome): (
        Response,
        PickedFields,
        Exchange,
        Storability,
        Outcome,
    ),
    leader: Option<Leader>,
) -> Answer {
    let forward = &fetch.forward;
    // From the shield's storage: kept as stored when the shield stored it, for purges.
    let shield_stored_at = (forward.answered_by.get() == AnsweredBy::Shield)
        .then(|| origin.headers().get(STORED_AT_FIELD).ok().flatten())
        .flatten();
    let arrived = Arrived {
        status: origin.status(),
        fields: header_list(fields.headers()),
        exchange,
        shield_stored_at: shield_stored_at.as_deref(),
    };
    let to_store = to_store(
        verdict,
        arrived,
        &job.plan,
        &job.headers,
        &forward.vary_fields,
    );
    let Some(ToStore { meta, kept }) = to_store else {
        return pass(
            job,
            ctx,
            start.stale,
            origin,
            outcome,
            (false, false),
            leader,
        );
    };
    coalesce::clear_pass(&job.flight_key());
    let (client, store_branch) = match origin.body() {
        Some(body) if start.client_body => {
            let branches = body.tee();
            (
                Some(branches.get(0).unchecked_into::<ReadableStream>()),
                Some(branches.get(1).unchecked_into::<ReadableStream>()),
            )
        }
        body => (None, body),
    };
    let stale = start
        .stale
        .map(|found| (&*found.entry.meta, found.soft_purged));
    let replacing = replacing_by_fill(start.fwd, stale);
    let streamable = streamable_length(&fields);
    let beyond_url = fetch.as_sent.sent.beyond_url;
    let writing = (leader, beyond_url);
    ctx.wait_until(store(
        job.clone(),
        meta,
        store_branch,
        writing,
        replacing,
        streamable,
    ));
    Answer::Origin {
        origin,
        body: client,
        outcome,
        // Its tags are counted by the stats; the rest is for Workers Cache (`respond_with_origin`).
        kept: Some(kept),
    }
}

/// The answer cannot be stored: stream it through, tell followers to fetch for themselves;
/// when the response itself is to blame (`response_says`, as `judge` says) drop a stale entry
/// that the origin no longer allows to be shared, and when it speaks for the whole URL
/// (`hit_for_pass`) remember the key as hit-for-pass.
fn pass(
    job: &Rc<RequestContext>,
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

/// Sends the fetch; when a revalidation's 304 names another stored response (RFC 9111
/// §4.3.4: none matches), asks again without validators. Returns the answer and when it was
/// asked for and came: the clock is read here to measure the origin (RFC 9111 §4.2.3), not
/// to decide.
async fn send(
    fetch: &mut Fetch,
    revalidating: Option<&Found>,
) -> Result<(Response, Exchange), OriginError> {
    let request_ms = now_ms();
    let mut origin = fetch.forward.send().await?;
    if let Some(found) = revalidating {
        if origin.status() == 304
            && names_other_response(&*found.entry.meta, &JsFields(&origin.headers()))
        {
            fetch.to_send.without_validators();
            fetch.forward.validators.clear();
            origin = fetch.forward.send().await?;
        }
    }
    let shield = fetch.forward.answered_by.get() == AnsweredBy::Shield;
    let exchange = Exchange::of(request_ms, now_ms(), shield);
    Ok((origin, exchange))
}

/// A body at least this long (bytes), of known length, is written to the tiers that take
/// streams (`Descriptor::streams_writes`, R2) straight from the origin's stream; a shorter one
/// is read once and handed to every tier, and to the flight's followers.
pub const STREAM_FROM_BYTES: u64 = 1024 * 1024;

/// Reads the stored branch of the body (up to the size limit) and writes the entry, and its
/// `Vary` marker, to every tier; then settles the flight. A body that fails or overflows is
/// not stored at all. `streamable`: the body's length, when the origin states it for the
/// bytes the body stream gives (no `Content-Encoding`). `beyond_url`: the fetch carried a
/// credential the URL's key does not hold (a body too large to keep then marks nothing,
/// `decide::store::body_dropped`).
async fn store(
    job: Rc<RequestContext>,
    meta: Meta,
    body: Option<ReadableStream>,
    (leader, beyond_url): (Option<Leader>, bool),
    replacing: Option<Replacing>,
    streamable: Option<u64>,
) {
    let length = streamable.filter(|&n| n >= STREAM_FROM_BYTES && n <= job.max_body_bytes);
    let (streamed, mut held): (Vec<&Tier>, Vec<&Tier>) = job
        .tiers_to_write(replacing)
        .partition(|tier| length.is_some() && tier.backend().describe().streams_writes);
    if let (Some(length), false) = (length, streamed.is_empty()) {
        // A body streamed to R2 is not read into Wasm for a tier that could not hold it.
        held.retain(|tier| tier.holds(length));
    }
    let (Some(length), Some(body)) = (length.filter(|_| !streamed.is_empty()), body.as_ref())
    else {
        let tiers = held.into_iter().chain(streamed);
        return store_read(&job, meta, body, (leader, beyond_url), tiers).await;
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
    let meta = meta.with_body_len(length);
    let marker = marker_for(&job.plan.primary, &meta);
    let keep = job.keep_secs(&meta);
    let streams = streamed
        .iter()
        .zip(branches)
        .map(|(tier, branch)| put_streamed(tier, (&meta, marker.as_ref()), branch, keep, job.now));
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
                    (leader, beyond_url),
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
    (meta, marker): (&Meta, Option<&Entry>),
    body: ReadableStream,
    keep: u64,
    now: i64,
) {
    if let Some(marker) = marker {
        if log_failure(tier.put(&marker.meta.key, marker, keep).await) {
            crate::flow::markers::remember(tier.backend(), marker, now);
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
    job: &RequestContext,
    meta: Meta,
    body: Option<ReadableStream>,
    (leader, beyond_url): (Option<Leader>, bool),
    tiers: impl Iterator<Item = &'a Tier>,
) {
    let body = match body {
        None => Vec::new(),
        Some(stream) => match read_limited(stream, job.max_body_bytes).await {
            Ok(Body::Complete(bytes)) => bytes,
            Ok(Body::TooLarge) => {
                return not_stored(job, &meta.key, body_dropped(false, beyond_url), leader)
            }
            Err(_) => return not_stored(job, &meta.key, body_dropped(true, beyond_url), leader),
        },
    };
    let entry = Entry::new(meta.with_body_len(body.len() as u64), body);
    let marker = marker_for(&job.plan.primary, &entry.meta);
    // Followers get the entry now; the flight stays open until it is written, so requests
    // arriving meanwhile get it too rather than the storage they would read it from.
    if let Some(leader) = &leader {
        leader.publish(Settled::Stored(entry.clone()));
    }
    let keep = job.keep_secs(&entry.meta);
    write_all(tiers, (&entry, marker.as_ref()), keep, job.now).await;
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
fn mark_hit_for_pass(job: &RequestContext) {
    let until = hit_for_pass_until(job.now, job.hit_for_pass_ttl);
    coalesce::mark_pass(&job.flight_key(), until, job.now);
}

fn not_stored(job: &RequestContext, key: &str, dropped: BodyDropped, leader: Option<Leader>) {
    let BodyDropped {
        reason,
        hit_for_pass,
    } = dropped;
    if hit_for_pass {
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
