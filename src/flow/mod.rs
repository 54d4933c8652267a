//! The request flow: answer from a usable stored response; otherwise go to the origin once
//! per key (coalescing concurrent misses), stream the answer to the client and store it in
//! the background when HTTP semantics allow. Unsafe methods invalidate what they change.
//!
//! What to do is decided in the core (`edgecache_core::decide`); the flow carries it out and
//! returns the response with what it reports (`report`).

pub mod assemble;
pub mod cacheable;
pub mod coalesce;
pub mod error;
pub mod fill;
pub mod job;
pub mod lookup;
pub mod markers;
pub mod origin;
pub mod parts;
pub mod pass;
pub mod reply;
pub mod report;
pub mod revalidated;
pub mod shield;

use std::rc::Rc;

use url::Url;
use web_sys::{Headers, Request};
use worker::{Context, Env};

use futures_util::future::LocalBoxFuture;

use crate::control::registry_copy;
use crate::runtime::{FieldSet, JsFields, PickedFields};
use crate::settings::Settings;
use crate::store::open_tiers;
use assemble::{Fragment, FragmentFlow};
use cacheable::serve_cacheable;
use edgecache_core::config::Config;
use edgecache_core::decide::arrival::{
    before_lookup, Arrival, Before, HOP_HEADER, INVALIDATES_ALSO_WITHOUT,
};
use edgecache_core::decide::shield::{location_tiers, shard_name, shield_tiers};
use edgecache_core::http::reuse::RefreshPolicy;
use edgecache_core::http::Fields;
use edgecache_core::http::RequestFacts;
use edgecache_core::request::plan::{KeyedOn, Plan};
use edgecache_core::request::target::Target;
use error::RequestError;
use job::{Job, Sending};
use lookup::delete_all;
use origin::{Forward, ShieldRoute};
use pass::{pass_through, refusal};
use reply::Audience;
use report::{Handled, Report, Served};
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
    let config = &settings.config;
    let audience = match role {
        Role::Edge => Audience::Clients {
            expose_tags: config.expose_tags,
        },
        Role::Shield => Audience::Caches,
    };
    let target = Target::of(url, config.case_insensitive_paths);
    let routing = config.routing(&target);
    let route = routing.route.map(|r| r.path.as_str().to_string());
    let mut errors = Vec::new();
    let headers = PickedFields::read(request.headers(), FieldSet::Request);
    let esi_route = routing.route.is_some_and(|r| r.esi);
    let method = request.method();
    // A passed request's answer goes to the client as the origin sent it, never assembled, so
    // its `Surrogate-Capability` does not offer ESI (`Forward::as_sent`).
    let as_sent = || {
        Forward::as_sent(
            request,
            url,
            settings.origin.as_ref(),
            config.origin_timeout_ms,
        )
    };
    let arrival = Arrival {
        looped: headers.field(HOP_HEADER).is_some(),
        method: &method,
        bypass: routing.bypass,
        bypass_cookie: config.any_bypass_cookies
            && config
                .bypass_cookie(&target, &routing, headers.field("cookie").as_deref())
                .is_some(),
    };
    let passed = match before_lookup(&arrival) {
        Before::Refuse { status, outcome } => {
            let response = reply::plain(status, &refusal(&outcome), &outcome);
            Some(Served::new(response, outcome))
        }
        Before::Pass {
            fwd,
            reason,
            invalidates,
        } => {
            let mut served = pass_through(as_sent(), fwd, reason, audience, fragment).await;
            let success = served
                .response
                .as_ref()
                .ok()
                .filter(|r| (200..400).contains(&r.status()));
            if let (true, Some(response)) = (invalidates, success) {
                let changed = response.headers();
                let request = headers.headers();
                let role = Role::Edge;
                let failed = invalidate(role, env, config, url, request, Some(&changed)).await;
                served.errors.extend(failed);
            }
            Some(served)
        }
        Before::Lookup => None,
    };
    if let Some(served) = passed {
        return handled(served, route, errors, None);
    }

    let keyed_on = fragment.map(|f| &f.keyed_on);
    let plan = Plan::new(config, &routing, &target, &headers, keyed_on);
    let facts = RequestFacts::of(&headers, &config.credential_headers);
    // A shielded route's location keeps its own tiers and leaves the shared ones to the
    // shield; without the binding, it keeps them all and asks the origin itself.
    let namespace = match role {
        Role::Edge if plan.shield => {
            let namespace = ShieldNamespace::of(
                env,
                config.shield_location_hint.clone(),
                config.shield_shards,
            );
            if namespace.is_none() {
                errors.push(RequestError::NoShieldBinding);
            }
            namespace
        }
        _ => None,
    };
    let backends = match (role, &namespace) {
        (Role::Shield, _) => shield_tiers(&plan.backends),
        (Role::Edge, Some(_)) => location_tiers(&plan.backends),
        (Role::Edge, None) => plan.backends.clone(),
    };
    let opened = open_tiers(&backends, env, &plan.url_base, config.memory_max_bytes);
    errors.extend(opened.failed.into_iter().map(RequestError::Tier));
    let tiers = opened.tiers;
    let shield = namespace.map(|namespace| {
        Rc::new(ShieldRoute {
            namespace,
            key: plan.primary.clone(),
            url: Forward::key_url(&plan, &target),
            credentials: facts.has_credentials(),
            keyed_beyond_route: keyed_on.is_some_and(|k| !k.is_empty()),
        })
    });
    let registry = registry_copy::current(env, config, &target.host).await;
    let sending = Sending {
        request: Clone::clone(request),
        url: url.clone(),
        target,
        settings: settings.clone(),
        keep_cookies: KeyedOn::of(routing.route, keyed_on).cookies,
        esi: esi_route,
        shield,
    };
    let job = Rc::new(Job {
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
        workers_cache: config.workers_cache.is_some() && role == Role::Edge,
        role,
    });
    let head = method == "HEAD";
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

/// The request's answer, with the report that goes with it; `errors`: those met before the
/// answer was chosen.
fn handled(
    served: Served,
    route: Option<String>,
    errors: Vec<RequestError>,
    asked: Option<edgecache_core::workers_cache::fields::Asked>,
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
    routing: &edgecache_core::request::route::Routing<'_>,
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
