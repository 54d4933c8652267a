//! How the origin answered: each origin request's time to its response headers in a
//! histogram of fixed buckets, and its failures (no answer in time, unreachable, a `5xx`).
//! Every isolate (the shield's too) counts the requests it sent itself, per minute; the
//! control plane keeps one per minute for a day. A fixed histogram adds up exactly across
//! isolates and minutes, in constant space (`BOUNDS_MS.len() + 1` counts), so the percentiles
//! read from it are the upper bound of the bucket they fall in: "at most".

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The buckets' upper bounds, milliseconds; a last bucket counts what took longer.
pub const BOUNDS_MS: [u64; 11] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
];

/// How one origin request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginAnswer {
    /// Its headers came after `ms`, with `status`.
    Status { ms: u64, status: u16 },
    /// No headers within the deadline.
    Timeout,
    /// Refused, reset or unresolvable.
    Unreachable,
}

/// Origin requests counted over some span.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginTimes {
    /// Every origin request sent, answered or not.
    #[serde(default)]
    pub requests: u64,
    /// Answered requests per bucket of `BOUNDS_MS` (and one past the last bound).
    #[serde(default)]
    pub buckets: Vec<u64>,
    /// Milliseconds waited for the answered requests' headers, all together.
    #[serde(default)]
    pub total_ms: u64,
    #[serde(default)]
    pub timeouts: u64,
    #[serde(default)]
    pub unreachable: u64,
    /// Answers with a `5xx` status (RFC 9110 §15.6: the server failed).
    #[serde(default)]
    pub server_errors: u64,
}

impl OriginTimes {
    pub fn count(&mut self, answered: OriginAnswer) {
        self.requests += 1;
        match answered {
            OriginAnswer::Status { ms, status } => {
                self.buckets.resize(BOUNDS_MS.len() + 1, 0);
                let at = BOUNDS_MS
                    .iter()
                    .position(|&bound| ms <= bound)
                    .unwrap_or(BOUNDS_MS.len());
                self.buckets[at] += 1;
                self.total_ms = self.total_ms.saturating_add(ms);
                if status >= 500 {
                    self.server_errors += 1;
                }
            }
            OriginAnswer::Timeout => self.timeouts += 1,
            OriginAnswer::Unreachable => self.unreachable += 1,
        }
    }

    pub fn add(&mut self, other: &OriginTimes) {
        self.requests += other.requests;
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.total_ms = self.total_ms.saturating_add(other.total_ms);
        self.timeouts += other.timeouts;
        self.unreachable += other.unreachable;
        self.server_errors += other.server_errors;
    }

    pub fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// Requests that got an answer (headers) from the origin.
    pub fn answered(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound (ms) of the bucket holding the `q` quantile of the answered requests'
    /// times; `None` without any, or when it is past the last bound (longer than 30 s).
    pub fn quantile_at_most(&self, q: f64) -> Option<u64> {
        let answered = self.answered();
        if answered == 0 {
            return None;
        }
        // The rank of the quantile, 1-based: the smallest n with n / answered >= q.
        let rank = ((q * answered as f64).ceil() as u64).clamp(1, answered);
        let mut seen = 0;
        for (at, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return BOUNDS_MS.get(at).copied();
            }
        }
        None
    }

    /// As `/stats` gives it: the counts, the median and 95th percentile as "at most" bounds,
    /// the mean, and the histogram with its bounds.
    pub fn report(&self) -> Value {
        let answered = self.answered();
        let mean = (answered > 0).then(|| self.total_ms as f64 / answered as f64);
        let buckets: Vec<Value> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(at, n)| json!({ "le_ms": BOUNDS_MS.get(at), "requests": n }))
            .collect();
        json!({
            "requests": self.requests,
            "answered": answered,
            "p50_ms_at_most": self.quantile_at_most(0.5),
            "p95_ms_at_most": self.quantile_at_most(0.95),
            "mean_ms": mean,
            "timeouts": self.timeouts,
            "unreachable": self.unreachable,
            "server_errors": self.server_errors,
            "errors": self.timeouts + self.unreachable + self.server_errors,
            "buckets": buckets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(ms: u64) -> OriginAnswer {
        OriginAnswer::Status { ms, status: 200 }
    }

    #[test]
    fn percentiles_are_the_bound_of_the_bucket_they_fall_in() {
        let mut times = OriginTimes::default();
        for _ in 0..90 {
            times.count(answered(40));
        }
        for _ in 0..10 {
            times.count(answered(700));
        }
        assert_eq!(times.quantile_at_most(0.5), Some(50));
        assert_eq!(times.quantile_at_most(0.9), Some(50));
        assert_eq!(times.quantile_at_most(0.95), Some(1_000));
        assert_eq!(times.answered(), 100);
        let report = times.report();
        assert_eq!(report["p95_ms_at_most"], 1_000);
        assert_eq!(report["mean_ms"], 106.0);
    }

    #[test]
    fn failures_are_counted_apart_from_the_times() {
        let mut times = OriginTimes::default();
        times.count(OriginAnswer::Timeout);
        times.count(OriginAnswer::Unreachable);
        times.count(OriginAnswer::Status { ms: 5, status: 503 });
        times.count(answered(45_000));
        assert_eq!(times.requests, 4);
        assert_eq!(times.answered(), 2);
        assert_eq!(
            (times.timeouts, times.unreachable, times.server_errors),
            (1, 1, 1)
        );
        assert_eq!(times.quantile_at_most(0.5), Some(10));
        assert_eq!(times.quantile_at_most(1.0), None, "past the last bound");
        assert_eq!(times.report()["errors"], 3);
    }

    #[test]
    fn counts_from_isolates_add_up_exactly() {
        let mut a = OriginTimes::default();
        a.count(answered(20));
        let mut b = OriginTimes::default();
        b.count(answered(20));
        b.count(OriginAnswer::Timeout);
        a.add(&b);
        assert_eq!(a.requests, 3);
        assert_eq!(a.buckets[1], 2);
        assert_eq!(a.timeouts, 1);
        let mut empty = OriginTimes::default();
        empty.add(&a);
        assert_eq!(empty, a);
        assert_eq!(OriginTimes::default().quantile_at_most(0.5), None);
    }
}
