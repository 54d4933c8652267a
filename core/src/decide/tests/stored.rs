//! Rows after a lookup: an entry found, or none.

use crate::config::Backend;
use crate::decide::answer::{passed, Answered, PartAnswered};
use crate::decide::stored::{
    after_lookup, collapsed, with_unknown_standing, AfterLookup, ClientAsked, HeldParts,
    RangeAsked, Stored, Then,
};
use crate::http::directives::CacheControl;
use crate::http::reuse::RefreshPolicy;
use crate::http::Reuse;
use crate::status::{Fwd, Outcome, Reason};

use super::answer::{answered, fits, judged, judged_part, part_answered, verdict};
use super::seen;

fn stored(age: u64, lifetime: u64) -> Stored {
    Stored {
        reuse: Reuse::default(),
        age,
        lifetime,
        resident: age,
        soft_purged: false,
        tier: Backend::Memory,
        lower_tier: false,
    }
}

fn asked(cc: &str) -> ClientAsked {
    ClientAsked {
        cache_control: CacheControl::parse(cc),
        range: false,
        head: false,
        refresh: RefreshPolicy {
            ignore: false,
            interval_secs: 5,
        },
        part: None,
    }
}

fn after(stored: Option<&Stored>, vary_miss: bool, asked: &ClientAsked) -> AfterLookup {
    let after = after_lookup(stored, vary_miss, asked);
    match &after {
        AfterLookup::Serve { outcome, .. } | AfterLookup::Refuse { outcome, .. } => {
            seen(outcome);
        }
        AfterLookup::Pass { fwd, reason } => {
            seen(&passed(*fwd, 206, Some(*reason)));
        }
        AfterLookup::FetchPart { fwd, .. } => {
            // Its outcome comes from the origin's answer: a part that fits here.
            judged_part(PartAnswered {
                fwd: *fwd,
                ..part_answered(206, fits())
            });
        }
        AfterLookup::Fetch { fwd, .. } => {
            // The fetch's outcome comes from the origin's answer: a storable one here.
            let store = verdict(&[], 200, &[("cache-control", "max-age=60")]);
            judged(Answered {
                fwd: *fwd,
                ..answered(200, store)
            });
        }
    }
    after
}

/// `Serve`'s `Cache-Status` and what follows it.
fn served(after: AfterLookup) -> (String, Then, bool) {
    match after {
        AfterLookup::Serve {
            outcome,
            then,
            unread,
        } => (outcome.cache_status(), then, unread),
        other => panic!("{other:?}"),
    }
}

fn fetched(after: AfterLookup) -> (Fwd, bool) {
    match after {
        AfterLookup::Fetch { fwd, coalesce } => (fwd, coalesce),
        other => panic!("{other:?}"),
    }
}

#[test]
pub(super) fn after_a_lookup_that_found_an_entry() {
    let fresh = stored(10, 60);
    assert_eq!(
        served(after(Some(&fresh), false, &asked(""))),
        (
            "edgecache; hit; ttl=50; detail=memory".into(),
            Then::Nothing,
            true
        )
    );
    let lower = Stored {
        lower_tier: true,
        tier: Backend::Kv,
        ..fresh.clone()
    };
    assert_eq!(
        served(after(Some(&lower), false, &asked(""))),
        (
            "edgecache; hit; ttl=50; detail=kv".into(),
            Then::CopyUp,
            false
        )
    );
    // A client's forced refresh: limited moments after the entry was stored, honoured after.
    let moments = Stored {
        resident: 2,
        ..fresh.clone()
    };
    assert_eq!(
        served(after(Some(&moments), false, &asked("no-cache"))).0,
        "edgecache; hit; ttl=50; detail=refresh-limited"
    );
    assert_eq!(
        fetched(after(Some(&fresh), false, &asked("no-cache"))),
        (Fwd::Request, true)
    );
    assert_eq!(
        fetched(after(Some(&fresh), false, &asked("max-age=5"))),
        (Fwd::Request, true)
    );
    let ignoring = ClientAsked {
        refresh: RefreshPolicy {
            ignore: true,
            interval_secs: 5,
        },
        ..asked("no-cache")
    };
    assert_eq!(
        served(after(Some(&fresh), false, &ignoring)).0,
        "edgecache; hit; ttl=50; detail=memory"
    );
    // Stale entries.
    let stale = stored(70, 60);
    assert_eq!(
        served(after(Some(&stale), false, &asked("max-stale=30"))).0,
        "edgecache; hit; ttl=-10; detail=max-stale"
    );
    let swr = Stored {
        reuse: Reuse {
            swr: 30,
            ..Reuse::default()
        },
        ..stale.clone()
    };
    assert_eq!(
        served(after(Some(&swr), false, &asked(""))),
        (
            "edgecache; hit; ttl=-10; detail=stale-while-revalidate".into(),
            Then::Refresh,
            false
        )
    );
    assert_eq!(
        fetched(after(Some(&stale), false, &asked(""))),
        (Fwd::Stale, true)
    );
    // Soft purges.
    let soft = Stored {
        soft_purged: true,
        ..fresh.clone()
    };
    assert_eq!(
        served(after(Some(&soft), false, &asked(""))),
        (
            "edgecache; hit; ttl=50; detail=soft-purged".into(),
            Then::Refresh,
            false
        )
    );
    let strict_soft = Stored {
        reuse: Reuse {
            must_revalidate: true,
            ..Reuse::default()
        },
        ..soft.clone()
    };
    assert_eq!(
        fetched(after(Some(&strict_soft), false, &asked(""))).0,
        Fwd::Request
    );
    // A no-cache entry is revalidated every time: a stale forward, not a client's request.
    let no_cache = Stored {
        reuse: Reuse {
            no_cache: true,
            validators: true,
            ..Reuse::default()
        },
        ..fresh.clone()
    };
    assert_eq!(
        fetched(after(Some(&no_cache), false, &asked(""))).0,
        Fwd::Stale
    );
    // only-if-cached with an entry that cannot answer.
    assert!(matches!(
        after(Some(&stale), false, &asked("only-if-cached")),
        AfterLookup::Refuse { status: 504, .. }
    ));
    // A HEAD that found an entry to revalidate shares the fetch.
    let head = ClientAsked {
        head: true,
        ..asked("")
    };
    assert_eq!(
        fetched(after(Some(&stale), false, &head)),
        (Fwd::Stale, true)
    );
}

#[test]
pub(super) fn after_a_lookup_that_found_nothing() {
    assert_eq!(fetched(after(None, false, &asked(""))), (Fwd::Miss, true));
    assert_eq!(
        fetched(after(None, true, &asked(""))),
        (Fwd::VaryMiss, true)
    );
    let head = ClientAsked {
        head: true,
        ..asked("")
    };
    assert_eq!(
        fetched(after(None, false, &head)),
        (Fwd::Miss, false),
        "a lone HEAD"
    );
    let range = ClientAsked {
        range: true,
        ..asked("")
    };
    assert_eq!(
        after(None, false, &range),
        AfterLookup::Pass {
            fwd: Fwd::Miss,
            reason: Reason::Range
        }
    );
    match after(None, false, &asked("only-if-cached")) {
        AfterLookup::Refuse { status, outcome } => {
            assert_eq!(status, 504);
            assert_eq!(
                outcome.cache_status(),
                "edgecache; fwd=miss; detail=only-if-cached"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
pub(super) fn a_collapsed_wait_and_an_unknown_purge_standing_say_so() {
    let waited = seen(&collapsed(Fwd::Miss, 200));
    assert_eq!(
        waited.cache_status(),
        "edgecache; fwd=miss; fwd-status=200; collapsed"
    );
    let unknown = seen(&with_unknown_standing(Outcome::forward(
        Fwd::Miss,
        Some(200),
        true,
        None,
    )));
    assert_eq!(
        unknown.cache_status(),
        "edgecache; fwd=miss; fwd-status=200; stored; detail=purge-standing-unknown"
    );
    let explained = Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::Private));
    assert_eq!(
        with_unknown_standing(explained.clone()),
        explained,
        "another reason stays"
    );
}

#[test]
pub(super) fn a_range_request_and_the_parts_held() {
    let ranged = |held: Option<HeldParts>, cc: &str| ClientAsked {
        range: true,
        part: Some(RangeAsked { held }),
        ..asked(cc)
    };
    let held = |age, all| {
        Some(HeldParts {
            stored: stored(age, 60),
            all,
        })
    };
    // Parts that hold all of it answer it.
    assert_eq!(
        served(after(None, false, &ranged(held(10, true), ""))),
        (
            "edgecache; hit; ttl=50; detail=memory".into(),
            Then::Nothing,
            false
        )
    );
    let lower = Some(HeldParts {
        stored: Stored {
            tier: Backend::Kv,
            lower_tier: true,
            ..stored(10, 60)
        },
        all: true,
    });
    assert_eq!(
        served(after(None, false, &ranged(lower, ""))).1,
        Then::CopyUp,
        "parts from a lower tier are copied up"
    );
    // Parts that hold some of it: the origin is asked for the rest.
    assert_eq!(
        after(None, false, &ranged(held(10, false), "")),
        AfterLookup::FetchPart {
            fwd: Fwd::Partial,
            held: true
        }
    );
    // Nothing held: the client's range is asked for, and kept.
    assert_eq!(
        after(None, false, &ranged(None, "")),
        AfterLookup::FetchPart {
            fwd: Fwd::Miss,
            held: false
        }
    );
    assert_eq!(
        after(None, true, &ranged(None, "")),
        AfterLookup::FetchPart {
            fwd: Fwd::VaryMiss,
            held: false
        }
    );
    // Stale parts, or a client's refresh, are not used: what is asked replaces them.
    assert_eq!(
        after(None, false, &ranged(held(70, true), "")),
        AfterLookup::FetchPart {
            fwd: Fwd::Stale,
            held: false
        }
    );
    assert_eq!(
        after(None, false, &ranged(held(10, true), "no-cache")),
        AfterLookup::FetchPart {
            fwd: Fwd::Request,
            held: false
        }
    );
    assert_eq!(
        served(after(None, false, &ranged(held(70, true), "max-stale=30"))).0,
        "edgecache; hit; ttl=-10; detail=max-stale"
    );
    // Parts never serve stale while a refresh runs: no part has one.
    let swr = Some(HeldParts {
        stored: Stored {
            reuse: Reuse {
                swr: 30,
                ..Reuse::default()
            },
            ..stored(70, 60)
        },
        all: true,
    });
    assert_eq!(
        after(None, false, &ranged(swr, "")),
        AfterLookup::FetchPart {
            fwd: Fwd::Stale,
            held: false
        }
    );
    // A full response stored answers or is fetched whole, whatever parts say.
    let stale_full = stored(70, 60);
    assert_eq!(
        after(Some(&stale_full), false, &ranged(held(10, true), "")),
        AfterLookup::Pass {
            fwd: Fwd::Stale,
            reason: Reason::Range
        }
    );
    // A range whose answer cannot be kept as a part goes as it is.
    let several = ClientAsked {
        range: true,
        ..asked("")
    };
    assert_eq!(
        after(None, false, &several),
        AfterLookup::Pass {
            fwd: Fwd::Miss,
            reason: Reason::Range
        }
    );
    // only-if-cached: held parts answer it; parts holding some of it do not.
    assert_eq!(
        served(after(
            None,
            false,
            &ranged(held(10, true), "only-if-cached")
        ))
        .0,
        "edgecache; hit; ttl=50; detail=memory"
    );
    assert!(matches!(
        after(None, false, &ranged(held(10, false), "only-if-cached")),
        AfterLookup::Refuse { status: 504, .. }
    ));
}
