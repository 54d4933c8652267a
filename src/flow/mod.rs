//! The request flow: answer from a usable stored response; otherwise go to the origin once
//! per key (coalescing concurrent misses), stream the answer to the client and store it in
//! the background when HTTP semantics allow. Unsafe methods invalidate what they change.

pub mod assemble;
pub mod client_fields;
pub mod coalesce;
pub mod fill;
pub mod lookup;
pub mod markers;
pub mod notes;
pub mod origin;
pub mod reply;

use std::rc::Rc;

use url::Url;
use wasm_bindgen::JsValue;
use web_sys::{Headers, Request, Response};
use worker::{Context, Env};

use futures_util::future::LocalBoxFuture;

use crate::control::registry_copy;
use crate::runtime::{self, now_ms, FieldSet, JsFields, PickedFields};
use crate::settings::Settings;
use crate::store::open_tiers;
use assemble::{Fragment, FragmentFlow};
use coalesce::{Flight, Settled};
use edgecache_core::config::Config;
use edgecache_core::decide::answer::{on_failure, Failure, OnFailure};
use edgecache_core::decide::arrival::{before_lookup, Arrival, Before};
use edgecache_core::decide::stored::{
    after_lookup, collapsed, with_unknown_standing, AfterLookup, Asked, Stored, Then,
};
use edgecache_core::esi::template as esi;
use edgecache_core::http::conditional::is_not_modified;
use edgecache_core::http::range::{self, RangeAnswer};
use edgecache_core::http::reuse::{usable_on_error, RefreshPolicy};
use edgecache_core::http::Fields;
use edgecache_core::http::RequestFacts;
use edgecache_core::request::plan::{KeyedOn, Plan};
use edgecache_core::request::target::Target;
use edgecache_core::status::{Fwd, Outcome, Reason};
use edgecache_core::storage::record::Meta;
use edgecache_core::workers_cache::fields::Kept;
use fill::{fill, keep_secs, Answer, Job, Start};
use lookup::{backfill, delete_all, lookup, Found, Unusable};
use notes::Notes;
use origin::{Forward, OriginError, HOP_HEADER};
use reply::{Decoration, Unread};

/// Answers one request. `fragment` is set when the request is an ESI include of a page being
/// assembled, and says what else its key carries.
pub async fn handle(
    request: &Request,
    url: &Url,
    env: &Env,
    ctx: &Rc<Context>,
    settings: &Rc<Settings>,
    notes: &mut Notes,
    fragment: Option<&Fragment>,
) -> Result<Response, JsValue> {
    let headers = PickedFields::read(request.headers(), FieldSet::Request);
    let config = &settings.config;
    let target = Target::of(url, config.case_insensitive_paths);
    let routing = config.routing(&target);
    let route = routing.route;
    notes.route = route.map(|r| r.path.as_str().to_string());
    let method = request.method();
    let esi_route = route.is_some_and(|r| r.esi);
    let as_sent = || {
        let mut forward = Forward::as_sent(
            request,
            url,
            settings.origin.as_ref(),
            config.origin_timeout_ms,
        );
        forward.esi = esi_route;
        forward
    };
    let arrival = Arrival {
        looped: headers.field(HOP_HEADER).is_some(),
        method: &method,
        bypass: routing.bypass,
    };
    match before_lookup(&arrival) {
        Before::Refuse { status, outcome } => {
            notes.outcome = Some(outcome.clone());
            return reply::plain(status, &refusal(&outcome), &outcome);
        }
        Before::Pass {
            fwd,
            reason,
            invalidates,
        } => {
            let response = pass_through(as_sent(), fwd, reason, config.expose_tags, notes).await?;
            if invalidates && (200..400).contains(&response.status()) {
                invalidate(
                    env,
                    config,
                    url,
                    headers.headers(),
                    &response.headers(),
                    notes,
                )
                .await;
            }
            return Ok(response);
        }
        Before::Lookup => {}
    }

    let keyed_on = fragment.map(|f| &f.keyed_on);
    let plan = Plan::new(config, &routing, &target, &headers, keyed_on);
    let tiers = open_tiers(
        &plan.backends,
        env,
        &plan.url_base,
        config.memory_max_bytes,
        &mut notes.errors,
    );
    let registry = registry_copy::current(env, config, &target.host).await;
    let forward = Forward::for_key(
        request,
        &plan,
        &target,
        settings.origin.as_ref(),
        KeyedOn::of(route, keyed_on).cookies,
        config.origin_timeout_ms,
        esi_route,
    );
    let job = Rc::new(Job {
        plan,
        tiers,
        forward,
        pass: as_sent(),
        facts: RequestFacts::of(&headers, &config.credential_headers),
        headers,
        max_body_bytes: config.max_body_bytes,
        keep_stale: config.keep_stale,
        hit_for_pass_ttl: config.hit_for_pass_ttl,
        expose_tags: config.expose_tags,
        esi_route,
        registry,
        refresh: RefreshPolicy {
            ignore: config.ignore_client_no_cache,
            interval_secs: config.client_refresh_interval,
        },
        workers_cache: config.workers_cache.is_some(),
    });
    let head = method == "HEAD";
    if let (Some(site), None) = (&config.workers_cache, fragment) {
        notes.asked = Some(crate::workers_cache::asked(site, url, &target, &job, head));
    }
    let response = serve_cacheable(&job, ctx, head, config, notes).await?;
    if !notes.template {
        return Ok(response);
    }
    if head {
        return assemble::head(&response);
    }
    let flow = Rc::new(Flow {
        env: env.clone(),
        ctx: ctx.clone(),
        settings: settings.clone(),
    });
    assemble::page(
        response,
        url,
        job.headers.headers(),
        flow,
        ctx,
        settings,
        fragment,
    )
    .await
}

/// The request flow as a page's fragments go through it.
struct Flow {
    env: Env,
    ctx: Rc<Context>,
    settings: Rc<Settings>,
}

impl FragmentFlow for Flow {
    fn fetch<'a>(
        &'a self,
        request: &'a Request,
        url: &'a Url,
        fragment: &'a Fragment,
        notes: &'a mut Notes,
    ) -> LocalBoxFuture<'a, Result<Response, JsValue>> {
        Box::pin(handle(
            request,
            url,
            &self.env,
            &self.ctx,
            &self.settings,
            notes,
            Some(fragment),
        ))
    }
}

/// Whether a response is an ESI template: its origin asked (`Surrogate-Control`), or its
/// route did and it is text. Only a 200 is assembled.
fn is_template(job: &Job, status: u16, fields: &impl Fields) -> bool {
    status == 200
        && (esi::requested_by(fields)
            || (job.esi_route && esi::is_textual(fields.field("content-type").as_deref())))
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
        lower_tier: found.tier > 0,
    }
}

/// GET and HEAD on a cacheable route: looks the request up, and carries out what
/// `decide::stored::after_lookup` chooses.
async fn serve_cacheable(
    job: &Rc<Job>,
    ctx: &Rc<Context>,
    head: bool,
    config: &Config,
    notes: &mut Notes,
) -> Result<Response, JsValue> {
    let found = lookup(
        &job.tiers,
        &job.plan,
        &job.headers,
        &job.registry,
        &mut notes.errors,
    )
    .await;
    let vary_miss = found.vary_miss;
    let vary = found.vary;
    let standing_unknown = found.standing_unknown;
    let asked = Asked {
        cache_control: job.facts.cache_control.clone(),
        range: job.headers.field("range").is_some(),
        head,
        refresh: job.refresh,
    };
    // An entry whose body turns out unusable (cut short, unreadable) counts as not found.
    let mut found = found.found;
    let (decision, unread) = loop {
        let stored = found.as_ref().map(|f| stored_of(f, job, now_ms()));
        let decision = after_lookup(stored.as_ref(), vary_miss, &asked);
        let Some(entry) = found.as_mut() else {
            break (decision, None);
        };
        // A hit that nothing else will read (no refresh, no copy to a faster tier) is sent
        // from storage unread (whole, or the part a Range asks for); anything else reads the
        // body first.
        let unread = if let AfterLookup::Serve { unread: true, .. } = decision {
            let meta = &entry.entry.meta;
            let range = range_for(job, meta, is_template(job, meta.status, &**meta));
            match entry.take_unread(range, &mut notes.errors).await {
                Ok(unread) => unread,
                Err(Unusable) => {
                    found = None;
                    continue;
                }
            }
        } else {
            None
        };
        if unread.is_none() && !entry.complete(&mut notes.errors).await {
            found = None;
            continue;
        }
        break (decision, unread);
    };

    let fwd = match decision {
        AfterLookup::Serve { outcome, then, .. } => {
            let Some(found) = found else {
                return Err(JsValue::from_str("edgecache: a hit without an entry"));
            };
            notes.decide(&outcome);
            let response =
                respond_with_entry(job, &found.entry, unread, head, &outcome, true, notes);
            notes.bytes_from_cache = found.entry.meta.body_len;
            notes.outcome = Some(outcome);
            match then {
                Then::Refresh => ctx.wait_until(refresh(job.clone(), ctx.clone(), found)),
                Then::CopyUp => {
                    let keep = keep_secs(&found.entry.meta, job.keep_stale);
                    let job = job.clone();
                    ctx.wait_until(async move { backfill(&job.tiers, found, keep).await });
                }
                Then::Nothing => {}
            }
            return response;
        }
        AfterLookup::Refuse { status, outcome } => {
            notes.outcome = Some(outcome.clone());
            return reply::plain(status, &refusal(&outcome), &outcome);
        }
        AfterLookup::Pass { fwd, reason } => {
            let forward = job.pass.clone();
            return pass_through(forward, fwd, Some(reason), job.expose_tags, notes).await;
        }
        AfterLookup::Fetch { fwd, coalesce } => {
            notes.decide(&Outcome::forward(fwd, None, false, None));
            let leader = if coalesce {
                match coalesce::join(&job.plan.primary, now_ms()) {
                    Flight::Leader(leader) => Some(leader),
                    Flight::Pass => None,
                    Flight::Follower(ticket) => {
                        if let Some(Settled::Stored(entry)) =
                            runtime::wait_for(&ticket, config.origin_timeout_ms).await
                        {
                            if entry.meta.key
                                == job.plan.variant_key(&entry.meta.vary, &job.headers)
                            {
                                let mut outcome = collapsed(fwd, entry.meta.status);
                                if standing_unknown {
                                    outcome = with_unknown_standing(outcome);
                                }
                                notes.outcome = Some(outcome.clone());
                                notes.bytes_from_cache = entry.body.len() as u64;
                                return respond_with_entry(
                                    job, &entry, None, head, &outcome, true, notes,
                                );
                            }
                        }
                        None
                    }
                }
            } else {
                None
            };
            (fwd, leader)
        }
    };
    let (fwd, leader) = fwd;
    let stale = found;

    let start = Start {
        stale: stale.as_ref(),
        fwd,
        head,
        client_body: !head,
        vary: &vary,
    };
    let answer = fill(job, ctx, start, leader).await;
    let answer = if standing_unknown {
        answer.map_outcome(with_unknown_standing)
    } else {
        answer
    };
    notes.outcome = answer.outcome().cloned();
    match answer {
        Answer::Entry {
            entry,
            outcome,
            shareable,
        } => respond_with_entry(job, &entry, None, head, &outcome, shareable, notes),
        Answer::Origin {
            origin,
            body,
            outcome,
            kept,
        } => {
            notes.kept = kept;
            let stored = matches!(outcome, Outcome::Forward { stored: true, .. });
            let fields = origin.headers();
            notes.template = is_template(job, origin.status(), &JsFields(&fields));
            let not_modified = origin.status() == 200
                && !notes.template
                && is_not_modified(&job.headers, &JsFields(&fields));
            let decoration = Decoration {
                outcome: &outcome,
                browser_ttl: job.plan.browser_ttl.filter(|_| stored),
                expose_tags: job.expose_tags,
            };
            reply::from_origin(&origin, body.as_ref(), not_modified, &decoration)
        }
        Answer::Failed(error) => origin_failed(job, stale, fwd, error, head, notes),
    }
}

/// The body of a refusal: what the client asked for that the cache could not give.
fn refusal(outcome: &Outcome) -> String {
    match outcome.reason() {
        Some(Reason::OnlyIfCached) => "edgecache: no stored response (only-if-cached)\n".into(),
        Some(Reason::LoopDetected) => "edgecache: this request came from edgecache itself (a forwarding loop); set ORIGIN to the site to cache\n".into(),
        _ => "edgecache: refused\n".into(),
    }
}

/// Serves a stored entry, answering the client's validators with a 304 when they match
/// (never for an ESI template: its validators are the shell's, not the assembled page's).
/// `shareable`: the entry is one the cache keeps, so a route's `browser_ttl` applies.
/// `unread`: the entry's body still in the runtime, sent instead of `entry.body`.
fn respond_with_entry(
    job: &Job,
    entry: &crate::store::Entry,
    unread: Option<Unread>,
    head: bool,
    outcome: &Outcome,
    shareable: bool,
    notes: &mut Notes,
) -> Result<Response, JsValue> {
    notes.template = is_template(job, entry.meta.status, &*entry.meta);
    if shareable && job.workers_cache {
        notes.kept = Some(Kept::of(&entry.meta, now_ms()));
    }
    let not_modified = !notes.template && is_not_modified(&job.headers, &*entry.meta);
    let decoration = Decoration {
        outcome,
        browser_ttl: job.plan.browser_ttl.filter(|_| shareable),
        expose_tags: job.expose_tags,
    };
    let range = range_for(job, &entry.meta, notes.template);
    reply::from_entry(
        entry,
        unread,
        now_ms(),
        head,
        not_modified,
        range,
        &decoration,
    )
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
    notes: &mut Notes,
) -> Result<Response, JsValue> {
    let usable = stale.as_ref().filter(|found| {
        let meta = &found.entry.meta;
        usable_on_error(&meta.reuse, meta.age(now_ms()), meta.lifetime)
    });
    match (
        on_failure(fwd, failure_of(&error), usable.is_some()),
        usable,
    ) {
        (OnFailure::ServeStale(outcome), Some(found)) => {
            notes.errors.push(error.to_string());
            notes.outcome = Some(outcome.clone());
            respond_with_entry(job, &found.entry, None, head, &outcome, true, notes)
        }
        _ => error_page(fwd, error, notes),
    }
}

fn failure_of(error: &OriginError) -> Failure {
    match error {
        OriginError::Timeout(_) => Failure::Timeout,
        OriginError::Unreachable(_) => Failure::Unreachable,
    }
}

fn error_page(fwd: Fwd, error: OriginError, notes: &mut Notes) -> Result<Response, JsValue> {
    notes.errors.push(error.to_string());
    let (status, outcome) = match on_failure(fwd, failure_of(&error), false) {
        OnFailure::ErrorPage { status, outcome } => (status, outcome),
        OnFailure::ServeStale(outcome) => (502, outcome),
    };
    notes.outcome = Some(outcome.clone());
    reply::plain(status, &format!("edgecache: {error}\n"), &outcome)
}

/// RFC 5861 §3: the one background refresh behind a stale-while-revalidate answer. Skipped
/// when another request of this isolate is already refreshing the key.
async fn refresh(job: Rc<Job>, ctx: Rc<Context>, found: Found) {
    let Flight::Leader(leader) = coalesce::join(&job.plan.primary, now_ms()) else {
        return;
    };
    let start = Start {
        stale: Some(&found),
        fwd: Fwd::Stale,
        head: false,
        client_body: false,
        vary: &[],
    };
    if let Answer::Failed(error) = fill(&job, &ctx, start, Some(leader)).await {
        worker::console_warn!(
            "{}",
            serde_json::json!({ "edgecache": "refresh-failed", "key": edgecache_core::redact::key(&job.plan.primary), "id": edgecache_core::redact::id(&job.plan.primary), "error": edgecache_core::redact::text(&error.to_string()) })
        );
    }
}

/// Forwards a request the cache does not answer, adding only `Cache-Status`.
async fn pass_through(
    forward: Forward,
    fwd: Fwd,
    reason: Option<Reason>,
    expose_tags: bool,
    notes: &mut Notes,
) -> Result<Response, JsValue> {
    notes.decide(&Outcome::forward(fwd, None, false, reason));
    let origin = match forward.send().await {
        Ok(origin) => origin,
        Err(error) => return error_page(fwd, error, notes),
    };
    let outcome = Outcome::forward(fwd, Some(origin.status()), false, reason);
    notes.outcome = Some(outcome.clone());
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: None,
        expose_tags,
    };
    reply::from_origin(&origin, origin.body().as_ref(), false, &decoration)
}

/// RFC 9111 §4.4: "A cache MUST invalidate the target URI ... when it receives a non-error
/// status code in response to an unsafe request method", and MAY invalidate the URIs in
/// `Location` and `Content-Location`, only when their origin is the same (to stop one site
/// from purging another's entries).
async fn invalidate(
    env: &Env,
    config: &Config,
    url: &Url,
    request: &Headers,
    response: &Headers,
    notes: &mut Notes,
) {
    let mut targets = vec![url.clone()];
    for name in ["location", "content-location"] {
        if let Some(target) = response
            .get(name)
            .ok()
            .flatten()
            .and_then(|v| url.join(&v).ok())
        {
            if target.origin() == url.origin() && !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    for target in targets {
        let target = Target::of(&target, config.case_insensitive_paths);
        let routing = config.routing(&target);
        if routing.bypass {
            continue;
        }
        let plan = Plan::new(config, &routing, &target, &JsFields(request), None);
        let tiers = open_tiers(
            &plan.backends,
            env,
            &plan.url_base,
            config.memory_max_bytes,
            &mut notes.errors,
        );
        delete_all(&tiers, &plan.primary).await;
        coalesce::clear_pass(&plan.primary);
    }
}
