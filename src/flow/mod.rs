//! The request flow: answer from a usable stored response; otherwise go to the origin once
//! per key (coalescing concurrent misses), stream the answer to the client and store it in
//! the background when HTTP semantics allow. Unsafe methods invalidate what they change.
//!
//! What to do is decided in the core (`edgecache_core::decide`); the flow carries it out and
//! returns the response with what it reports (`report`).

pub mod answer;
pub mod assemble;
pub mod coalesce;
pub mod context;
pub mod error;
pub mod fill;
pub mod lookup;
pub mod markers;
pub mod origin;
pub mod parts;
pub mod pass;
pub mod reply;
pub mod report;
pub mod revalidated;
pub mod serve;
pub mod shield;

use std::rc::Rc;

use url::Url;
use web_sys::{Headers, Request};
use worker::{Context, Env};

use futures_util::future::LocalBoxFuture;

use crate::control::registry_copy;
use crate::runtime::{now_ms, FieldSet, JsFields, PickedFields};
use crate::settings::Settings;
use crate::store::{open_tiers, Tier};
use assemble::{Fragment, FragmentFlow};
use context::{ForwardSource, RequestContext};
use edgecache_core::config::Config;
use edgecache_core::decide::arrival::{
    before_lookup, invalidates_after, Arrival, Before, HOP_HEADER, INVALIDATES_ALSO_WITHOUT,
};
use edgecache_core::decide::shield::{location_tiers, shard_name, shield_tiers};
use edgecache_core::http::reuse::RefreshPolicy;
use edgecache_core::http::Fields;
use edgecache_core::http::RequestFacts;
use edgecache_core::request::plan::{KeyedOn, Plan};
use edgecache_core::request::route::Routing;
use edgecache_core::request::target::Target;
use error::RequestError;
use lookup::delete_all;
use origin::{Forward, ShieldRoute};
use pass::{pass_through, refusal};
use reply::Audience;
use report::{Handled, Report, Served};
use serve::serve_cacheable;
use shield::{Role, ShieldNamespace};

/// Answers one request. `fragment` is set when the request is an ESI include of a page being
/// assembled, and says what else its key carries.
pub async fn handle(
    request: &Request,
    url: &Url,
    env: &Env,
    ctx: &Rc<Context>,
    settings: &Rc<Settings>,
    fragment: Option<&Fragment>,
) -> Handled {
    handle_at(Role::Edge, request, url, env, ctx, settings, fragment).await
}

/// Answers one request in `role`: at a location, or at the shield for every location
/// (`shield`), where it keeps the shared tiers and answers with the origin's fields.
pub async fn handle_at(
    role: Role,
    request: &Request,
    url: &Url,
    env: &Env,
    ctx: &Rc<Context>,
    settings: &Rc<Settings>,
    fragment: Option<&Fragment>,
) -> Handled {
    // The request's one reading of the clock: its choices are made at this time.
    let now = now_ms();
    let config = &settings.config;
    let target = Target::of(url, config.case_insensitive_paths);
    let routing = config.routing(&target);
    let route = routing.route.map(|r| r.path.as_str().to_string());
    let headers = PickedFields::read(request.headers(), FieldSet::Request);
    let arriving = Arriving {
        role,
        request,
        url,
        env,
        settings,
        fragment,
    };
    if let Some(served) = arrive(&arriving, &target, &routing, &headers).await {
        return handled(served, route, Vec::new(), None);
    }
    let (job, errors) = job_for(&arriving, target, &routing, headers, now).await;
    let head = request.method() == "HEAD";
    let asked = match (&config.workers_cache, fragment, role) {
        (Some(site), None, Role::Edge) => Some(crate::workers_cache::asked(site, url, &job, head)),
        _ => None,
    };
    let mut served = serve_cacheable(&job, ctx, head, fragment).await;
    // The shield sends a template on as it is: each location assembles its pages.
    if served.template && role == Role::Edge {
        served.response = match served.response {
            Ok(shell) if head => assemble::head(&shell),
            Ok(shell) => {
                let flow = Rc::new(Flow {
                    env: env.clone(),
                    ctx: ctx.clone(),
                    settings: settings.clone(),
                });
                let client = job.headers.headers();
                assemble::page(shell, url, client, flow, ctx, settings, fragment).await
            }
            failed => failed,
        };
    }
    handled(served, route, errors, asked)
}

/// A request as it arrives, in the role it is answered in.
struct Arriving<'a> {
    role: Role,
    request: &'a Request,
    url: &'a Url,
    env: &'a Env,
    settings: &'a Rc<Settings>,
    fragment: Option<&'a Fragment>,
}

/// Before any lookup, as `decide::arrival::before_lookup` chooses: refuse, or pass the
/// request on as the client sent it (an unsafe method's success invalidating what it
/// changed, `decide::arrival::invalidates_after`); `None`: look it up.
async fn arrive(
    a: &Arriving<'_>,
    target: &Target,
    routing: &Routing<'_>,
    headers: &PickedFields,
) -> Option<Served> {
    let config = &a.settings.config;
    let method = a.request.method();
    let arrival = Arrival {
        looped: headers.field(HOP_HEADER).is_some(),
        method: &method,
        bypass: routing.bypass,
        bypass_cookie: config.any_bypass_cookies
            && config
                .bypass_cookie(target, routing, headers.field("cookie").as_deref())
                .is_some(),
        upgrade: headers.field("upgrade").is_some(),
    };
    let (fwd, reason, invalidates) = match before_lookup(&arrival) {
        Before::Refuse { status, outcome } => {
            let response = reply::plain(status, &refusal(&outcome), &outcome);
            return Some(Served::new(response, outcome));
        }
        Before::Pass {
            fwd,
            reason,
            invalidates,
        } => (fwd, reason, invalidates),
        Before::Lookup => return None,
    };
    let audience = match a.role {
        Role::Edge => Audience::Clients {
            expose_tags: config.expose_tags,
        },
        Role::Shield => Audience::Caches,
    };
    // A passed request's answer goes to the client as the origin sent it, never assembled,
    // so its `Surrogate-Capability` does not offer ESI (`Forward::as_sent`).
    let timeout_ms = config.origin_timeout_ms;
    let as_sent = Forward::as_sent(a.request, a.url, a.settings.origin.as_ref(), timeout_ms);
    let mut served = pass_through(as_sent, fwd, reason, audience, a.fragment).await;
    let changed = served.response.as_ref().ok().and_then(|response| {
        invalidates_after(invalidates, response.status()).then(|| response.headers())
    });
    if let Some(changed) = changed {
        let (env, url, request) = (a.env, a.url, headers.headers());
        let failed = invalidate(Role::Edge, env, config, url, request, Some(&changed)).await;
        served.errors.extend(failed);
    }
    Some(served)
}

/// The job of a request that is looked up: its key's plan, the tiers it keeps, what its
/// fetches are sent from, the purges known and its one `now`; with what went wrong on the way
/// (a tier that could not be opened, no shield binding).
async fn job_for(
    a: &Arriving<'_>,
    target: Target,
    routing: &Routing<'_>,
    headers: PickedFields,
    now: i64,
) -> (Rc<RequestContext>, Vec<RequestError>) {
    let config = &a.settings.config;
    let keyed_on = a.fragment.map(|f| &f.keyed_on);
    let plan = Plan::new(config, routing, &target, &headers, keyed_on);
    let facts = RequestFacts::of(&headers, &config.credential_headers);
    let (namespace, tiers, errors) = tiers_for(a, &plan);
    let shield = namespace.map(|namespace| {
        Rc::new(ShieldRoute {
            namespace,
            key: plan.primary.clone(),
            url: Forward::key_url(&plan, &target),
            credentials: facts.has_credentials(),
            keyed_beyond_route: keyed_on.is_some_and(|k| !k.is_empty()),
        })
    });
    let registry = registry_copy::current(a.env, config, &target.host).await;
    let esi_route = routing.route.is_some_and(|r| r.esi);
    let sending = ForwardSource {
        request: Clone::clone(a.request),
        url: a.url.clone(),
        target,
        settings: a.settings.clone(),
        keep_cookies: KeyedOn::of(routing.route, keyed_on).cookies,
        esi: esi_route,
        shield,
    };
    let job = RequestContext {
        plan,
        tiers,
        sending,
        facts,
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
        workers_cache: config.workers_cache.is_some() && a.role == Role::Edge,
        role: a.role,
        now,
    };
    (Rc::new(job), errors)
}

/// The tiers a request keeps: a shielded route's location keeps its own and leaves the shared
/// ones to the shield (the shield's namespace, when the worker has the binding); without the
/// binding, it keeps them all and asks the origin itself.
fn tiers_for(
    a: &Arriving<'_>,
    plan: &Plan,
) -> (Option<ShieldNamespace>, Vec<Tier>, Vec<RequestError>) {
    let config = &a.settings.config;
    let mut errors = Vec::new();
    let namespace = match a.role {
        Role::Edge if plan.shield => {
            let hint = config.shield_location_hint.clone();
            let namespace = ShieldNamespace::of(a.env, hint, config.shield_shards);
            if namespace.is_none() {
                errors.push(RequestError::NoShieldBinding);
            }
            namespace
        }
        _ => None,
    };
    let backends = match (a.role, &namespace) {
        (Role::Shield, _) => shield_tiers(&plan.backends),
        (Role::Edge, Some(_)) => location_tiers(&plan.backends),
        (Role::Edge, None) => plan.backends.clone(),
    };
    let opened = open_tiers(&backends, a.env, &plan.url_base, config.memory_max_bytes);
    errors.extend(opened.failed.into_iter().map(RequestError::Tier));
    (namespace, opened.tiers, errors)
}

/// The request's answer, with the report that goes with it; `errors`: those met before the
/// answer was chosen.
fn handled(
    served: Served,
    route: Option<String>,
    errors: Vec<RequestError>,
    asked: Option<edgecache_core::workers_cache::emit::CacheAsked>,
) -> Handled {
    let served = served.after(errors);
    Handled {
        response: served.response,
        report: Report {
            outcome: served.outcome,
            errors: served.errors,
            route,
            bytes_from_cache: served.bytes_from_cache,
            template: served.template,
            asked,
            kept: served.kept,
            tags: served.tags,
        },
    }
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
    ) -> LocalBoxFuture<'a, Handled> {
        Box::pin(handle(
            request,
            url,
            &self.env,
            &self.ctx,
            &self.settings,
            Some(fragment),
        ))
    }
}

/// RFC 9111 §4.4: "A cache MUST invalidate the target URI ... when it receives a non-error
/// status code in response to an unsafe request method", and MAY invalidate the URIs in
/// `Location` and `Content-Location`, only when their origin is the same (to stop one site
/// from purging another's entries). At a location, a shielded URL is invalidated at its
/// shield too (which keeps its own copy); at the shield (`Role::Shield`), in its tiers.
/// Returns what went wrong (a tier that could not be opened, a shield not reached).
pub async fn invalidate(
    role: Role,
    env: &Env,
    config: &Config,
    url: &Url,
    request: &Headers,
    response: Option<&Headers>,
) -> Vec<RequestError> {
    let mut targets = vec![url.clone()];
    for name in ["location", "content-location"] {
        if let Some(target) = response
            .and_then(|r| r.get(name).ok().flatten())
            .and_then(|v| url.join(&v).ok())
        {
            if target.origin() == url.origin() && !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    let namespace = match role {
        Role::Edge => ShieldNamespace::of(
            env,
            config.shield_location_hint.clone(),
            config.shield_shards,
        ),
        Role::Shield => None,
    };
    let mut errors = Vec::new();
    for target in targets {
        let target = Target::of(&target, config.case_insensitive_paths);
        let routing = config.routing(&target);
        if routing.bypass {
            continue;
        }
        // The key the request names, and the one it names without `Origin`.
        let without = crate::runtime::copy_without(
            request,
            &crate::runtime::name_list(INVALIDATES_ALSO_WITHOUT),
        );
        let mut keys: Vec<String> = Vec::new();
        for request in std::iter::once(request).chain(without.as_ref().ok()) {
            let done = invalidate_key(
                role,
                env,
                config,
                &routing,
                &target,
                request,
                namespace.as_ref(),
                &keys,
            )
            .await;
            keys.extend(done.key);
            errors.extend(done.errors);
        }
    }
    errors
}

/// What `invalidate_key` did.
struct KeyInvalidated {
    /// The key invalidated, unless it was already (`done`).
    key: Option<String>,
    errors: Vec<RequestError>,
}

/// Invalidates the key `request` names for `target` in this role's tiers, and at a location
/// the shield's copy too (at its key's shard); `done`: the keys already invalidated.
#[allow(clippy::too_many_arguments)]
async fn invalidate_key(
    role: Role,
    env: &Env,
    config: &Config,
    routing: &Routing<'_>,
    target: &Target,
    request: &Headers,
    namespace: Option<&ShieldNamespace>,
    done: &[String],
) -> KeyInvalidated {
    {
        // A key invalidated once for this request is not invalidated again.
        let plan = Plan::new(config, routing, target, &JsFields(request), None);
        if done.contains(&plan.primary) {
            return KeyInvalidated {
                key: None,
                errors: Vec::new(),
            };
        }
        let backends = match role {
            Role::Edge => plan.backends.clone(),
            Role::Shield => shield_tiers(&plan.backends),
        };
        let opened = open_tiers(&backends, env, &plan.url_base, config.memory_max_bytes);
        let mut errors: Vec<RequestError> =
            opened.failed.into_iter().map(RequestError::Tier).collect();
        // A tier that fails to delete is logged there (`delete_all`).
        delete_all(&opened.tiers, &plan.primary).await;
        coalesce::clear_pass(&plan.primary);
        if let Some(namespace) = namespace.filter(|_| plan.shield) {
            let shard = shard_name(&plan.primary, namespace.shards);
            let url = Forward::key_url(&plan, target);
            let timeout_ms = config.origin_timeout_ms;
            if let Err(why) = shield::invalidate(namespace, &shard, &url, request, timeout_ms).await
            {
                errors.push(RequestError::ShieldNotInvalidated { url, why });
            }
        }
        KeyInvalidated {
            key: Some(plan.primary),
            errors,
        }
    }
}
