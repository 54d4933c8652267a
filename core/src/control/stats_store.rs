//! How the control plane keeps the stats for a day in bounded space. Per minute it keeps the
//! exact totals (a `Counters` each, 1,440 at most); per dimension it keeps the names with the
//! most requests (`stats::Names`, `stats::LIMITS`): one sketch per minute for the last hour,
//! folded into one per hour once older, for a day. Whatever the traffic, the object holds at
//! most 85 sketches per dimension (60 minutes, 25 hours): 5,440 names and 340 KiB of names a
//! day per dimension. The object (the glue crate's `control/object.rs`) stores what these
//! functions write, through `StatsStorage` (`control/tables.rs`), in one SQLite transaction per
//! report.

use serde::{Deserialize, Serialize};

use crate::control::origin_times::OriginTimes;
use crate::control::stats::{
    minute_of, Bucket, Counters, Dimension, MinuteTotals, Names, OriginMinute, Sums, Window,
    Windows, LIMITS, MINUTE_MS,
};
use crate::control::why::{NotStored, KEPT};

/// Milliseconds in an hour: the span of a sketch older than an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Later than any time kept.
const FOREVER: i64 = 1 << 53;
/// The kind under which the exact per-minute totals are kept.
const TOTAL: &str = "total";
/// The kind under which each minute's origin requests are kept.
const ORIGIN: &str = "origin";

/// A storage error, as the object's SQLite reported it: the report is not taken (its
/// transaction is rolled back) and the isolate sends its counts again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsStorageError(pub String);

impl std::fmt::Display for StatsStorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stats storage: {}", self.0)
    }
}

/// What the object keeps: JSON bodies by kind, span (ms) and start (ms since the epoch).
pub trait StatsStorage {
    /// The bodies of `kind` and `span` starting in `from..to`, oldest first, with their start.
    fn scan(
        &mut self,
        kind: &str,
        span: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, String)>, StatsStorageError>;
    fn put(
        &mut self,
        kind: &str,
        span: i64,
        start: i64,
        body: &str,
    ) -> Result<(), StatsStorageError>;
    /// Deletes the bodies of `kind` and `span` starting in `from..to`.
    fn delete(
        &mut self,
        kind: &str,
        span: i64,
        from: i64,
        to: i64,
    ) -> Result<(), StatsStorageError>;
    /// Keeps `body` as key `id`'s note (`why`), written at `at`, over an older one.
    fn remember(&mut self, id: i64, at: i64, body: &str) -> Result<(), StatsStorageError>;
    /// Key `id`'s note.
    fn recall(&mut self, id: i64) -> Result<Option<String>, StatsStorageError>;
    /// Deletes the notes written before `before`, then the oldest until `keep` are left.
    fn forget_notes(&mut self, keep: usize, before: i64) -> Result<(), StatsStorageError>;
}

/// What an isolate sends: its counts and, to read the sums, the windows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsReport {
    #[serde(default)]
    pub buckets: Vec<Bucket>,
    /// The origin requests the isolate sent, per minute.
    #[serde(default)]
    pub origin: Vec<OriginMinute>,
    /// Why keys were last not stored (`why`), by key id.
    #[serde(default)]
    pub why: Vec<(i64, NotStored)>,
    #[serde(default)]
    pub read: Option<Windows>,
    /// With `read`: the key id whose note to answer (`Sums::why`).
    #[serde(default)]
    pub why_of: Option<i64>,
}

/// The start of the hour holding `ms`.
fn hour_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

fn load<T: for<'de> Deserialize<'de> + Default>(
    store: &mut dyn StatsStorage,
    kind: &str,
    span: i64,
    start: i64,
) -> Result<T, StatsStorageError> {
    let found = store.scan(kind, span, start, start + 1)?;
    // A body that does not read (written by another version) counts as nothing.
    Ok(found
        .first()
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or_default())
}

fn save<T: Serialize>(
    store: &mut dyn StatsStorage,
    kind: &str,
    span: i64,
    start: i64,
    value: &T,
) -> Result<(), StatsStorageError> {
    let body = serde_json::to_string(value).map_err(|e| StatsStorageError(e.to_string()))?;
    store.put(kind, span, start, &body)
}

/// Adds an isolate's buckets, on the object's clock `now`: each minute's totals (from its
/// routes, as every request has one), and each dimension's names into its minute's sketch, or
/// its hour's when the minute is over an hour old; minutes an hour old are folded into their
/// hour, and what is over a day old is deleted.
pub fn add(
    store: &mut dyn StatsStorage,
    buckets: &[Bucket],
    now: i64,
) -> Result<(), StatsStorageError> {
    add_report(
        store,
        &StatsReport {
            buckets: buckets.to_vec(),
            ..StatsReport::default()
        },
        now,
    )
}

/// `add`, with the report's origin requests (into their minute's row, a day kept) and its
/// notes (the newest per key, `why::KEPT` keys and a day at most).
fn add_report(
    store: &mut dyn StatsStorage,
    report: &StatsReport,
    now: i64,
) -> Result<(), StatsStorageError> {
    let windows = Windows::at(now);
    for origin in &report.origin {
        let minute = minute_of(origin.minute);
        if minute < windows.day_from {
            continue;
        }
        let mut times: OriginTimes = load(store, ORIGIN, MINUTE_MS, minute)?;
        times.add(&origin.times);
        save(store, ORIGIN, MINUTE_MS, minute, &times)?;
    }
    store.delete(ORIGIN, MINUTE_MS, 0, windows.day_from)?;
    for (id, note) in &report.why {
        if note.at < windows.day_from {
            continue;
        }
        let body = serde_json::to_string(note).map_err(|e| StatsStorageError(e.to_string()))?;
        store.remember(*id, note.at, &body)?;
    }
    if !report.why.is_empty() {
        store.forget_notes(KEPT, windows.day_from)?;
    }
    let buckets = &report.buckets;
    for bucket in buckets {
        let minute = minute_of(bucket.minute);
        if minute < windows.day_from {
            continue;
        }
        if bucket.kind == Dimension::Route {
            let mut total: Counters = load(store, TOTAL, MINUTE_MS, minute)?;
            total.add(&bucket.names.total());
            save(store, TOTAL, MINUTE_MS, minute, &total)?;
        }
        let (span, start) = if minute >= windows.hour_from {
            (MINUTE_MS, minute)
        } else {
            (HOUR_MS, hour_of(minute))
        };
        let kind = bucket.kind.as_str();
        let mut names: Names = load(store, kind, span, start)?;
        names.merge(&bucket.names, LIMITS);
        save(store, kind, span, start, &names)?;
    }
    for dimension in Dimension::ALL {
        let kind = dimension.as_str();
        for (minute, body) in store.scan(kind, MINUTE_MS, 0, windows.hour_from)? {
            let Ok(old) = serde_json::from_str::<Names>(&body) else {
                continue;
            };
            let mut hour: Names = load(store, kind, HOUR_MS, hour_of(minute))?;
            hour.merge(&old, LIMITS);
            save(store, kind, HOUR_MS, hour_of(minute), &hour)?;
        }
        store.delete(kind, MINUTE_MS, 0, windows.hour_from)?;
        store.delete(kind, HOUR_MS, 0, hour_of(windows.day_from))?;
    }
    store.delete(TOTAL, MINUTE_MS, 0, windows.day_from)
}

/// The sums of `windows`: exact totals per window and minute, and per dimension the names
/// with the most requests (`LIMITS` of them at most, whatever was kept). The day's names are
/// kept per hour past the last hour, so its first hour counts whole: the day's names reach
/// back 24 hours and up to 59 minutes, its totals exactly 24 hours.
pub fn read(store: &mut dyn StatsStorage, windows: Windows) -> Result<Sums, StatsStorageError> {
    let mut sums = Sums::default();
    for (minute, body) in store.scan(TOTAL, MINUTE_MS, windows.day_from, FOREVER)? {
        let Ok(total) = serde_json::from_str::<Counters>(&body) else {
            continue;
        };
        if minute >= windows.hour_from {
            sums.hour.total.add(&total);
        }
        sums.day.total.add(&total);
        sums.minutes.push(MinuteTotals {
            minute,
            hits: total.hits,
            stale: total.stale,
            misses: total.misses,
            bypasses: total.bypasses,
        });
    }
    for (minute, body) in store.scan(ORIGIN, MINUTE_MS, windows.day_from, FOREVER)? {
        let Ok(times) = serde_json::from_str::<OriginTimes>(&body) else {
            continue;
        };
        if minute >= windows.hour_from {
            sums.origin_hour.add(&times);
        }
        sums.origin_day.add(&times);
    }
    for dimension in Dimension::ALL {
        let kind = dimension.as_str();
        let mut hour = Names::default();
        let mut day = Names::default();
        for (minute, body) in store.scan(kind, MINUTE_MS, windows.day_from, FOREVER)? {
            let Ok(names) = serde_json::from_str::<Names>(&body) else {
                continue;
            };
            if minute >= windows.hour_from {
                hour.merge(&names, LIMITS);
            }
            day.merge(&names, LIMITS);
        }
        for (_, body) in store.scan(kind, HOUR_MS, hour_of(windows.day_from), FOREVER)? {
            if let Ok(names) = serde_json::from_str::<Names>(&body) {
                day.merge(&names, LIMITS);
            }
        }
        put_window(&mut sums.hour, dimension, hour);
        put_window(&mut sums.day, dimension, day);
    }
    Ok(sums)
}

fn put_window(window: &mut Window, dimension: Dimension, names: Names) {
    if !names.is_empty() {
        window.names.insert(dimension, names);
    }
}

/// One report: adds its buckets and, when it asks, reads the sums. The answer is JSON: `{}`,
/// or the sums.
pub fn handle(
    store: &mut dyn StatsStorage,
    report: &StatsReport,
    now: i64,
) -> Result<String, StatsStorageError> {
    add_report(store, report, now)?;
    let Some(windows) = report.read else {
        return Ok("{}".into());
    };
    let mut sums = read(store, windows)?;
    if let Some(id) = report.why_of {
        sums.why = store
            .recall(id)?
            .and_then(|body| serde_json::from_str::<NotStored>(&body).ok())
            .filter(|note| note.at >= windows.day_from);
    }
    serde_json::to_string(&sums).map_err(|e| StatsStorageError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Backend;
    use crate::control::stats::Delta;
    use crate::status::{Fwd, Outcome, Reason};

    const NOW: i64 = 1_700_000_000_000;

    /// The object's tables, in memory.
    #[derive(Default)]
    struct Memory(
        BTreeMap<(String, i64, i64), String>,
        BTreeMap<i64, (i64, String)>,
    );

    impl StatsStorage for Memory {
        fn scan(
            &mut self,
            kind: &str,
            span: i64,
            from: i64,
            to: i64,
        ) -> Result<Vec<(i64, String)>, StatsStorageError> {
            let range = (kind.to_string(), span, from)..(kind.to_string(), span, to.max(from));
            Ok(self
                .0
                .range(range)
                .map(|((_, _, start), body)| (*start, body.clone()))
                .collect())
        }
        fn put(
            &mut self,
            kind: &str,
            span: i64,
            start: i64,
            body: &str,
        ) -> Result<(), StatsStorageError> {
            self.0.insert((kind.into(), span, start), body.into());
            Ok(())
        }
        fn delete(
            &mut self,
            kind: &str,
            span: i64,
            from: i64,
            to: i64,
        ) -> Result<(), StatsStorageError> {
            let range = (kind.to_string(), span, from)..(kind.to_string(), span, to.max(from));
            let gone: Vec<_> = self.0.range(range).map(|(key, _)| key.clone()).collect();
            for key in gone {
                self.0.remove(&key);
            }
            Ok(())
        }
        fn remember(&mut self, id: i64, at: i64, body: &str) -> Result<(), StatsStorageError> {
            if self.1.get(&id).is_none_or(|(held, _)| *held <= at) {
                self.1.insert(id, (at, body.into()));
            }
            Ok(())
        }
        fn recall(&mut self, id: i64) -> Result<Option<String>, StatsStorageError> {
            Ok(self.1.get(&id).map(|(_, body)| body.clone()))
        }
        fn forget_notes(&mut self, keep: usize, before: i64) -> Result<(), StatsStorageError> {
            self.1.retain(|_, (at, _)| *at >= before);
            while self.1.len() > keep {
                let oldest = self.1.iter().min_by_key(|(id, (at, _))| (*at, **id));
                let Some(oldest) = oldest.map(|(id, _)| *id) else {
                    break;
                };
                self.1.remove(&oldest);
            }
            Ok(())
        }
    }

    impl Memory {
        fn bytes(&self) -> usize {
            self.0.values().map(String::len).sum()
        }
    }

    fn hit() -> Outcome {
        Outcome::Hit {
            ttl: 5,
            tier: Backend::Memory,
            stale: None,
        }
    }

    fn host_names(sums: &Sums, hour: bool) -> &Names {
        let window = if hour { &sums.hour } else { &sums.day };
        &window.names[&Dimension::Host]
    }

    #[test]
    fn reports_from_isolates_add_up_per_window() {
        let mut store = Memory::default();
        let mut a = Delta::default();
        a.count("/a", "a.test", &hit(), 5, NOW);
        a.count("/a", "a.test", &hit(), 5, NOW);
        let mut b = Delta::default();
        let private = Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::Private));
        b.count("/b", "b.test", &private, 0, NOW - 2 * HOUR_MS);
        b.count("/b", "a.test", &private, 0, NOW);
        add(&mut store, &a.buckets(), NOW).unwrap();
        add(&mut store, &b.buckets(), NOW).unwrap();
        let sums = read(&mut store, Windows::at(NOW)).unwrap();
        assert_eq!(
            (sums.hour.total.hits, sums.hour.total.misses),
            (2, 1),
            "the minute two hours back is not in the hour"
        );
        assert_eq!(sums.day.total.misses, 2);
        assert_eq!(sums.day.total.reasons["private"], 2);
        let hosts = host_names(&sums, false);
        assert_eq!(hosts.names["a.test"].tally.hits, 2);
        assert_eq!(hosts.names["a.test"].tally.misses, 1);
        assert_eq!(hosts.names["b.test"].tally.misses, 1);
        assert_eq!(sums.minutes.len(), 2);
        let report = crate::control::stats::report(&sums);
        assert_eq!(report["hour"]["routes"]["/a"]["hits"], 2);
        assert_eq!(report["day"]["routes"]["/b"]["misses"], 2);
        assert_eq!(report["backends"]["memory"]["hits"], 2);
        assert_eq!(report["total"], report["day"]["total"]);
    }

    #[test]
    fn a_real_host_is_still_named_after_thousands_of_made_up_ones() {
        let mut store = Memory::default();
        // Two hours of an attack: each minute, 200 made-up hosts once each, and the real
        // host 20 times, reported by two isolates.
        for minute in 0..120 {
            let at = NOW - (119 - minute) * MINUTE_MS;
            for isolate in 0..2 {
                let mut delta = Delta::default();
                for n in 0..100 {
                    let host = format!("x{minute}-{isolate}-{n}.example.com");
                    delta.count("default", &host, &hit(), 0, at);
                }
                for _ in 0..10 {
                    delta.count("default", "www.example.com", &hit(), 0, at);
                }
                add(&mut store, &delta.buckets(), at).unwrap();
            }
        }
        let sums = read(&mut store, Windows::at(NOW)).unwrap();
        for hour in [true, false] {
            let hosts = host_names(&sums, hour);
            let real = &hosts.names["www.example.com"];
            let minutes = if hour { 60 } else { 120 };
            assert!(real.tally.hits <= minutes * 20 && real.bound() >= minutes * 20);
            assert!(hosts.names.len() <= LIMITS.names);
            assert_eq!(
                hosts.total().hits,
                minutes * 220,
                "every request is counted"
            );
        }
        let report = crate::control::stats::report(&sums);
        assert!(report["hosts"]["(other hosts)"]["hits"].as_u64().unwrap() > 0);
    }

    #[test]
    fn what_the_object_keeps_is_bounded_whatever_the_number_of_names() {
        let mut store = Memory::default();
        let mut sizes = Vec::new();
        // A day and two hours of 100 new long hosts every fifth minute: 31,200 names.
        for step in 0..(26 * 12) {
            let minute = step * 5;
            let at = NOW + minute * MINUTE_MS;
            let mut delta = Delta::default();
            for n in 0..100 {
                let host = format!("{minute}-{n}-{}.example.com", "y".repeat(200));
                delta.count("default", &host, &hit(), 0, at);
            }
            add(&mut store, &delta.buckets(), at).unwrap();
            sizes.push(store.bytes());
        }
        let hosts: Vec<_> = store.0.keys().filter(|(k, _, _)| k == "host").collect();
        assert!(hosts.len() <= 60 + 25, "{} host sketches", hosts.len());
        let names: usize = store
            .0
            .iter()
            .filter(|((k, _, _), _)| k == "host")
            .map(|(_, body)| serde_json::from_str::<Names>(body).unwrap().name_bytes())
            .sum();
        assert!(names <= 85 * LIMITS.bytes);
        let (after_a_day, at_the_end) = (sizes[24 * 12], sizes[sizes.len() - 1]);
        assert!(
            at_the_end <= after_a_day + after_a_day / 10,
            "no growth after a day: {after_a_day} then {at_the_end}"
        );
        let sums = read(&mut store, Windows::at(NOW + 26 * 60 * MINUTE_MS)).unwrap();
        let report = crate::control::stats::report(&sums).to_string();
        assert!(report.len() < 200_000, "/stats: {} bytes", report.len());
    }

    #[test]
    fn minutes_over_an_hour_old_are_folded_into_their_hour() {
        let mut store = Memory::default();
        let mut delta = Delta::default();
        delta.count("default", "a.test", &hit(), 0, NOW);
        add(&mut store, &delta.buckets(), NOW).unwrap();
        assert_eq!(store.scan("host", MINUTE_MS, 0, FOREVER).unwrap().len(), 1);
        add(&mut store, &[], NOW + 2 * HOUR_MS).unwrap();
        assert!(store
            .scan("host", MINUTE_MS, 0, FOREVER)
            .unwrap()
            .is_empty());
        assert_eq!(store.scan("host", HOUR_MS, 0, FOREVER).unwrap().len(), 1);
        let sums = read(&mut store, Windows::at(NOW + 2 * HOUR_MS)).unwrap();
        assert_eq!(host_names(&sums, false).names["a.test"].tally.hits, 1);
        assert!(!sums.hour.names.contains_key(&Dimension::Host));
        add(&mut store, &[], NOW + 26 * HOUR_MS).unwrap();
        assert!(store.0.is_empty(), "nothing is kept past a day");
    }

    #[test]
    fn a_late_report_goes_to_its_hour_and_one_older_than_a_day_is_dropped() {
        let mut store = Memory::default();
        let mut late = Delta::default();
        late.count("default", "a.test", &hit(), 0, NOW - 3 * HOUR_MS);
        late.count("default", "a.test", &hit(), 0, NOW - 30 * HOUR_MS);
        add(&mut store, &late.buckets(), NOW).unwrap();
        assert_eq!(store.scan("host", HOUR_MS, 0, FOREVER).unwrap().len(), 1);
        let sums = read(&mut store, Windows::at(NOW)).unwrap();
        assert_eq!(sums.day.total.hits, 1);
    }

    #[test]
    fn origin_requests_add_up_per_window_and_leave_after_a_day() {
        use crate::control::origin_times::OriginAnswer;
        let mut store = Memory::default();
        let mut delta = Delta::default();
        delta.record_origin(
            OriginAnswer::Status {
                ms: 40,
                status: 200,
            },
            NOW,
        );
        delta.record_origin(
            OriginAnswer::Status {
                ms: 40,
                status: 502,
            },
            NOW - 2 * HOUR_MS,
        );
        let report = StatsReport {
            origin: delta.origin_minutes(),
            read: Some(Windows::at(NOW)),
            ..StatsReport::default()
        };
        let sums: Sums = serde_json::from_str(&handle(&mut store, &report, NOW).unwrap()).unwrap();
        assert_eq!(
            (sums.origin_hour.requests, sums.origin_day.requests),
            (1, 2)
        );
        assert_eq!(sums.origin_day.server_errors, 1);
        let json = crate::control::stats::report(&sums);
        assert_eq!(json["hour"]["origin"]["p50_ms_at_most"], 50);
        assert_eq!(json["day"]["origin"]["errors"], 1);
        add(&mut store, &[], NOW + 25 * HOUR_MS).unwrap();
        assert!(store.0.is_empty(), "nothing is kept past a day");
    }

    #[test]
    fn the_newest_note_per_key_is_kept_for_a_bounded_number_of_keys() {
        use crate::control::why::{key_id, NotStored, KEPT};
        let mut store = Memory::default();
        let note = |reason: &str, at| NotStored {
            reason: reason.into(),
            how: "miss".into(),
            status: Some(200),
            at,
        };
        let id = key_id("v1://a.test/me");
        let first = StatsReport {
            why: vec![(id, note("private", NOW - 1_000))],
            ..StatsReport::default()
        };
        handle(&mut store, &first, NOW).unwrap();
        let later = StatsReport {
            why: vec![(id, note("set-cookie", NOW))],
            ..StatsReport::default()
        };
        handle(&mut store, &later, NOW).unwrap();
        let ask = StatsReport {
            read: Some(Windows::at(NOW)),
            why_of: Some(id),
            ..StatsReport::default()
        };
        let sums: Sums = serde_json::from_str(&handle(&mut store, &ask, NOW).unwrap()).unwrap();
        assert_eq!(sums.why, Some(note("set-cookie", NOW)));
        // A flood of other keys: at most KEPT are kept, the newest.
        let flood: Vec<_> = (0..(KEPT as i64 + 500))
            .map(|n| (n, note("route-bypass", NOW + 1 + n)))
            .collect();
        let report = StatsReport {
            why: flood,
            ..StatsReport::default()
        };
        handle(&mut store, &report, NOW + 10).unwrap();
        assert_eq!(store.1.len(), KEPT);
        let sums: Sums = serde_json::from_str(&handle(&mut store, &ask, NOW).unwrap()).unwrap();
        assert_eq!(sums.why, None, "the oldest note went");
        // Nothing older than a day is kept.
        handle(&mut store, &later, NOW + 25 * HOUR_MS).unwrap();
        assert!(store.1.is_empty());
    }
}
