//! Where the stats go: each isolate counts its requests (`stats::Delta`: per minute and
//! dimension, the names with the most requests, `stats::LIMITS` at most) and reports what it
//! counted to the control plane at most every `FLUSH_EVERY_MS`, only when it counted
//! something, in one request, one report at a time. Counts the control plane did not take are
//! kept for the next report (a day at most). No KV write is made.

use std::cell::{Cell, RefCell};

use serde_json::json;
use worker::Env;

use crate::control::error::ControlError;
use crate::control::plane::{self, STATS_TIMEOUT_MS};
use crate::runtime::now_ms;
use edgecache_core::control::origin_times::OriginAnswer;
use edgecache_core::control::stats::{Delta, Seen, Sums, Windows};
use edgecache_core::control::why::NotStored;
use edgecache_core::status::Outcome;

/// How often an isolate reports its counts at most.
pub const FLUSH_EVERY_MS: i64 = 10_000;

thread_local! {
    static PENDING: RefCell<Delta> = RefCell::new(Delta::default());
    /// When the last report began (the isolate's start before the first).
    static FLUSHED_AT: Cell<Option<i64>> = const { Cell::new(None) };
    static SENDING: Cell<bool> = const { Cell::new(false) };
}

/// Counts one request. Returns the counts to report when a report is due.
pub fn record(seen: &Seen<'_>) -> Option<Delta> {
    PENDING.with(|p| p.borrow_mut().record(seen, now_ms()));
    due()
}

/// Counts what the shield answered without asking the origin (`Delta::record_shield_kept`).
/// Returns the counts to report when a report is due.
pub fn record_shield_kept(route: &str, host: &str, tags: &[String], bytes: u64) -> Option<Delta> {
    PENDING.with(|p| {
        p.borrow_mut()
            .record_shield_kept(route, host, tags, bytes, now_ms())
    });
    due()
}

/// Counts one origin request this isolate sent (reported with the next report).
pub fn record_origin(answered: OriginAnswer) {
    PENDING.with(|p| p.borrow_mut().record_origin(answered, now_ms()));
}

/// Notes why key `id` was not stored (reported with the next report).
pub fn note_not_stored(id: i64, note: NotStored) {
    PENDING.with(|p| p.borrow_mut().note_not_stored(id, note));
}

/// The counts to report when a report is due (`FLUSH_EVERY_MS` since the last, none under
/// way).
pub fn due() -> Option<Delta> {
    let now = now_ms();
    let flushed_at = FLUSHED_AT.with(|f| *f.get().get_or_insert(now));
    FLUSHED_AT.with(|f| f.set(Some(flushed_at)));
    if now - flushed_at < FLUSH_EVERY_MS || SENDING.with(Cell::get) {
        return None;
    }
    FLUSHED_AT.with(|f| f.set(Some(now)));
    SENDING.with(|s| s.set(true));
    Some(take())
}

/// Counts one ESI fragment's request (reported with the page's requests).
pub fn record_fragment(url: &url::Url, outcome: &Outcome, bytes: u64) {
    let name = edgecache_core::control::stats::url_name(url);
    PENDING.with(|p| {
        p.borrow_mut()
            .record_fragment(&name, outcome, bytes, now_ms())
    });
}

/// Takes the counts not yet reported.
fn take() -> Delta {
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// Puts counts the control plane did not take back, for the next report.
fn restore(delta: Delta) {
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        pending.merge(delta);
        pending.forget_before(now_ms());
    });
}

/// Clears `SENDING` however the report ends.
struct SendingGuard;

impl Drop for SendingGuard {
    fn drop(&mut self) {
        SENDING.with(|s| s.set(false));
    }
}

/// The body of a stats request (`stats_store::StatsReport`): the counts to add, each minute's
/// names per dimension as this isolate's sketch kept them, and (to read) the windows to sum.
fn body(delta: &Delta, read: Option<Windows>, why_of: Option<i64>) -> String {
    json!({
        "buckets": delta.buckets(),
        "origin": delta.origin_minutes(),
        "why": delta.notes(),
        "read": read,
        "why_of": why_of,
    })
    .to_string()
}

/// Reports `delta` (from `record`); on failure the counts wait for the next report.
pub async fn flush(env: Env, key_prefix: String, delta: Delta) {
    let _guard = SendingGuard;
    if delta.is_empty() {
        return;
    }
    let sent = plane::ask(
        &env,
        &key_prefix,
        "POST",
        "/stats",
        Some(&body(&delta, None, None)),
        STATS_TIMEOUT_MS,
    )
    .await;
    if let Err(error) = sent {
        restore(delta);
        worker::console_warn!(
            "{}",
            json!({ "edgecache": "stats-report-failed", "error": error.to_string() })
        );
    }
}

/// Reports this isolate's counts and reads the sums of every isolate's, in one request; with
/// `why_of`, the sums carry that key id's last note (`why`).
pub async fn read(env: &Env, key_prefix: &str, why_of: Option<i64>) -> Result<Sums, ControlError> {
    let delta = take();
    let answer = plane::ask(
        env,
        key_prefix,
        "POST",
        "/stats",
        Some(&body(&delta, Some(Windows::at(now_ms())), why_of)),
        STATS_TIMEOUT_MS,
    )
    .await;
    match answer {
        Ok(text) => serde_json::from_str(&text).map_err(|e| ControlError::Unreadable {
            what: "stats",
            reason: e.to_string(),
        }),
        Err(error) => {
            restore(delta);
            Err(error.into())
        }
    }
}
