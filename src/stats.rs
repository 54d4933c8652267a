//! Request counters for `/_edgecache/stats`: per route, per backend, and per minute, counted
//! in each isolate and summed across isolates when asked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::{Fwd, Outcome, Reason};

/// Minutes of history kept for the hit-ratio chart.
pub const MINUTES_KEPT: usize = 60;

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
    fn add(&mut self, other: &Counters) {
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minute {
    /// Start of the minute, milliseconds since the epoch.
    pub at: i64,
    pub hits: u64,
    pub misses: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub since: i64,
    pub total: Counters,
    pub routes: BTreeMap<String, Counters>,
    pub backends: BTreeMap<String, Counters>,
    pub minutes: Vec<Minute>,
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

impl Stats {
    pub fn new(now_ms: i64) -> Stats {
        Stats {
            since: now_ms,
            ..Stats::default()
        }
    }

    /// Counts one request on `route` (its pattern, or `default`), with `bytes` served from
    /// storage.
    pub fn record(&mut self, route: &str, outcome: &Outcome, bytes: u64, now_ms: i64) {
        let (kind, reason) = classify(outcome);
        let tier = match outcome {
            Outcome::Hit { tier, .. } => Some(tier.as_str()),
            _ => None,
        };
        let mut counters = vec![&mut self.total];
        let route_counters = self.routes.entry(route.to_string()).or_default();
        counters.push(route_counters);
        let backend_counters = tier.map(|t| self.backends.entry(t.to_string()).or_default());
        counters.extend(backend_counters);
        for c in counters {
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
        let (hit, miss) = match kind {
            Kind::Hit | Kind::Stale => (1, 0),
            Kind::Miss => (0, 1),
            Kind::Bypass => (0, 0),
        };
        self.count_minute(Minute {
            at: now_ms - now_ms.rem_euclid(60_000),
            hits: hit,
            misses: miss,
        });
    }

    fn count_minute(&mut self, minute: Minute) {
        match self.minutes.iter_mut().find(|m| m.at == minute.at) {
            Some(m) => {
                m.hits += minute.hits;
                m.misses += minute.misses;
            }
            None => {
                self.minutes.push(minute);
                self.minutes.sort_by_key(|m| m.at);
                let excess = self.minutes.len().saturating_sub(MINUTES_KEPT);
                self.minutes.drain(..excess);
            }
        }
    }

    /// Adds another isolate's counts.
    pub fn merge(&mut self, other: &Stats) {
        self.since = if self.since == 0 {
            other.since
        } else {
            self.since.min(other.since)
        };
        self.total.add(&other.total);
        for (route, c) in &other.routes {
            self.routes.entry(route.clone()).or_default().add(c);
        }
        for (backend, c) in &other.backends {
            self.backends.entry(backend.clone()).or_default().add(c);
        }
        for minute in &other.minutes {
            self.count_minute(*minute);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backend;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn outcomes_are_counted_per_route_backend_and_minute() {
        let mut stats = Stats::new(NOW);
        let hit = Outcome::Hit {
            ttl: 5,
            tier: Backend::Memory,
            stale: None,
        };
        stats.record("/static/**", &hit, 100, NOW);
        stats.record("/static/**", &hit, 100, NOW + 1);
        stats.record(
            "/static/**",
            &Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::Private)),
            0,
            NOW,
        );
        stats.record(
            "default",
            &Outcome::bypass(Reason::RouteBypass),
            0,
            NOW + 61_000,
        );
        assert_eq!(stats.total.hits, 2);
        assert_eq!(stats.total.misses, 1);
        assert_eq!(stats.total.bypasses, 1);
        assert_eq!(stats.total.bytes_from_cache, 200);
        assert_eq!(stats.routes["/static/**"].reasons["private"], 1);
        assert_eq!(stats.backends["memory"].hits, 2);
        assert!((stats.routes["/static/**"].hit_ratio() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(stats.minutes.len(), 2);
        assert_eq!((stats.minutes[0].hits, stats.minutes[0].misses), (2, 1));
    }

    #[test]
    fn isolates_are_summed() {
        let mut a = Stats::new(NOW);
        let mut b = Stats::new(NOW - 5);
        a.record(
            "default",
            &Outcome::Hit {
                ttl: 1,
                tier: Backend::Kv,
                stale: None,
            },
            10,
            NOW,
        );
        b.record(
            "default",
            &Outcome::Hit {
                ttl: 1,
                tier: Backend::Kv,
                stale: Some(Reason::MaxStale),
            },
            10,
            NOW,
        );
        a.merge(&b);
        assert_eq!((a.total.hits, a.total.stale), (1, 1));
        assert_eq!(a.since, NOW - 5);
        assert_eq!(
            a.minutes,
            vec![Minute {
                at: NOW - NOW.rem_euclid(60_000),
                hits: 2,
                misses: 0
            }]
        );
    }

    #[test]
    fn only_the_last_hour_is_kept() {
        let mut stats = Stats::new(NOW);
        for i in 0..100 {
            stats.record(
                "default",
                &Outcome::forward(Fwd::Miss, Some(200), true, None),
                0,
                NOW + i * 60_000,
            );
        }
        assert_eq!(stats.minutes.len(), MINUTES_KEPT);
        assert_eq!(stats.total.misses, 100);
    }
}
