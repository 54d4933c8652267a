//! Request counters for `/_edgecache/stats`. Each isolate counts its requests per minute and
//! per route, host and backend (a `Delta`), and sends what it counted to the control plane,
//! which keeps one row per minute and name for a day; `Report` reads its sums back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::status::{Fwd, Outcome, Reason};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Served fresh from storage, or from another request's fetch (collapsed).
    pub hits: u64,
    /// Served stale from storage (stale-while-revalidate, max-stale, stale-if-error).
    pub stale: u64,
    /// Went to the origin for an answer the cache could have held.
    pub misses: u64,
    /// Never looked up: bypass routes, uncacheable methods, configuration errors.
    pub bypasses: u64,
    pub bytes_from_cache: u64,
    /// Why requests were bypassed or answers not stored.
    #[serde(default)]
    pub reasons: BTreeMap<String, u64>,
}

impl Counters {
    pub fn add(&mut self, other: &Counters) {
        self.hits += other.hits;
        self.stale += other.stale;
        self.misses += other.misses;
        self.bypasses += other.bypasses;
        self.bytes_from_cache += other.bytes_from_cache;
        for (reason, n) in &other.reasons {
            *self.reasons.entry(reason.clone()).or_default() += n;
        }
    }

    /// Share of cacheable requests answered from storage.
    pub fn hit_ratio(&self) -> f64 {
        let served = self.hits + self.stale;
        let total = served + self.misses;
        if total == 0 {
            0.0
        } else {
            served as f64 / total as f64
        }
    }
}

/// How one outcome counts.
enum Kind {
    Hit,
    Stale,
    Miss,
    Bypass,
}

fn classify(outcome: &Outcome) -> (Kind, Option<&'static str>) {
    match outcome {
        Outcome::Hit { stale: None, .. } => (Kind::Hit, None),
        Outcome::Hit { stale: Some(_), .. } => (Kind::Stale, None),
        Outcome::Forward {
            collapsed: true, ..
        } => (Kind::Hit, None),
        Outcome::Forward {
            fwd: Fwd::Stale,
            reason: Some(Reason::StaleIfError),
            ..
        } => (Kind::Stale, None),
        Outcome::Forward {
            fwd: Fwd::Bypass,
            reason,
            ..
        } => (Kind::Bypass, reason.map(Reason::as_str)),
        Outcome::Forward {
            fwd: Fwd::Method, ..
        } => (Kind::Bypass, Some("method")),
        Outcome::Forward { reason, .. } => (Kind::Miss, reason.map(Reason::as_str)),
    }
}

/// Milliseconds in a minute: the unit of every count kept.
pub const MINUTE_MS: i64 = 60_000;
/// Minutes in the short window (the last hour, this minute included).
pub const HOUR_MINUTES: i64 = 60;
/// Minutes kept by the control plane (a day).
pub const DAY_MINUTES: i64 = 1_440;

/// What a row counts requests by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// The matching route's path pattern, or `default`: every request counts under one.
    Route,
    /// The request's host.
    Host,
    /// The tier a hit came from (hits only).
    Backend,
}

/// The counts of one minute for one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Start of the minute, milliseconds since the epoch.
    pub minute: i64,
    pub kind: Dimension,
    pub name: String,
    #[serde(flatten)]
    pub counters: Counters,
}

/// The start of the minute holding `ms`.
pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(MINUTE_MS)
}

/// Hosts counted by name per minute; requests for further hosts count under `OTHER_HOSTS`.
/// A wildcard route (`*.example.com/*`) lets any client choose the host, so without a bound
/// one client could fill the control plane's storage with a row per made-up host.
pub const MAX_HOSTS_PER_MINUTE: usize = 64;
/// Where requests for hosts past `MAX_HOSTS_PER_MINUTE` are counted.
pub const OTHER_HOSTS: &str = "(other hosts)";

/// What an isolate has counted since it last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    cells: BTreeMap<(i64, Dimension, String), Counters>,
}

impl Delta {
    /// Counts one request on `route` (its pattern, or `default`) for `host`, with `bytes`
    /// served from storage.
    pub fn record(&mut self, route: &str, host: &str, outcome: &Outcome, bytes: u64, now_ms: i64) {
        let (kind, reason) = classify(outcome);
        let minute = minute_of(now_ms);
        let host = self.host_name(minute, host);
        let mut names = vec![(Dimension::Route, route), (Dimension::Host, host)];
        if let Outcome::Hit { tier, .. } = outcome {
            names.push((Dimension::Backend, tier.as_str()));
        }
        for (dimension, name) in names {
            let c = self
                .cells
                .entry((minute, dimension, name.to_string()))
                .or_default();
            match kind {
                Kind::Hit => c.hits += 1,
                Kind::Stale => c.stale += 1,
                Kind::Miss => c.misses += 1,
                Kind::Bypass => c.bypasses += 1,
            }
            if matches!(kind, Kind::Hit | Kind::Stale) {
                c.bytes_from_cache += bytes;
            }
            if let Some(reason) = reason {
                *c.reasons.entry(reason.to_string()).or_default() += 1;
            }
        }
    }

    /// `host`, or `OTHER_HOSTS` when `minute` already counts `MAX_HOSTS_PER_MINUTE` others.
    fn host_name<'a>(&self, minute: i64, host: &'a str) -> &'a str {
        let cell = (minute, Dimension::Host, host.to_string());
        if self.cells.contains_key(&cell) {
            return host;
        }
        let counted = self
            .cells
            .range((minute, Dimension::Host, String::new())..)
            .take_while(|((m, d, _), _)| *m == minute && *d == Dimension::Host)
            .count();
        if counted >= MAX_HOSTS_PER_MINUTE {
            OTHER_HOSTS
        } else {
            host
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Adds counts that could not be reported (a failed send) back in.
    pub fn merge(&mut self, other: Delta) {
        for (cell, counters) in other.cells {
            self.cells.entry(cell).or_default().add(&counters);
        }
    }

    /// Forgets minutes the control plane no longer keeps, so that counts held back while it
    /// cannot be reached take bounded memory.
    pub fn forget_before(&mut self, now_ms: i64) {
        let oldest = minute_of(now_ms) - (DAY_MINUTES - 1) * MINUTE_MS;
        self.cells.retain(|(minute, _, _), _| *minute >= oldest);
    }

    pub fn rows(&self) -> Vec<Row> {
        self.cells
            .iter()
            .map(|((minute, kind, name), counters)| Row {
                minute: *minute,
                kind: *kind,
                name: name.clone(),
                counters: counters.clone(),
            })
            .collect()
    }
}

/// Where the two windows start: the last hour's and the last day's first minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    pub hour_from: i64,
    pub day_from: i64,
}

impl Windows {
    pub fn at(now_ms: i64) -> Windows {
        let minute = minute_of(now_ms);
        Windows {
            hour_from: minute - (HOUR_MINUTES - 1) * MINUTE_MS,
            day_from: minute - (DAY_MINUTES - 1) * MINUTE_MS,
        }
    }
}

/// One minute's counts over every route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteTotals {
    pub minute: i64,
    pub hits: u64,
    pub stale: u64,
    pub misses: u64,
    pub bypasses: u64,
}

/// The control plane's sums: per name over each window (`minute` unused), and per minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sums {
    pub hour: Vec<Row>,
    pub day: Vec<Row>,
    pub minutes: Vec<MinuteTotals>,
}

fn with_ratio(c: &Counters) -> Value {
    let mut value = serde_json::to_value(c).unwrap_or_default();
    value["hit_ratio"] = json!(c.hit_ratio());
    value
}

/// One window: its total (the sum of its routes, as every request has one) and its counts
/// per route, host and backend.
fn window(rows: &[Row]) -> Value {
    let mut total = Counters::default();
    let mut by: [BTreeMap<&str, Counters>; 3] = Default::default();
    for row in rows {
        let index = match row.kind {
            Dimension::Route => {
                total.add(&row.counters);
                0
            }
            Dimension::Host => 1,
            Dimension::Backend => 2,
        };
        by[index].entry(&row.name).or_default().add(&row.counters);
    }
    let [routes, hosts, backends] = by.map(|names| {
        names
            .iter()
            .map(|(name, c)| (name.to_string(), with_ratio(c)))
            .collect::<Map<String, Value>>()
    });
    json!({ "total": with_ratio(&total), "routes": routes, "hosts": hosts, "backends": backends })
}

/// `/stats`'s answer: the last hour and the last day, per route, host and backend; at the top
/// level the day's figures (as `/stats` has always answered) and the day's minutes.
pub fn report(sums: &Sums) -> Value {
    let hour = window(&sums.hour);
    let day = window(&sums.day);
    let minutes: Vec<Value> = sums
        .minutes
        .iter()
        .map(|m| json!({ "at": m.minute, "hits": m.hits + m.stale, "stale": m.stale, "misses": m.misses, "bypasses": m.bypasses }))
        .collect();
    json!({
        "since": sums.minutes.first().map(|m| m.minute),
        "total": day["total"],
        "routes": day["routes"],
        "hosts": day["hosts"],
        "backends": day["backends"],
        "hour": hour,
        "day": day,
        "minutes": minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backend;

    const NOW: i64 = 1_700_000_000_000;

    fn hit(tier: Backend) -> Outcome {
        Outcome::Hit {
            ttl: 5,
            tier,
            stale: None,
        }
    }

    fn find<'a>(rows: &'a [Row], kind: Dimension, name: &str) -> Vec<&'a Row> {
        rows.iter()
            .filter(|r| r.kind == kind && r.name == name)
            .collect()
    }

    #[test]
    fn outcomes_are_counted_per_minute_route_host_and_backend() {
        let mut delta = Delta::default();
        delta.record("/static/**", "a.test", &hit(Backend::Memory), 100, NOW);
        delta.record("/static/**", "a.test", &hit(Backend::Memory), 100, NOW + 1);
        let private = Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::Private));
        delta.record("/static/**", "b.test", &private, 0, NOW);
        let bypass = Outcome::bypass(Reason::RouteBypass);
        delta.record("default", "a.test", &bypass, 0, NOW + MINUTE_MS);
        let rows = delta.rows();
        let route = find(&rows, Dimension::Route, "/static/**");
        assert_eq!(route.len(), 1, "one minute");
        let c = &route[0].counters;
        assert_eq!((c.hits, c.misses, c.bytes_from_cache), (2, 1, 200));
        assert_eq!(c.reasons["private"], 1);
        assert_eq!(route[0].minute, minute_of(NOW));
        assert_eq!(
            find(&rows, Dimension::Host, "a.test").len(),
            2,
            "two minutes"
        );
        assert_eq!(find(&rows, Dimension::Host, "b.test")[0].counters.misses, 1);
        assert_eq!(
            find(&rows, Dimension::Backend, "memory")[0].counters.hits,
            2
        );
        let default = find(&rows, Dimension::Route, "default");
        assert_eq!(default[0].counters.reasons["route-bypass"], 1);
        assert_eq!(default[0].minute, minute_of(NOW) + MINUTE_MS);
    }

    #[test]
    fn unsent_counts_are_merged_back_and_forgotten_after_a_day() {
        let mut sent = Delta::default();
        sent.record("default", "a.test", &hit(Backend::Kv), 10, NOW);
        let mut pending = Delta::default();
        pending.record("default", "a.test", &hit(Backend::Kv), 10, NOW);
        pending.merge(sent);
        let rows = pending.rows();
        assert_eq!(find(&rows, Dimension::Route, "default")[0].counters.hits, 2);
        pending.forget_before(NOW + (DAY_MINUTES - 1) * MINUTE_MS);
        assert!(!pending.is_empty(), "still within the day");
        pending.forget_before(NOW + DAY_MINUTES * MINUTE_MS);
        assert!(pending.is_empty());
    }

    #[test]
    fn windows_start_an_hour_and_a_day_of_minutes_back() {
        let w = Windows::at(NOW);
        assert_eq!(minute_of(NOW) - w.hour_from, 59 * MINUTE_MS);
        assert_eq!(minute_of(NOW) - w.day_from, 1439 * MINUTE_MS);
    }

    #[test]
    fn the_report_sums_routes_into_totals_per_window() {
        let mut delta = Delta::default();
        delta.record("/a", "a.test", &hit(Backend::Memory), 5, NOW);
        delta.record("/a", "a.test", &hit(Backend::Memory), 5, NOW);
        let miss = Outcome::forward(Fwd::Miss, Some(200), true, None);
        delta.record("/b", "b.test", &miss, 0, NOW);
        let mut old = Delta::default();
        old.record("/b", "b.test", &miss, 0, NOW - 2 * 3_600_000);
        let sums = Sums {
            hour: delta.rows(),
            day: {
                let mut day = delta.clone();
                day.merge(old);
                day.rows()
            },
            minutes: vec![MinuteTotals {
                minute: minute_of(NOW),
                hits: 2,
                stale: 1,
                misses: 1,
                bypasses: 0,
            }],
        };
        let report = report(&sums);
        assert_eq!(report["hour"]["total"]["hits"], 2);
        assert_eq!(report["hour"]["total"]["misses"], 1);
        assert_eq!(
            report["day"]["total"]["misses"], 2,
            "the rows of both minutes"
        );
        assert_eq!(report["total"], report["day"]["total"]);
        assert_eq!(report["hour"]["hosts"]["a.test"]["hits"], 2);
        assert_eq!(report["day"]["routes"]["/b"]["misses"], 2);
        assert_eq!(report["backends"]["memory"]["hits"], 2);
        let ratio = report["hour"]["total"]["hit_ratio"].as_f64().unwrap();
        assert!((ratio - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            report["minutes"][0]["hits"], 3,
            "stale answers count as served"
        );
        assert_eq!(report["since"], minute_of(NOW));
    }

    #[test]
    fn made_up_hosts_past_the_bound_count_as_one() {
        let mut delta = Delta::default();
        let hit = Outcome::Hit {
            ttl: 1,
            tier: crate::config::Backend::Memory,
            stale: None,
        };
        for n in 0..500 {
            delta.record("default", &format!("h{n}.example.com"), &hit, 0, 60_000);
        }
        delta.record("default", "h3.example.com", &hit, 0, 60_000);
        let hosts: Vec<Row> = delta
            .rows()
            .into_iter()
            .filter(|r| r.kind == Dimension::Host)
            .collect();
        assert_eq!(hosts.len(), MAX_HOSTS_PER_MINUTE + 1);
        let other = hosts.iter().find(|r| r.name == OTHER_HOSTS).unwrap();
        assert_eq!(other.counters.hits, 500 - MAX_HOSTS_PER_MINUTE as u64);
        let h3 = hosts.iter().find(|r| r.name == "h3.example.com").unwrap();
        assert_eq!(h3.counters.hits, 2, "a host already counted keeps its row");
        delta.record("default", "new.example.com", &hit, 0, 120_000);
        assert!(
            delta.rows().iter().any(|r| r.name == "new.example.com"),
            "a new minute, a new bound"
        );
    }
}
