//! Failed admin authentications per client, in one isolate: which clients are over the limit
//! (so their next attempts are refused without a token being compared), and, when the
//! Workers Rate Limiting binding is missing, the count itself.
//!
//! A fixed window per client, as the binding keeps: the first failure opens it, `limit`
//! failures fit in it, and the next one blocks the client until the window ends. The number of
//! clients tracked is bounded: when it is full, clients that are not blocked are forgotten
//! first, oldest window first.

use std::collections::HashMap;

pub struct Throttle {
    limit: u32,
    window_ms: i64,
    capacity: usize,
    clients: HashMap<String, Record>,
}

struct Record {
    window_start: i64,
    failures: u32,
    /// 0 when not blocked.
    blocked_until: i64,
}

impl Throttle {
    /// `limit` failures per `window_ms`, for at most `capacity` clients at a time.
    pub fn new(limit: u32, window_ms: i64, capacity: usize) -> Throttle {
        Throttle {
            limit,
            window_ms,
            capacity: capacity.max(1),
            clients: HashMap::new(),
        }
    }

    /// Seconds until `client` may try again (at least 1), if it is blocked at `now_ms`.
    pub fn blocked(&self, client: &str, now_ms: i64) -> Option<u64> {
        let record = self.clients.get(client)?;
        (record.blocked_until > now_ms).then(|| seconds_until(record.blocked_until, now_ms))
    }

    /// Counts a failure of `client` at `now_ms` (when this isolate keeps the count): `Some`
    /// with the seconds to wait when it is one too many, which blocks the client.
    pub fn fail(&mut self, client: &str, now_ms: i64) -> Option<u64> {
        let window_ms = self.window_ms;
        let limit = self.limit;
        let record = self.record(client, now_ms);
        if now_ms >= record.window_start + window_ms {
            *record = Record {
                window_start: now_ms,
                failures: 0,
                blocked_until: 0,
            };
        }
        if record.failures < limit {
            record.failures += 1;
            return None;
        }
        record.blocked_until = record.window_start + window_ms;
        Some(seconds_until(record.blocked_until, now_ms))
    }

    /// Blocks `client` for `seconds` from `now_ms` (a shared limiter found it over its limit).
    pub fn block(&mut self, client: &str, now_ms: i64, seconds: u64) {
        let until = now_ms.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX) * 1000);
        let record = self.record(client, now_ms);
        record.blocked_until = record.blocked_until.max(until);
    }

    /// How many clients are tracked.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    fn record(&mut self, client: &str, now_ms: i64) -> &mut Record {
        if !self.clients.contains_key(client) && self.clients.len() >= self.capacity {
            self.make_room(now_ms);
        }
        self.clients.entry(client.to_string()).or_insert(Record {
            window_start: now_ms,
            failures: 0,
            blocked_until: 0,
        })
    }

    /// Forgets what no longer matters (windows over, blocks ended); if the table is still
    /// full, the client that matters least: not blocked before blocked, then the oldest.
    fn make_room(&mut self, now_ms: i64) {
        let window_ms = self.window_ms;
        self.clients
            .retain(|_, r| r.blocked_until > now_ms || now_ms < r.window_start + window_ms);
        if self.clients.len() < self.capacity {
            return;
        }
        let least = self
            .clients
            .iter()
            .min_by_key(|(_, r)| (r.blocked_until > now_ms, r.blocked_until, r.window_start))
            .map(|(client, _)| client.clone());
        if let Some(client) = least {
            self.clients.remove(&client);
        }
    }
}

fn seconds_until(until_ms: i64, now_ms: i64) -> u64 {
    let ms = (until_ms - now_ms).max(0) as u64;
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_after_the_limit_blocks_until_the_window_ends() {
        let mut throttle = Throttle::new(3, 60_000, 100);
        for at in [0, 1_000, 2_000] {
            assert_eq!(throttle.fail("a", at), None);
            assert_eq!(throttle.blocked("a", at), None);
        }
        assert_eq!(throttle.fail("a", 10_000), Some(50));
        assert_eq!(throttle.blocked("a", 10_000), Some(50));
        assert_eq!(throttle.blocked("a", 59_999), Some(1));
        assert_eq!(throttle.blocked("a", 60_000), None, "the window is over");
        assert_eq!(
            throttle.fail("a", 60_000),
            None,
            "a new window starts afresh"
        );
    }

    #[test]
    fn clients_are_counted_apart() {
        let mut throttle = Throttle::new(1, 60_000, 100);
        assert_eq!(throttle.fail("a", 0), None);
        assert!(throttle.fail("a", 1).is_some());
        assert_eq!(throttle.blocked("b", 1), None);
        assert_eq!(throttle.fail("b", 1), None);
    }

    #[test]
    fn a_block_from_the_shared_limiter_lasts_as_long_as_it_says() {
        let mut throttle = Throttle::new(10, 60_000, 100);
        throttle.block("a", 5_000, 60);
        assert_eq!(throttle.blocked("a", 5_000), Some(60));
        assert_eq!(throttle.blocked("a", 64_999), Some(1));
        assert_eq!(throttle.blocked("a", 65_000), None);
        throttle.block("a", 6_000, 1);
        assert_eq!(
            throttle.blocked("a", 6_000),
            Some(59),
            "a shorter block never shortens a longer one"
        );
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_blocked_clients_last() {
        let mut throttle = Throttle::new(1, 60_000, 3);
        throttle.fail("blocked", 0);
        throttle.fail("blocked", 0);
        for i in 0..1_000 {
            throttle.fail(&format!("guess-{i}"), i);
            assert!(throttle.len() <= 3);
        }
        assert!(
            throttle.blocked("blocked", 1_000).is_some(),
            "many other addresses cannot push a blocked one out"
        );
    }

    #[test]
    fn ended_windows_make_room_first() {
        let mut throttle = Throttle::new(5, 1_000, 2);
        throttle.fail("old", 0);
        throttle.fail("recent", 1_500);
        throttle.fail("new", 1_600);
        assert_eq!(throttle.len(), 2);
        throttle.fail("recent", 1_700);
        throttle.fail("recent", 1_700);
        throttle.fail("recent", 1_700);
        throttle.fail("recent", 1_700);
        assert!(
            throttle.fail("recent", 1_700).is_some(),
            "its count was kept: only the ended window was dropped"
        );
    }
}
