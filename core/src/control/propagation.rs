//! When an isolate's copy of the purge registry may answer a request, when it must be
//! refreshed, how long it outlives a control plane that cannot be reached, and which of two
//! copies to keep. `invalidation.rs` applies these rules to the copy it holds.

use crate::config::Config;

/// After a failed ask, requests use what they have for this long before one asks again.
pub const RETRY_MS: i64 = 1_000;

/// A copy of the registry: its sequence number, and when the control plane was asked for it
/// (it says nothing of purges recorded later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub seq: u64,
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `purge_propagation_s`, in ms; 0: a copy answers only requests that arrived before it
    /// was asked for.
    pub interval_ms: i64,
    /// `purge_grace_s`, in ms.
    pub grace_ms: i64,
}

impl Timing {
    pub fn of(config: &Config) -> Timing {
        Timing {
            interval_ms: config.purge_propagation_s as i64 * 1000,
            grace_ms: config.purge_grace_s as i64 * 1000,
        }
    }

    /// The copy may answer a request that arrived at `arrived` without asking anyone: younger
    /// than the interval, or (interval 0) asked for at or after the request arrived.
    pub fn current(&self, copy: Checked, arrived: i64) -> bool {
        if self.interval_ms == 0 {
            copy.at >= arrived
        } else {
            arrived - copy.at < self.interval_ms
        }
    }

    /// The copy may still be used at `now` when no current one can be had.
    pub fn within_grace(&self, copy: Checked, now: i64) -> bool {
        now - copy.at < self.interval_ms + self.grace_ms
    }

    /// The location's shared copy (asked for at `shared`) may replace this isolate's
    /// (`known`, if any) for a refresh that began at `now`: it is current, and knows every
    /// purge this isolate knows.
    pub fn shared_usable(&self, shared: Checked, known: Option<Checked>, now: i64) -> bool {
        self.interval_ms > 0
            && now - shared.at < self.interval_ms
            && known.is_none_or(|k| shared.seq >= k.seq)
    }
}

/// Whether a request may ask the control plane at `now`, given when the last ask failed
/// (`None` once one has succeeded since).
pub fn may_ask(failed_at: Option<i64>, now: i64) -> bool {
    failed_at.is_none_or(|at| now - at >= RETRY_MS)
}

/// Whether an isolate that has just marked the location's copy as being asked for (with
/// `own`, its mark) should wait for another's answer instead of asking: reading the copy back,
/// it finds another isolate's mark (`seen`, live until `seen_until`). Two isolates can both
/// find the copy unmarked before either mark is written; the Cache API keeps the one written
/// last, and only its writer asks.
pub fn yields_to(own: u64, seen: u64, seen_until: i64, now: i64) -> bool {
    seen != own && seen_until > now
}

/// Which copy to keep: the one that knows more purges, and of two that know the same, the
/// one asked for later. An ask that began before this isolate recorded a purge of its own
/// must not replace the registry that purge returned.
pub fn keeps_new(new: Checked, old: Option<Checked>) -> bool {
    old.is_none_or(|old| new.seq > old.seq || (new.seq == old.seq && new.at >= old.at))
}

/// How long an isolate waiting for another's ask sleeps before its `polls`-th read of the
/// location's copy (ms): 20, 40, 80, 160, then every 320. Each read is a Cache API call, which
/// counts against the request's subrequest limit (50 on the free plan), so a wait of the whole
/// `REGISTRY_TIMEOUT_MS` (2 s) reads it at most 9 times, not every 10 ms.
pub fn shared_poll_delay_ms(polls: u32) -> u64 {
    20u64 << polls.min(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000_000;

    fn timing(propagation_s: u64, grace_s: u64) -> Timing {
        Timing::of(&Config {
            purge_propagation_s: propagation_s,
            purge_grace_s: grace_s,
            ..Config::default()
        })
    }

    fn copy(seq: u64, at: i64) -> Checked {
        Checked { seq, at }
    }

    #[test]
    fn a_copy_answers_for_the_interval_and_is_kept_for_the_grace_after() {
        let t = timing(2, 30);
        assert!(t.current(copy(1, T), T));
        assert!(t.current(copy(1, T), T + 1_999));
        assert!(!t.current(copy(1, T), T + 2_000), "older than the interval");
        assert!(t.within_grace(copy(1, T), T + 31_999));
        assert!(
            !t.within_grace(copy(1, T), T + 32_000),
            "then the registry is unknown"
        );
    }

    #[test]
    fn with_no_interval_only_a_copy_asked_for_after_the_request_arrived_answers_it() {
        let t = timing(0, 5);
        assert!(t.current(copy(1, T), T));
        assert!(!t.current(copy(1, T), T + 1));
        assert!(t.within_grace(copy(1, T), T + 4_999));
        assert!(!t.within_grace(copy(1, T), T + 5_000));
    }

    #[test]
    fn the_locations_copy_is_used_when_current_and_not_behind_this_isolate() {
        let t = timing(2, 30);
        assert!(t.shared_usable(copy(5, T), Some(copy(5, T - 3_000)), T + 100));
        assert!(t.shared_usable(copy(5, T), None, T + 100));
        assert!(
            !t.shared_usable(copy(4, T), Some(copy(5, T - 3_000)), T + 100),
            "this isolate recorded a later purge"
        );
        assert!(!t.shared_usable(copy(5, T), None, T + 2_000), "too old");
        assert!(
            !timing(0, 30).shared_usable(copy(5, T), None, T),
            "never with no interval"
        );
    }

    #[test]
    fn a_failed_ask_is_not_retried_for_a_second() {
        assert!(may_ask(None, T));
        assert!(!may_ask(Some(T), T + 999));
        assert!(may_ask(Some(T), T + 1_000));
    }

    #[test]
    fn an_isolate_whose_mark_was_overwritten_waits_for_the_other_isolates_answer() {
        assert!(
            yields_to(7, 9, T + 2_000, T),
            "the other isolate's mark is the one kept"
        );
        assert!(!yields_to(7, 7, T + 2_000, T), "its own mark: it asks");
        assert!(
            !yields_to(7, 9, T, T),
            "the other's mark has run out: it asks"
        );
        assert!(
            !yields_to(7, 0, 0, T),
            "the other isolate already answered (and withdrew its mark)"
        );
    }

    #[test]
    fn the_copy_that_knows_more_purges_is_kept() {
        assert!(keeps_new(copy(1, T), None));
        assert!(keeps_new(copy(2, T - 10), Some(copy(1, T))));
        assert!(!keeps_new(copy(1, T + 10), Some(copy(2, T))));
        assert!(keeps_new(copy(2, T + 10), Some(copy(2, T))));
        assert!(!keeps_new(copy(2, T - 10), Some(copy(2, T))));
    }

    #[test]
    fn a_waiting_isolate_reads_the_shared_copy_a_bounded_number_of_times() {
        let mut waited = 0;
        let mut reads = 0;
        while waited < 2_000 {
            waited += shared_poll_delay_ms(reads);
            reads += 1;
        }
        assert!(reads <= 10, "{reads} reads in 2 s");
        assert_eq!(shared_poll_delay_ms(0), 20);
        assert_eq!(shared_poll_delay_ms(100), 320);
    }
}
