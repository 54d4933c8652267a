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
use edgecache_core::esi::template as esi;
use edgecache_core::http::conditional::is_not_modified;
use edgecache_core::http::range::{self, RangeAnswer};
use edgecache_core::http::reuse::usable_on_error;
use edgecache_core::http::reuse::{client_verdict, Forcing, RefreshPolicy};
use edgecache_core::http::Fields;
use edgecache_core::http::{RequestFacts, Verdict};
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

/// RFC 9110 §9.2.1: the methods defined as safe. Any other method may change state.
fn is_safe(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

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
    if headers.field(HOP_HEADER).is_some() {
        let outcome = Outcome::bypass(Reason::LoopDetected);
        notes.outcome = Some(outcome.clone());
        let message = "edgecache: this request came from edgecache itself (a forwarding loop); set ORIGIN to the site to cache\n";
        return reply::plain(508, message, &outcome);
    }

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
    if method != "GET" && method != "HEAD" {
        let response =
            pass_through(as_sent(), Fwd::Method, None, config.expose_tags, notes).await?;
        if !is_safe(&method) && (200..400).contains(&response.status()) {
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
    if routing.bypass {
        return pass_through(
            as_sent(),
            Fwd::Bypass,
            Some(Reason::RouteBypass),
            config.expose_tags,
            notes,
        )
        .await;
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

/// GET and HEAD on a cacheable route.
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
    let mut stale = None;
    'found: {
        let Some(mut found) = found.found else {
            break 'found;
        };
        let now = now_ms();
        let meta = found.entry.meta.clone();
        let ttl = meta.ttl(now);
        let tier = job.tiers[found.tier].backend();
        let hit = |stale: Option<Reason>| Outcome::Hit { ttl, tier, stale };
        let found_bytes = meta.body_len;
        let resident_secs = ((now - meta.stored_at).max(0) / 1000) as u64;
        let (mut reuse, forcing) = client_verdict(
            &meta.reuse,
            meta.age(now),
            meta.lifetime,
            &job.facts.cache_control,
            resident_secs,
            job.refresh,
        );
        if found.soft_purged && matches!(reuse, Verdict::Fresh | Verdict::StaleAccepted) {
            // A soft purge: served once more, stale, while one refresh goes to the origin.
            reuse = if meta.reuse.must_revalidate {
                Verdict::Revalidate
            } else {
                Verdict::StaleWhileRevalidate
            };
        }
        let outcome = match reuse {
            Verdict::Fresh if forcing == Forcing::Limited => {
                Some(hit(Some(Reason::RefreshLimited)))
            }
            Verdict::Fresh => Some(hit(None)),
            Verdict::StaleAccepted => Some(hit(Some(Reason::MaxStale))),
            Verdict::StaleWhileRevalidate if found.soft_purged => {
                Some(hit(Some(Reason::SoftPurged)))
            }
            Verdict::StaleWhileRevalidate => Some(hit(Some(Reason::StaleWhileRevalidate))),
            Verdict::Revalidate => None,
        };
        // A hit that nothing else will read (no refresh, no copy to a faster tier) is sent
        // from storage unread (whole, or the part a Range asks for); anything else reads the
        // body first.
        let unread =
            if outcome.is_some() && reuse != Verdict::StaleWhileRevalidate && found.tier == 0 {
                let meta = &found.entry.meta;
                let range = range_for(job, meta, is_template(job, meta.status, &**meta));
                match found.take_unread(range, &mut notes.errors).await {
                    Ok(unread) => unread,
                    Err(Unusable) => break 'found,
                }
            } else {
                None
            };
        if unread.is_none() && !found.complete(&mut notes.errors).await {
            break 'found;
        }
        if let Some(outcome) = outcome {
            notes.decide(&outcome);
            let response =
                respond_with_entry(job, &found.entry, unread, head, &outcome, true, notes);
            if reuse == Verdict::StaleWhileRevalidate {
                ctx.wait_until(refresh(job.clone(), ctx.clone(), found));
            } else if found.tier > 0 {
                let keep = keep_secs(&found.entry.meta, job.keep_stale);
                let job = job.clone();
                ctx.wait_until(async move { backfill(&job.tiers, found, keep).await });
            }
            notes.outcome = Some(outcome);
            notes.bytes_from_cache = found_bytes;
            return response;
        }
        stale = Some(found);
    }

    // RFC 9111 §5.2.1.7: only-if-cached: "respond using a stored response or ... with a
    // 504 (Gateway Timeout) status code".
    if job.facts.cache_control.only_if_cached {
        let outcome = Outcome::forward(Fwd::Miss, None, false, Some(Reason::OnlyIfCached));
        notes.outcome = Some(outcome.clone());
        return reply::plain(
            504,
            "edgecache: no stored response (only-if-cached)\n",
            &outcome,
        );
    }

    let fwd = match &stale {
        // Fresh, but the request asked for more: RFC 9211's `fwd=request`.
        Some(found) if found.entry.meta.is_fresh(now_ms()) && !found.entry.meta.reuse.no_cache => {
            Fwd::Request
        }
        Some(_) => Fwd::Stale,
        None if vary_miss => Fwd::VaryMiss,
        None => Fwd::Miss,
    };
    // A Range request that nothing stored answers goes to the origin as it is, on its own:
    // its 206 is a part, not stored, and says nothing about the URL (no hit-for-pass), and
    // no full request should wait for it. The next full request fills the cache.
    if job.headers.field("range").is_some() {
        let forward = job.pass.clone();
        return pass_through(forward, fwd, Some(Reason::Range), job.expose_tags, notes).await;
    }
    notes.decide(&Outcome::forward(fwd, None, false, None));
    // A HEAD with nothing stored is forwarded as HEAD: nobody to share a fetch with.
    let leader = if head && stale.is_none() {
        None
    } else {
        match coalesce::join(&job.plan.primary, now_ms()) {
            Flight::Leader(leader) => Some(leader),
            Flight::Pass => None,
            Flight::Follower(ticket) => {
                if let Some(Settled::Stored(entry)) =
                    runtime::wait_for(&ticket, config.origin_timeout_ms).await
                {
                    if entry.meta.key == job.plan.variant_key(&entry.meta.vary, &job.headers) {
                        let mut outcome = Outcome::Forward {
                            fwd,
                            status: Some(entry.meta.status),
                            stored: false,
                            collapsed: true,
                            reason: None,
                        };
                        if standing_unknown {
                            say_standing_unknown(&mut outcome);
                        }
                        notes.outcome = Some(outcome.clone());
                        notes.bytes_from_cache = entry.body.len() as u64;
                        return respond_with_entry(job, &entry, None, head, &outcome, true, notes);
                    }
                }
                None
            }
        }
    };

    let start = Start {
        stale: stale.as_ref(),
        fwd,
        head,
        client_body: !head,
        vary: &vary,
    };
    let mut answer = fill(job, ctx, start, leader).await;
    if standing_unknown {
        if let Answer::Entry { outcome, .. } | Answer::Origin { outcome, .. } = &mut answer {
            say_standing_unknown(outcome);
        }
    }
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

/// Says that a request went to the origin because no stored entry's purge standing is known
/// (the control plane could not be asked for longer than the grace), unless another reason
/// already explains its answer.
fn say_standing_unknown(outcome: &mut Outcome) {
    if let Outcome::Forward {
        reason: reason @ None,
        ..
    } = outcome
    {
        *reason = Some(Reason::PurgeStandingUnknown);
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
    notes.errors.push(error.to_string());
    if let Some(found) = stale {
        let meta = &found.entry.meta;
        if usable_on_error(&meta.reuse, meta.age(now_ms()), meta.lifetime) {
            let outcome = Outcome::forward(Fwd::Stale, None, false, Some(Reason::StaleIfError));
            notes.outcome = Some(outcome.clone());
            return respond_with_entry(job, &found.entry, None, head, &outcome, true, notes);
        }
    }
    error_page(fwd, error, notes)
}

fn error_page(fwd: Fwd, error: OriginError, notes: &mut Notes) -> Result<Response, JsValue> {
    let (status, reason) = match error {
        OriginError::Timeout(_) => (504, Reason::OriginTimeout),
        OriginError::Unreachable(_) => (502, Reason::OriginUnreachable),
    };
    let outcome = Outcome::forward(fwd, None, false, Some(reason));
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
