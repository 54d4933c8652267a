//! The control plane's rules: what its Durable Object does with a purge, how the purge log is
//! numbered, kept and paged, and how an older deployment's KV registry and purge log are
//! imported. The object (the glue crate's `control/object.rs`) only stores what these
//! functions return, in one SQLite transaction per purge; the worker (`control/plane.rs`)
//! asks it.

use serde::{Deserialize, Serialize};

use crate::control::registry::{PurgeRequest, Registry};

/// Purge log entries the object keeps; older ones are deleted as newer ones arrive.
pub const LOG_KEEP: u64 = 10_000;
/// Entries one page of the purge log holds unless asked for fewer.
pub const PAGE_DEFAULT: u64 = 100;
/// The most entries one page may hold.
pub const PAGE_MAX: u64 = 1_000;

/// What the worker sends the object for one purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeCommand {
    pub request: PurgeRequest,
    /// The admin token's label, for the log.
    pub token: String,
    /// The worker's clock when the purge was asked for (ms since the epoch).
    pub at: i64,
}

/// One line of the purge log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The purge's sequence number: 1, 2, 3… in the order the object recorded them.
    pub seq: u64,
    pub at: i64,
    pub token: String,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub prefixes: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub soft: bool,
}

/// What one purge changes in the object's storage, all in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub registry: Registry,
    pub entry: LogEntry,
    /// Log entries with a sequence number up to this one are deleted (0: none).
    pub prune_through: u64,
}

/// Records `command` in `registry` (as stored; `None` before the first purge), on the
/// object's clock `now`. The purge takes the next sequence number; its time is the later of
/// the two clocks and of the last purge's, so it never precedes an entry the worker that
/// asked for it had already stored, and purges stay in order.
pub fn apply_purge(registry: Option<&str>, command: &PurgeCommand, now: i64) -> Applied {
    let mut registry = registry.map(Registry::parse).unwrap_or_else(|| Registry {
        v: crate::control::registry::REGISTRY_FORMAT,
        ..Registry::default()
    });
    let last = registry.records.iter().map(|r| r.at).max().unwrap_or(0);
    let at = command
        .at
        .max(now)
        .max(last)
        .max(registry.floor)
        .max(registry.soft_floor);
    let seq = registry.seq + 1;
    registry.add(&command.request, at);
    registry.seq = seq;
    let request = &command.request;
    Applied {
        registry,
        entry: LogEntry {
            seq,
            at,
            token: command.token.clone(),
            urls: request.urls.clone(),
            prefixes: request.prefixes.clone(),
            tags: request.tags.clone(),
            all: request.all,
            soft: request.soft,
        },
        prune_through: seq.saturating_sub(LOG_KEEP),
    }
}

/// Which page of the purge log to read: the entries numbered below `before`, newest first,
/// at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub before: u64,
    pub limit: u64,
}

impl Page {
    /// From `?before=&limit=`; absent means the newest entries and `PAGE_DEFAULT` of them.
    pub fn parse(before: Option<&str>, limit: Option<&str>) -> Result<Page, String> {
        let number = |name: &str, text: &str| {
            text.parse::<u64>()
                .map_err(|_| format!("{name}: {text:?} is not a whole number"))
        };
        let before = match before {
            None => u64::MAX,
            Some(text) => number("before", text)?,
        };
        let limit = match limit {
            None => PAGE_DEFAULT,
            Some(text) => number("limit", text)?,
        };
        if limit == 0 || limit > PAGE_MAX {
            return Err(format!("limit: must be 1 to {PAGE_MAX}"));
        }
        Ok(Page { before, limit })
    }

    /// The cursor for the next page, given the sequence numbers this one returned (newest
    /// first): `None` once the log is exhausted.
    pub fn next(&self, seqs: &[u64]) -> Option<u64> {
        match seqs.last() {
            Some(&oldest) if seqs.len() as u64 == self.limit && oldest > 1 => Some(oldest),
            _ => None,
        }
    }
}

/// An older deployment's purge log line, as it was kept in KV (newest first).
#[derive(Deserialize)]
struct LegacyEntry {
    #[serde(default)]
    at: i64,
    #[serde(default)]
    token: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    soft: bool,
}

/// What the object takes over from KV on its first request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    pub registry: Registry,
    /// Oldest first, numbered from 1.
    pub entries: Vec<LogEntry>,
}

/// The registry and purge log an older deployment kept in KV (`<prefix>:__edgecache:registry`
/// and `:purges`), as the object's first state: the log entries are numbered from 1, oldest
/// first, and the registry's sequence number is the last of them (at least 1 when it holds
/// anything, so that every isolate reads it). Unreadable values import as nothing.
pub fn import_legacy(registry: Option<&str>, log: Option<&str>) -> Imported {
    let mut registry = registry.map(Registry::parse).unwrap_or_else(|| Registry {
        v: crate::control::registry::REGISTRY_FORMAT,
        ..Registry::default()
    });
    let legacy: Vec<LegacyEntry> = log
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let entries: Vec<LogEntry> = legacy
        .into_iter()
        .rev()
        .zip(1..)
        .map(|(e, seq)| LogEntry {
            seq,
            at: e.at,
            token: e.token,
            urls: e.urls,
            prefixes: e.prefixes,
            tags: e.tags,
            all: e.all,
            soft: e.soft,
        })
        .collect();
    let holds_anything =
        !registry.records.is_empty() || registry.floor > 0 || registry.soft_floor > 0;
    registry.seq = (entries.len() as u64).max(u64::from(holds_anything));
    Imported { registry, entries }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::registry::Standing;

    fn command(json: &str, at: i64) -> PurgeCommand {
        PurgeCommand {
            request: PurgeRequest::parse(json).unwrap(),
            token: "ci".into(),
            at,
        }
    }

    #[test]
    fn each_purge_takes_the_next_sequence_number() {
        let first = apply_purge(None, &command(r#"{"tags": ["a"]}"#, 1000), 1000);
        assert_eq!((first.registry.seq, first.entry.seq), (1, 1));
        let stored = serde_json::to_string(&first.registry).unwrap();
        let second = apply_purge(Some(&stored), &command(r#"{"tags": ["b"]}"#, 1000), 900);
        assert_eq!((second.registry.seq, second.entry.seq), (2, 2));
        assert_eq!(second.registry.records.len(), 2, "both purges are kept");
        assert_eq!(
            second
                .registry
                .standing("https://x.test/", &["a".into()], 999),
            Standing::Purged
        );
        assert_eq!(second.entry.tags, vec!["b"]);
        assert_eq!(second.entry.token, "ci");
    }

    #[test]
    fn a_purge_is_timed_by_the_later_clock_and_never_before_the_last_purge() {
        let ahead = apply_purge(None, &command(r#"{"all": true}"#, 1000), 5000);
        assert_eq!(ahead.entry.at, 5000, "the object's clock is ahead");
        let stored = serde_json::to_string(&ahead.registry).unwrap();
        let behind = apply_purge(Some(&stored), &command(r#"{"tags": ["t"]}"#, 3000), 2000);
        assert_eq!(behind.entry.at, 5000, "not before the last purge");
        let worker_ahead = apply_purge(None, &command(r#"{"tags": ["t"]}"#, 7000), 2000);
        assert_eq!(worker_ahead.entry.at, 7000);
    }

    #[test]
    fn the_log_keeps_the_last_ten_thousand_entries() {
        let stored = serde_json::to_string(&Registry {
            v: crate::control::registry::REGISTRY_FORMAT,
            seq: LOG_KEEP + 41,
            ..Registry::default()
        })
        .unwrap();
        let applied = apply_purge(Some(&stored), &command(r#"{"tags": ["t"]}"#, 1), 1);
        assert_eq!(applied.entry.seq, LOG_KEEP + 42);
        assert_eq!(applied.prune_through, 42);
        let early = apply_purge(None, &command(r#"{"tags": ["t"]}"#, 1), 1);
        assert_eq!(early.prune_through, 0);
    }

    #[test]
    fn pages_are_read_newest_first_with_a_cursor() {
        let page = Page::parse(None, None).unwrap();
        assert_eq!(
            page,
            Page {
                before: u64::MAX,
                limit: PAGE_DEFAULT
            }
        );
        let page = Page::parse(Some("50"), Some("3")).unwrap();
        assert_eq!(page.next(&[49, 48, 47]), Some(47));
        assert_eq!(page.next(&[49, 48]), None, "a short page is the last");
        assert_eq!(page.next(&[3, 2, 1]), None, "nothing comes before 1");
        assert_eq!(
            Page::parse(None, Some("0")).unwrap_err(),
            "limit: must be 1 to 1000"
        );
        assert_eq!(
            Page::parse(None, Some("1001")).unwrap_err(),
            "limit: must be 1 to 1000"
        );
        assert_eq!(
            Page::parse(Some("x"), None).unwrap_err(),
            "before: \"x\" is not a whole number"
        );
    }

    #[test]
    fn a_kv_registry_and_purge_log_are_imported_in_order() {
        let mut registry = Registry::default();
        registry.add(&PurgeRequest::parse(r#"{"tags": ["old"]}"#).unwrap(), 10);
        let registry = serde_json::to_string(&Registry {
            v: crate::control::registry::REGISTRY_FORMAT,
            ..registry
        })
        .unwrap();
        let log = r#"[{"at": 20, "token": "b", "urls": [], "prefixes": [], "tags": ["new"], "all": false, "soft": true, "removed_from_memory": 0},
                      {"at": 10, "token": "a", "urls": [], "prefixes": [], "tags": ["old"], "all": false, "soft": false, "removed_from_memory": 2}]"#;
        let imported = import_legacy(Some(&registry), Some(log));
        assert_eq!(imported.registry.seq, 2);
        assert_eq!(
            imported
                .entries
                .iter()
                .map(|e| (e.seq, e.token.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "a"), (2, "b")]
        );
        assert!(imported.entries[1].soft);
        assert_eq!(
            imported
                .registry
                .standing("https://x.test/", &["old".into()], 5),
            Standing::Purged
        );
    }

    #[test]
    fn a_registry_without_a_log_still_gets_a_sequence_number() {
        let registry = r#"{"v": 1, "floor": 99, "records": []}"#;
        let imported = import_legacy(Some(registry), None);
        assert_eq!(imported.registry.seq, 1, "so that every isolate reads it");
        assert!(imported.entries.is_empty());
        let nothing = import_legacy(None, Some("not json"));
        assert_eq!(nothing.registry.seq, 0);
        assert!(nothing.entries.is_empty());
    }
}
