//! Where the stats live: counted in each isolate, and written to KV at most every
//! `FLUSH_EVERY_MS` under a key of the isolate's own (one write per key per second is KV's
//! limit), kept a day. `/_edgecache/stats` sums them.

use std::cell::RefCell;

use worker::Env;

use crate::config::Config;
use crate::runtime::now_ms;
use crate::stats::Stats;
use crate::status::Outcome;
use crate::store::KV_BINDING;

/// How often an isolate writes its counters.
pub const FLUSH_EVERY_MS: i64 = 10_000;
/// How long an isolate's counters outlive its last write.
const KEEP_SECS: u64 = 86_400;

struct Local {
    id: String,
    stats: Stats,
    flushed_at: i64,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

pub fn key_prefix(config: &Config) -> String {
    format!("{}:__edgecache:stats:", config.key_prefix)
}

fn with_local<T>(f: impl FnOnce(&mut Local) -> T) -> T {
    LOCAL.with(|l| {
        let mut local = l.borrow_mut();
        let local = local.get_or_insert_with(|| Local {
            id: format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64),
            stats: Stats::new(now_ms()),
            flushed_at: now_ms(),
        });
        f(local)
    })
}

/// Counts one request. Returns the write to make when a flush is due.
pub fn record(
    config: &Config,
    route: Option<&str>,
    outcome: &Outcome,
    bytes: u64,
) -> Option<(String, String)> {
    let now = now_ms();
    with_local(|local| {
        local
            .stats
            .record(route.unwrap_or("default"), outcome, bytes, now);
        if now - local.flushed_at < FLUSH_EVERY_MS {
            return None;
        }
        local.flushed_at = now;
        let text = serde_json::to_string(&local.stats).ok()?;
        Some((format!("{}{}", key_prefix(config), local.id), text))
    })
}

/// This isolate's KV key and live counters.
pub fn snapshot(config: &Config) -> (String, Stats) {
    with_local(|local| {
        (
            format!("{}{}", key_prefix(config), local.id),
            local.stats.clone(),
        )
    })
}

/// Writes a flush; failures only cost freshness of the totals.
pub async fn flush(env: Env, key: String, text: String) {
    let Ok(kv) = env.kv(KV_BINDING) else { return };
    if let Ok(put) = kv.put(&key, text) {
        let _ = put.expiration_ttl(KEEP_SECS).execute().await;
    }
}
