//! The purge registry's home: one KV value per site, cached in each isolate for a few
//! seconds. Purges made here take effect here at once; elsewhere once KV has propagated the
//! write (its edge cache holds reads for up to 60 s) and the isolate's copy has expired.

use std::cell::RefCell;
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
}

fn registry_key(config: &Config) -> String {
    format!("{}:__edgecache:registry", config.key_prefix)
}

/// The registry as this isolate knows it, refreshed from KV when older than
/// `REGISTRY_TTL_MS`. Without KV (no binding, or a failing one) purges cannot be shared,
/// and the last known registry (or an empty one) applies.
pub async fn current(env: &Env, config: &Config) -> Rc<Registry> {
    let now = now_ms();
    if let Some((registry, fetched)) = CACHED.with(|c| c.borrow().clone()) {
        if now - fetched < REGISTRY_TTL_MS {
            return registry;
        }
    }
    let loaded = match load(env, config).await {
        Ok(registry) => Rc::new(registry),
        Err(_) => CACHED
            .with(|c| c.borrow().as_ref().map(|(r, _)| r.clone()))
            .unwrap_or_default(),
    };
    CACHED.with(|c| *c.borrow_mut() = Some((loaded.clone(), now)));
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
