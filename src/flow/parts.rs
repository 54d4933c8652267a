//! Range requests answered from parts (RFC 9111 §3.3 and §3.4): what a request for a part
//! asks the origin for, how its `206` is kept (merged into the held parts, and a complete
//! response once every byte is held), and a part of the held bytes sent to the client.
//!
//! Which bytes are held and whether a 206 fits is `http::parts`'s to say; whether it is kept,
//! `decide::answer::judge_part`'s. Parts are written through the same tiers, under the same
//! variant key, as the full response would be, so purges and the registry check apply alike.

use std::rc::Rc;

use web_sys::{Response, ResponseInit};
use worker::Context;

use crate::flow::answer::Answer;
use crate::flow::context::{AsSent, RequestContext};
use crate::flow::lookup::{delete_all, write_all, Found};
use crate::flow::markers::marker_for;
use crate::flow::origin::{Forward, OriginError};
use crate::flow::reply::{self, Decoration, PartBytes};
use crate::flow::report::Served;
use crate::runtime::{header_list, headers_from, read_limited, Body};
use crate::store::Entry;
use edgecache_core::decide::answer::{
    judge_part, passed, Credentials, PartAnswered, PartJudgement, Room, Variance,
};
use edgecache_core::decide::fetch::origin_saw;
use edgecache_core::decide::store::parts_to_store;
use edgecache_core::http::conditional::is_not_modified;
use edgecache_core::http::parts::{self, Fit, PartAsked};
use edgecache_core::http::range::{self, RangeAnswer, Spec};
use edgecache_core::http::{part_storability, Exchange, Fields};
use edgecache_core::status::{Fwd, Outcome, Reason};
use edgecache_core::storage::record::{Kind, Pieces};

/// A Range request whose answer may be kept as a part: its one byte range, and the parts
/// held for its key (read whole), if any.
pub struct PartRequest {
    pub spec: Spec,
    pub held: Option<Found>,
}

/// The request's range when its answer may be kept as a part: one byte range, not a HEAD,
/// and no `If-Range` unless it names the held parts' own strong entity tag (a client's
/// `If-Range` for another version wants the whole response, which parts cannot give).
pub fn part_spec(job: &RequestContext, head: bool, held: Option<&Found>) -> Option<Spec> {
    if head {
        return None;
    }
    let spec = range::parse(&job.headers.field("range")?)?;
    match job.headers.field("if-range") {
        None => Some(spec),
        Some(validator) => {
            let meta = &held?.entry.meta;
            let etag = parts::strong_etag(&**meta)?;
            (validator.trim() == etag).then_some(spec)
        }
    }
}

/// The bytes the request asks for out of parts of `total` bytes.
pub fn wanted(spec: Spec, total: u64) -> Option<(u64, u64)> {
    match spec.against(total) {
        RangeAnswer::Partial { first, last } => Some((first, last)),
        _ => None,
    }
}

/// The held parts' pieces, when they are a parts record.
pub fn pieces(found: &Found) -> Option<&Pieces> {
    let meta = &found.entry.meta;
    meta.parts.as_ref().filter(|_| meta.kind == Kind::Parts)
}

/// What to ask the origin for: the bytes the held parts miss (when `use_held`), or the
/// client's range.
fn to_ask(request: &PartRequest, use_held: bool) -> PartAsked {
    let held = request.held.as_ref().filter(|_| use_held);
    let missing = held.and_then(|found| {
        let pieces = pieces(found)?;
        let (first, last) = wanted(request.spec, pieces.total)?;
        let (first, last) = parts::missing(&pieces.held, first, last)?;
        let etag = parts::strong_etag(&*found.entry.meta)?;
        Some(PartAsked::Missing {
            first,
            last,
            total: pieces.total,
            etag,
        })
    });
    missing.unwrap_or(PartAsked::Client(request.spec))
}

/// The fetch for a part, sent as the key says with `Range` (and `If-Range` naming the held
/// parts), and what it asked for. `vary`: the fields the URL's responses are known to vary on.
pub fn forward_for(
    job: &RequestContext,
    request: &PartRequest,
    use_held: bool,
    vary: &[String],
) -> (Forward, PartAsked) {
    let asked = to_ask(request, use_held);
    let mut forward = job.forward();
    forward.validators = vec![("range".into(), asked.range_field())];
    // The held parts' tag, or the client's own `If-Range` (which `part_spec` let through only
    // when it names the held parts): a part of another version is then never sent for it.
    let if_range = match &asked {
        PartAsked::Missing { etag, .. } => Some(etag.clone()),
        PartAsked::Client(_) => job.headers.field("if-range").map(|v| v.trim().to_string()),
    };
    if let Some(if_range) = if_range {
        forward.validators.push(("if-range".into(), if_range));
    }
    forward.vary_fields = match &request.held {
        Some(found) => found.entry.meta.vary.clone(),
        None => vary.to_vec(),
    };
    (forward, asked)
}

/// The origin's answer (not a 200) to a request for a part: kept and answered from the
/// parts, or passed on unstored, as `decide::answer::judge_part` says. `as_sent`: what the
/// request sent of the client's credentials (none its key does not hold when parts are held).
pub async fn answered(
    job: &Rc<RequestContext>,
    ctx: &Rc<Context>,
    request: &PartRequest,
    (forward, asked, as_sent): (&Forward, &PartAsked, &AsSent),
    origin: Response,
    exchange: Exchange,
    fwd: Fwd,
) -> Answer {
    let fields = header_list(&origin.headers());
    let fit = parts::fit(asked, &fields, job.max_body_bytes);
    let verdict = part_storability(&as_sent.facts, &fields, &job.plan.overrides, exchange);
    // As in `fill`: a response that varies on a field the client sent and the origin was not
    // sent (or a credential it withheld) was chosen without it.
    let saw = origin_saw(&job.plan, &forward.withheld, &forward.vary_fields);
    let variance = Variance::of(&verdict, saw, &forward.withheld, &job.headers, false);
    let answer = PartAnswered {
        fwd,
        status: origin.status(),
        fit: fit.clone(),
        credentials: Credentials::of(&as_sent.sent),
        replacing: request.held.is_some(),
        room: Room::of(job.tiers.len(), None, job.max_body_bytes),
        variance,
        verdict,
    };
    let outcome = match judge_part(&answer) {
        PartJudgement::Keep(outcome) => outcome,
        PartJudgement::Pass { outcome, drop_held } => {
            if let (true, Some(found)) = (drop_held, &request.held) {
                drop_parts(job, ctx, found);
            }
            return Answer::unstored(origin, outcome);
        }
        // A 200 is the fill's to judge: it never comes here.
        PartJudgement::Full => return Answer::unstored(origin, passed(fwd, 200, None)),
    };
    let Fit::Fits {
        first, last, total, ..
    } = fit
    else {
        return Answer::unstored(origin, outcome);
    };
    let Some(bytes) = read_part(&origin, first, last).await else {
        // A body that is not as long as its Content-Range said is not the part asked for; it
        // is read (to check it) and cannot be sent on: the client gets a 502 saying so.
        let outcome = passed(fwd, 206, Some(Reason::PartMismatch));
        return match broken_part() {
            Ok(origin) => Answer::unstored(origin, outcome),
            Err(_) => Answer::Failed(OriginError::Unreachable(BROKEN_PART.into())),
        };
    };
    let (held, body) = joined(request, asked, &fields, (first, last, total), bytes);
    let pieces_count = held.len();
    let arrived = (fields, exchange);
    let pieces = (Pieces { total, held }, body.len() as u64);
    let to_store = parts_to_store(answer.verdict, arrived, &job.plan, &job.headers, pieces);
    let Some(meta) = to_store else {
        return Answer::unstored(origin, outcome);
    };
    let entry = Entry::new(meta, body);
    if pieces_count <= parts::MAX_PIECES {
        let job = job.clone();
        let written = entry.clone();
        ctx.wait_until(async move { write(&job, &written).await });
    }
    Answer::Entry {
        entry,
        outcome,
        shareable: true,
    }
}

/// The part's bytes, `first` to `last`, when the body holds exactly those.
async fn read_part(origin: &Response, first: u64, last: u64) -> Option<Vec<u8>> {
    let length = last - first + 1;
    match read_limited(origin.body()?, length).await {
        Ok(Body::Complete(bytes)) if bytes.len() as u64 == length => Some(bytes),
        _ => None,
    }
}

/// The pieces held and their bytes once this part (`first` to `last` of `total`) is kept.
/// Held parts join when this part was asked for as their missing bytes (same tag, same
/// length, confirmed by `fit`), or, asked for as the client's range (a forced refresh, or
/// parts gone stale), when it is of their representation: held bytes are replaced only by a
/// changed representation, never by fewer bytes of the same one.
fn joined(
    request: &PartRequest,
    asked: &PartAsked,
    fields: &[(String, String)],
    (first, last, total): (u64, u64, u64),
    bytes: Vec<u8>,
) -> (Vec<(u64, u64)>, Vec<u8>) {
    let held = request.held.as_ref().and_then(|found| {
        let pieces = pieces(found)?;
        let joins = match asked {
            PartAsked::Missing { .. } => true,
            PartAsked::Client(_) => {
                parts::same_representation(&*found.entry.meta, pieces.total, fields, total)
            }
        };
        joins.then(|| (pieces.held.clone(), found.entry.body.clone()))
    });
    let merged = held
        .as_ref()
        .and_then(|(pieces, body)| parts::merge(pieces, body, first, &bytes));
    merged.unwrap_or_else(|| (vec![(first, last)], bytes))
}

/// Writes parts (or the complete response they became), and the `Vary` marker when the
/// response varies, to every tier.
async fn write(job: &RequestContext, entry: &Entry) {
    let marker = marker_for(&job.plan.primary, &entry.meta);
    let keep = job.keep_secs(&entry.meta);
    write_all(
        job.tiers_to_write(None),
        (entry, marker.as_ref()),
        keep,
        job.now,
    )
    .await;
}

/// A whole response that is not kept outdates `held` parts when it shows another
/// representation than theirs (`http::parts::changed`), on the word of a request that carried
/// nothing its key does not hold (`beyond_key`).
pub fn outdated(held: &Found, whole: &impl Fields, beyond_key: bool) -> bool {
    let Some(pieces) = pieces(held) else {
        return false;
    };
    let total = parts::whole_length(whole);
    !beyond_key && parts::changed(&*held.entry.meta, pieces.total, whole, total)
}

/// Removes held parts that another version has outdated.
pub fn drop_parts(job: &Rc<RequestContext>, ctx: &Rc<Context>, found: &Found) {
    let job = job.clone();
    let key = found.entry.meta.key.clone();
    ctx.wait_until(async move {
        delete_all(&job.tiers, &key).await;
    });
}

const BROKEN_PART: &str = "the origin's part was not as long as its Content-Range said";

/// A 502 standing for a part whose body was not the range it named.
fn broken_part() -> Result<Response, wasm_bindgen::JsValue> {
    let init = ResponseInit::new();
    init.set_status(502);
    init.set_headers(&headers_from(&[
        ("content-type".into(), "text/plain; charset=utf-8".into()),
        ("cache-control".into(), "no-store".into()),
    ]));
    Response::new_with_opt_str_and_init(Some(&format!("edgecache: {BROKEN_PART}\n")), &init)
}

/// Sends bytes of `entry`, a parts record, that the request's range asks for: a `206`, or
/// `None` when the parts do not hold them. `read`: those bytes, read from the parts' tier
/// alone (`entry.body` is then empty); otherwise they are cut from `entry.body`.
pub fn respond_with_part(
    job: &RequestContext,
    entry: &Entry,
    outcome: Outcome,
    spec: Spec,
    read: Option<PartBytes>,
) -> Option<Served> {
    let discard = |read: Option<PartBytes>| {
        if let Some(PartBytes::Read(stream)) = read {
            let _ = stream.cancel();
        }
    };
    let pieces = entry.meta.parts.as_ref()?;
    let Some((first, last)) = wanted(spec, pieces.total) else {
        discard(read);
        return None;
    };
    let bytes = match read {
        Some(bytes) => bytes,
        None => {
            let (start, end) = parts::offsets(&pieces.held, first, last)?;
            if end >= entry.body.len() as u64 {
                return None;
            }
            PartBytes::Held(start as usize..end as usize + 1)
        }
    };
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: job.plan.browser_ttl,
        audience: job.audience(),
    };
    // RFC 9110 §13.2.2: the client's conditionals come before its range.
    if is_not_modified(&job.headers, &*entry.meta) {
        discard(Some(bytes));
        let response = reply::from_entry(
            entry,
            None,
            job.now,
            false,
            true,
            RangeAnswer::Full,
            &decoration,
        );
        return Some(Served::new(response, outcome));
    }
    let response = reply::from_part(
        entry,
        job.now,
        (first, last, pieces.total),
        &bytes,
        &decoration,
    );
    Some(Served::new(response, outcome))
}
