//! The purge registry's home: one KV value per site, cached in each isolate for a few
//! seconds. Purges made here take effect here at once; elsewhere once KV has propagated the
//! write (its edge cache holds reads for up to 60 s) and the isolate's copy has expired.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::Env;

use crate::config::Config;
use crate::purge::{PurgeRequest, Registry};
use crate::runtime::{now_ms, Sleep};
use crate::store::KV_BINDING;

/// How long an isolate trusts its copy of the registry.
pub const REGISTRY_TTL_MS: i64 = 5_000;
/// KV's edge cache of reads, which bounds how long other locations may miss a purge.
pub const KV_PROPAGATION_S: i64 = 60;

thread_local! {
    static CACHED: RefCell<Option<(Rc<Registry>, i64)>> = const { RefCell::new(None) };
    /// A request is reading the registry from KV: others use the copy they have meanwhile,
    /// rather than all reading KV at once when the copy expires under load.
    static LOADING: Cell<bool> = const { Cell::new(false) };
}

fn registry_key(config: &Config) -> String {
    format!("{}:__edgecache:registry", config.key_prefix)
}

/// Clears `LOADING` however the load ends, a cancelled request included.
struct LoadingGuard;

impl Drop for LoadingGuard {
    fn drop(&mut self) {
        LOADING.with(|l| l.set(false));
    }
}

/// The registry as this isolate knows it, refreshed from KV when older than
/// `REGISTRY_TTL_MS` (by one request at a time; the others meanwhile use the copy there
/// is). Without KV (no binding, or a failing one) purges cannot be shared, and the last
/// known registry (or an empty one) applies.
pub async fn current(env: &Env, config: &Config) -> Rc<Registry> {
    let now = now_ms();
    let cached = CACHED.with(|c| c.borrow().clone());
    if let Some((registry, fetched)) = &cached {
        if now - fetched < REGISTRY_TTL_MS || LOADING.with(Cell::get) {
            return registry.clone();
        }
    }
    LOADING.with(|l| l.set(true));
    let _guard = LoadingGuard;
    let loaded = match load(env, config).await {
        Ok(registry) => Rc::new(registry),
        Err(_) => cached.map(|(r, _)| r).unwrap_or_default(),
    };
    CACHED.with(|c| {
        let mut cached = c.borrow_mut();
        // A purge recorded here while KV was read is newer than what the read returned.
        if cached.as_ref().is_none_or(|(_, fetched)| *fetched <= now) {
            *cached = Some((loaded.clone(), now));
        }
    });
    loaded
}

async fn load(env: &Env, config: &Config) -> Result<Registry, String> {
    let kv = env.kv(KV_BINDING).map_err(|e| e.to_string())?;
    let text = kv
        .get(&registry_key(config))
        .text()
        .await
        .map_err(|e| e.to_string())?;
    Ok(text.map(|t| Registry::parse(&t)).unwrap_or_default())
}

/// Adds a purge to the registry in KV and in this isolate. KV takes one write per second
/// per key, so a refused write is retried after a second, three times at most.
pub async fn record(
    env: &Env,
    config: &Config,
    request: &PurgeRequest,
    at: i64,
) -> Result<Rc<Registry>, String> {
    let kv = env
        .kv(KV_BINDING)
        .map_err(|_| format!("purging needs the {KV_BINDING} KV namespace binding"))?;
    let key = registry_key(config);
    let mut last_error = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            Sleep::new(1_100).await;
        }
        let stored = match kv.get(&key).text().await {
            Ok(text) => text.map(|t| Registry::parse(&t)).unwrap_or_default(),
            Err(e) => {
                last_error = e.to_string();
                continue;
            }
        };
        let mut registry = stored;
        registry.add(request, at);
        let text = serde_json::to_string(&registry).map_err(|e| e.to_string())?;
        let written = match kv.put(&key, text) {
            Ok(put) => put.execute().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match written {
            Ok(()) => {
                let registry = Rc::new(registry);
                CACHED.with(|c| *c.borrow_mut() = Some((registry.clone(), now_ms())));
                return Ok(registry);
            }
            Err(e) => last_error = e,
        }
    }
    Err(format!(
        "the purge could not be recorded in KV: {last_error}"
    ))
}
