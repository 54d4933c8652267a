//! May a stored response answer this request (RFC 9111 §4.2, §5.2.1; RFC 5861)? Decided from
//! the entry's age and lifetime, how it may be reused once stale, and the request's own
//! directives.

use super::{CacheControl, Reuse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fresh, and acceptable to the request.
    Fresh,
    /// Stale but within `stale-while-revalidate`: serve it now, refresh in the background.
    StaleWhileRevalidate,
    /// Stale, but the request's `max-stale` accepts it.
    StaleAccepted,
    /// Must go to the origin first (conditionally when the entry has validators).
    Revalidate,
}

/// How a client's own directives bore on an entry the cache would otherwise use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forcing {
    /// They did not change the verdict (or the entry must be revalidated anyway).
    None,
    /// They asked for a refresh of an entry the cache would have used, and get one.
    Forced,
    /// They asked for a refresh of an entry stored moments ago: it is used instead.
    Limited,
}

/// How edgecache treats a client's forced refresh (`no-cache`, `max-age`, `min-fresh`,
/// `Pragma: no-cache`): each one costs an origin request and a write, so anyone could spend
/// the origin's capacity and KV's write budget with a loop of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Never let a client's directives bypass a usable entry, as most CDNs do.
    pub ignore: bool,
    /// An entry stored fewer seconds ago than this is used, whatever the client asks.
    pub interval_secs: u64,
}

/// `verdict`, with edgecache's limits on client-forced refreshes applied: `resident_secs`
/// is how long ago the entry was stored.
pub fn client_verdict(
    reuse: &Reuse,
    age: u64,
    lifetime: u64,
    request: &CacheControl,
    resident_secs: u64,
    policy: RefreshPolicy,
) -> (Verdict, Forcing) {
    let asked = verdict(reuse, age, lifetime, request);
    if asked != Verdict::Revalidate {
        return (asked, Forcing::None);
    }
    let own = verdict(reuse, age, lifetime, &CacheControl::default());
    if own == Verdict::Revalidate {
        return (asked, Forcing::None);
    }
    if policy.ignore {
        return (own, Forcing::None);
    }
    if resident_secs < policy.interval_secs {
        return (own, Forcing::Limited);
    }
    (Verdict::Revalidate, Forcing::Forced)
}

/// Decides what a stored response of `age` and `lifetime` seconds can do for a request.
pub fn verdict(reuse: &Reuse, age: u64, lifetime: u64, request: &CacheControl) -> Verdict {
    // §5.2.2.4: a no-cache response "MUST NOT be used to satisfy any other request without
    // forwarding it for validation and receiving a successful response".
    // §5.2.1.4: the no-cache request directive: "the client prefers a stored response not be
    // used to satisfy the request without successful validation on the origin server".
    if reuse.no_cache || request.no_cache {
        return Verdict::Revalidate;
    }
    // §5.2.1.1: max-age: "the client prefers a response whose age is less than or equal to
    // the specified number of seconds".
    if request.max_age.is_some_and(|max| age > max) {
        return Verdict::Revalidate;
    }
    if age < lifetime {
        // §5.2.1.3: min-fresh: "the client prefers a response whose freshness lifetime is no
        // less than its current age plus the specified time in seconds".
        return match request.min_fresh {
            Some(min) if lifetime - age < min => Verdict::Revalidate,
            _ => Verdict::Fresh,
        };
    }
    let staleness = age - lifetime;
    // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit
    // in-protocol directive (e.g., by a no-cache response directive, a must-revalidate
    // response directive, or an applicable s-maxage or proxy-revalidate response directive)".
    if reuse.must_revalidate {
        return Verdict::Revalidate;
    }
    // §5.2.1.2: max-stale: "the client will accept a response that has exceeded its freshness
    // lifetime"; without a value, "a response of any age".
    match request.max_stale {
        Some(None) => return Verdict::StaleAccepted,
        Some(Some(max)) if staleness <= max => return Verdict::StaleAccepted,
        _ => {}
    }
    // RFC 5861 §3: stale-while-revalidate "indicates that caches MAY serve the response in
    // which it appears after it becomes stale, up to the indicated number of seconds".
    if staleness < reuse.swr {
        return Verdict::StaleWhileRevalidate;
    }
    Verdict::Revalidate
}

/// RFC 5861 §4: stale-if-error: "when an error is encountered, a cached stale response MAY
/// be used to satisfy the request", up to the indicated number of seconds of staleness.
/// Not for responses that forbid stale use (§4.2.4).
pub fn usable_on_error(reuse: &Reuse, age: u64, lifetime: u64) -> bool {
    !reuse.must_revalidate && age.saturating_sub(lifetime) <= reuse.sie && reuse.sie > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reuse() -> Reuse {
        Reuse::default()
    }

    fn request(cc: &str) -> CacheControl {
        CacheControl::parse(cc)
    }

    #[test]
    fn fresh_entries_are_used_and_stale_ones_revalidated() {
        assert_eq!(verdict(&reuse(), 10, 60, &request("")), Verdict::Fresh);
        assert_eq!(verdict(&reuse(), 60, 60, &request("")), Verdict::Revalidate);
    }

    #[test]
    fn request_directives_narrow_what_is_acceptable() {
        // §5.2.1.1 max-age, §5.2.1.3 min-fresh, §5.2.1.4 no-cache
        assert_eq!(
            verdict(&reuse(), 10, 60, &request("max-age=5")),
            Verdict::Revalidate
        );
        assert_eq!(
            verdict(&reuse(), 10, 60, &request("max-age=10")),
            Verdict::Fresh
        );
        assert_eq!(
            verdict(&reuse(), 10, 60, &request("min-fresh=51")),
            Verdict::Revalidate
        );
        assert_eq!(
            verdict(&reuse(), 10, 60, &request("min-fresh=50")),
            Verdict::Fresh
        );
        assert_eq!(
            verdict(&reuse(), 10, 60, &request("no-cache")),
            Verdict::Revalidate
        );
    }

    const HONOUR: RefreshPolicy = RefreshPolicy {
        ignore: false,
        interval_secs: 5,
    };

    #[test]
    fn a_forced_refresh_of_an_entry_stored_moments_ago_uses_the_entry() {
        let forced =
            |resident| client_verdict(&reuse(), 10, 60, &request("no-cache"), resident, HONOUR);
        assert_eq!(forced(4), (Verdict::Fresh, Forcing::Limited));
        assert_eq!(forced(5), (Verdict::Revalidate, Forcing::Forced));
        assert_eq!(
            client_verdict(&reuse(), 10, 60, &request("max-age=0"), 60, HONOUR),
            (Verdict::Revalidate, Forcing::Forced)
        );
    }

    #[test]
    fn ignoring_client_directives_keeps_the_entry_in_use() {
        let ignore = RefreshPolicy {
            ignore: true,
            ..HONOUR
        };
        assert_eq!(
            client_verdict(&reuse(), 10, 60, &request("no-cache"), 3600, ignore),
            (Verdict::Fresh, Forcing::None)
        );
        let swr = Reuse { swr: 30, ..reuse() };
        assert_eq!(
            client_verdict(&swr, 70, 60, &request("no-cache"), 3600, ignore),
            (Verdict::StaleWhileRevalidate, Forcing::None)
        );
    }

    #[test]
    fn an_entry_that_must_be_revalidated_anyway_is_not_forced() {
        assert_eq!(
            client_verdict(&reuse(), 70, 60, &request("no-cache"), 1, HONOUR),
            (Verdict::Revalidate, Forcing::None)
        );
        let no_cache = Reuse {
            no_cache: true,
            ..reuse()
        };
        assert_eq!(
            client_verdict(&no_cache, 1, 60, &request(""), 0, HONOUR),
            (Verdict::Revalidate, Forcing::None)
        );
        assert_eq!(
            client_verdict(&reuse(), 10, 60, &request("max-stale"), 0, HONOUR),
            (Verdict::Fresh, Forcing::None)
        );
    }

    #[test]
    fn max_stale_accepts_stale_entries_within_its_bound() {
        // §5.2.1.2
        assert_eq!(
            verdict(&reuse(), 70, 60, &request("max-stale=10")),
            Verdict::StaleAccepted
        );
        assert_eq!(
            verdict(&reuse(), 71, 60, &request("max-stale=10")),
            Verdict::Revalidate
        );
        assert_eq!(
            verdict(&reuse(), 9999, 60, &request("max-stale")),
            Verdict::StaleAccepted
        );
    }

    #[test]
    fn stale_while_revalidate_covers_its_window_only() {
        let swr = Reuse { swr: 30, ..reuse() };
        assert_eq!(
            verdict(&swr, 60, 60, &request("")),
            Verdict::StaleWhileRevalidate
        );
        assert_eq!(
            verdict(&swr, 89, 60, &request("")),
            Verdict::StaleWhileRevalidate
        );
        assert_eq!(verdict(&swr, 90, 60, &request("")), Verdict::Revalidate);
    }

    #[test]
    fn must_revalidate_forbids_every_stale_use() {
        // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an
        // explicit in-protocol directive".
        let strict = Reuse {
            swr: 30,
            sie: 30,
            must_revalidate: true,
            ..reuse()
        };
        assert_eq!(
            verdict(&strict, 61, 60, &request("max-stale")),
            Verdict::Revalidate
        );
        assert_eq!(verdict(&strict, 61, 60, &request("")), Verdict::Revalidate);
        assert!(!usable_on_error(&strict, 61, 60));
        assert_eq!(
            verdict(&strict, 10, 60, &request("")),
            Verdict::Fresh,
            "fresh is still fresh"
        );
    }

    #[test]
    fn no_cache_responses_are_always_revalidated() {
        let no_cache = Reuse {
            no_cache: true,
            validators: true,
            ..reuse()
        };
        assert_eq!(verdict(&no_cache, 0, 60, &request("")), Verdict::Revalidate);
    }

    #[test]
    fn stale_if_error_covers_its_window_only() {
        let sie = Reuse { sie: 30, ..reuse() };
        assert!(usable_on_error(&sie, 90, 60));
        assert!(!usable_on_error(&sie, 91, 60));
        assert!(
            !usable_on_error(&reuse(), 61, 60),
            "no window, no stale on error"
        );
    }

    #[test]
    fn stale_keep_covers_the_longest_use() {
        assert_eq!(
            Reuse {
                swr: 30,
                sie: 90,
                ..reuse()
            }
            .stale_keep(10),
            90
        );
        assert_eq!(
            Reuse {
                validators: true,
                ..reuse()
            }
            .stale_keep(3600),
            3600
        );
        assert_eq!(
            Reuse {
                swr: 30,
                must_revalidate: true,
                ..reuse()
            }
            .stale_keep(3600),
            0
        );
        assert_eq!(
            Reuse {
                validators: true,
                must_revalidate: true,
                ..reuse()
            }
            .stale_keep(3600),
            3600
        );
    }
}
