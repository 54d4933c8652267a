//! The decision table: every choice of the request flow, row by row, and a check that the
//! rows between them produce every outcome `Cache-Status` can report.

use std::cell::RefCell;
use std::collections::BTreeSet;

use super::answer::{
    after_not_modified, body_not_stored, judge, on_failure, passed, AfterNotModified, Answered,
    Failure, Judgement, OnFailure,
};
use super::arrival::{at_entry, before_lookup, Arrival, AtEntry, Before, Entry};
use super::stored::{
    after_lookup, collapsed, with_unknown_standing, AfterLookup, Asked, Stored, Then,
};
use crate::config::Backend;
use crate::http::directives::CacheControl;
use crate::http::reuse::RefreshPolicy;
use crate::http::{storability, Exchange, Overrides, RequestFacts, Reuse, Storability};
use crate::status::{Fwd, Outcome, Reason};

thread_local! {
    /// Every outcome and reason a row produced, for the coverage check.
    static SEEN: RefCell<(Vec<Outcome>, BTreeSet<&'static str>)> = RefCell::default();
}

fn seen(outcome: &Outcome) -> Outcome {
    SEEN.with(|s| s.borrow_mut().0.push(outcome.clone()));
    outcome.clone()
}

fn seen_reason(reason: Reason) -> Reason {
    SEEN.with(|s| s.borrow_mut().1.insert(reason.as_str()));
    reason
}

// ---- before a lookup ----

fn entry(url_valid: bool, config_valid: bool, admin: bool) -> AtEntry {
    let at = at_entry(&Entry {
        url_valid,
        config_valid,
        admin,
    });
    if let AtEntry::Refuse { outcome, .. } | AtEntry::Admin { outcome } = &at {
        seen(outcome);
    }
    at
}

fn arrival(method: &str) -> Arrival<'_> {
    Arrival {
        looped: false,
        method,
        bypass: false,
    }
}

fn before(arrival: Arrival) -> Before {
    let before = before_lookup(&arrival);
    match &before {
        Before::Refuse { outcome, .. } => {
            seen(outcome);
        }
        Before::Pass { fwd, reason, .. } => {
            seen(&passed(*fwd, 200, *reason));
        }
        Before::Lookup => {}
    }
    before
}

#[test]
fn before_a_lookup() {
    let refused =
        |status_outcome: (u16, &Outcome)| (status_outcome.0, status_outcome.1.cache_status());
    let at_entry_refusal = |at: AtEntry| match at {
        AtEntry::Refuse { status, outcome } => (status, outcome.cache_status()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        at_entry_refusal(entry(false, true, false)),
        (400, "edgecache; fwd=bypass; detail=route-bypass".into())
    );
    assert_eq!(
        at_entry_refusal(entry(true, false, true)),
        (500, "edgecache; fwd=bypass; detail=config-error".into()),
        "a broken policy answers even its admin path with the error"
    );
    assert!(matches!(entry(true, true, true), AtEntry::Admin { .. }));
    assert_eq!(entry(true, true, false), AtEntry::Flow);
    match before(Arrival {
        looped: true,
        ..arrival("GET")
    }) {
        Before::Refuse { status, outcome } => assert_eq!(
            refused((status, &outcome)),
            (508, "edgecache; fwd=bypass; detail=loop-detected".into())
        ),
        other => panic!("{other:?}"),
    }
    let pass = |method| before(arrival(method));
    assert_eq!(
        pass("POST"),
        Before::Pass {
            fwd: Fwd::Method,
            reason: None,
            invalidates: true
        }
    );
    assert_eq!(
        pass("DELETE"),
        Before::Pass {
            fwd: Fwd::Method,
            reason: None,
            invalidates: true
        }
    );
    assert_eq!(
        pass("OPTIONS"),
        Before::Pass {
            fwd: Fwd::Method,
            reason: None,
            invalidates: false
        },
        "a safe method changes nothing"
    );
    assert_eq!(
        before(Arrival {
            bypass: true,
            ..arrival("GET")
        }),
        Before::Pass {
            fwd: Fwd::Bypass,
            reason: Some(Reason::RouteBypass),
            invalidates: false
        }
    );
    assert_eq!(pass("GET"), Before::Lookup);
    assert_eq!(pass("HEAD"), Before::Lookup);
}

// ---- after a lookup ----

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

fn asked(cc: &str) -> Asked {
    Asked {
        cache_control: CacheControl::parse(cc),
        range: false,
        head: false,
        refresh: RefreshPolicy {
            ignore: false,
            interval_secs: 5,
        },
    }
}

fn after(stored: Option<&Stored>, vary_miss: bool, asked: &Asked) -> AfterLookup {
    let after = after_lookup(stored, vary_miss, asked);
    match &after {
        AfterLookup::Serve { outcome, .. } | AfterLookup::Refuse { outcome, .. } => {
            seen(outcome);
        }
        AfterLookup::Pass { fwd, reason } => {
            seen(&passed(*fwd, 206, Some(*reason)));
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
fn after_a_lookup_that_found_an_entry() {
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
    let ignoring = Asked {
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
    let head = Asked {
        head: true,
        ..asked("")
    };
    assert_eq!(
        fetched(after(Some(&stale), false, &head)),
        (Fwd::Stale, true)
    );
}

#[test]
fn after_a_lookup_that_found_nothing() {
    assert_eq!(fetched(after(None, false, &asked(""))), (Fwd::Miss, true));
    assert_eq!(
        fetched(after(None, true, &asked(""))),
        (Fwd::VaryMiss, true)
    );
    let head = Asked {
        head: true,
        ..asked("")
    };
    assert_eq!(
        fetched(after(None, false, &head)),
        (Fwd::Miss, false),
        "a lone HEAD"
    );
    let range = Asked {
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
fn a_collapsed_wait_and_an_unknown_purge_standing_say_so() {
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

// ---- after the origin answered ----

type FieldList<'a> = &'a [(&'a str, &'a str)];

const NOW: i64 = 1_700_000_000_000;

/// What HTTP caching says of a response with `fields` to a request with `request` fields.
fn verdict(request: &[(&str, &str)], status: u16, fields: &[(&str, &str)]) -> Storability {
    let list = |l: &[(&str, &str)]| -> Vec<(String, String)> {
        l.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let overrides = Overrides {
        default_ttl: 600,
        route_ttl: Some(60),
        extension: Some("css".into()),
        ..Overrides::default()
    };
    storability(
        &RequestFacts::of(&list(request), &["authorization".into(), "cookie".into()]),
        status,
        &list(fields),
        &overrides,
        Exchange {
            request_ms: NOW,
            response_ms: NOW,
        },
    )
}

fn answered(status: u16, verdict: Storability) -> Answered {
    Answered {
        fwd: Fwd::Miss,
        status,
        conditional: false,
        stale_usable_on_error: false,
        head_without_entry: false,
        for_client_only: false,
        no_tiers: false,
        too_large: false,
        varies_on_unsent: false,
        asked_again: false,
        verdict,
    }
}

fn judged(answer: Answered) -> Judgement {
    let judgement = judge(&answer);
    match &judgement {
        Judgement::UnexpectedNotModified(outcome)
        | Judgement::ServeStale(outcome)
        | Judgement::Store(outcome)
        | Judgement::Pass { outcome, .. } => {
            seen(outcome);
        }
        Judgement::NotModified | Judgement::AskAgain => {}
    }
    judgement
}

/// A pass's reason, and whether the response itself forbids storing.
fn pass_reason(judgement: Judgement) -> (Reason, bool) {
    match judgement {
        Judgement::Pass {
            outcome:
                Outcome::Forward {
                    reason: Some(reason),
                    ..
                },
            response_says,
        } => (reason, response_says),
        other => panic!("{other:?}"),
    }
}

#[test]
fn what_the_response_says_decides_what_is_stored() {
    let store = verdict(&[], 200, &[("cache-control", "max-age=60")]);
    match judged(answered(200, store.clone())) {
        Judgement::Store(outcome) => {
            assert_eq!(
                outcome.cache_status(),
                "edgecache; fwd=miss; fwd-status=200; stored"
            )
        }
        other => panic!("{other:?}"),
    }
    // (request fields, status, response fields, reason, whether the response is to blame)
    let rows: &[(FieldList, u16, FieldList, Reason, bool)] = &[
        (
            &[],
            200,
            &[("cache-control", "no-store")],
            Reason::NoStore,
            true,
        ),
        (
            &[],
            200,
            &[("cache-control", "private")],
            Reason::Private,
            true,
        ),
        (&[], 200, &[("set-cookie", "a=b")], Reason::SetCookie, true),
        (
            &[],
            200,
            &[("cache-control", "max-age=60"), ("vary", "*")],
            Reason::VaryStar,
            true,
        ),
        (&[], 206, &[], Reason::PartialContent, true),
        (&[], 302, &[], Reason::UncacheableStatus, true),
        (
            &[],
            200,
            &[("cache-control", "no-cache")],
            Reason::NoCache,
            true,
        ),
        (
            &[("cache-control", "no-store")],
            200,
            &[],
            Reason::RequestNoStore,
            false,
        ),
        (
            &[("authorization", "x")],
            200,
            &[],
            Reason::Authorization,
            false,
        ),
        (
            &[("cookie", "s=1")],
            200,
            &[("content-type", "text/html")],
            Reason::ContentTypeMismatch,
            false,
        ),
    ];
    for (request, status, fields, reason, response_says) in rows {
        let judged = judged(answered(*status, verdict(request, *status, fields)));
        assert_eq!(pass_reason(judged), (*reason, *response_says), "{fields:?}");
    }
    // What storability has no routes for: a heuristic guess for a cookie request, and an
    // answer already stale on arrival.
    let without_route = |request: &[(&str, &str)], fields: &[(&str, &str)]| {
        let list = |l: &[(&str, &str)]| -> Vec<(String, String)> {
            l.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        storability(
            &RequestFacts::from_fields(&list(request)),
            200,
            &list(fields),
            &Overrides {
                default_ttl: 600,
                ..Overrides::default()
            },
            Exchange {
                request_ms: NOW,
                response_ms: NOW,
            },
        )
    };
    assert_eq!(
        pass_reason(judged(answered(
            200,
            without_route(&[("cookie", "s=1")], &[])
        ))),
        (Reason::CookieWithoutFreshness, false)
    );
    assert_eq!(
        pass_reason(judged(answered(
            200,
            without_route(&[], &[("cache-control", "max-age=0")])
        ))),
        (Reason::StaleOnArrival, true)
    );
    // What edgecache itself knows about the fetch, ahead of the response's verdict.
    let ahead = |answer: Answered| pass_reason(judged(answer));
    assert_eq!(
        ahead(Answered {
            head_without_entry: true,
            ..answered(200, store.clone())
        })
        .0,
        Reason::HeadNotStored
    );
    assert_eq!(
        ahead(Answered {
            for_client_only: true,
            ..answered(200, store.clone())
        })
        .0,
        Reason::Credentials
    );
    assert_eq!(
        ahead(Answered {
            no_tiers: true,
            ..answered(200, store.clone())
        })
        .0,
        Reason::StorageError
    );
    assert_eq!(
        ahead(Answered {
            too_large: true,
            ..answered(200, store.clone())
        }),
        (Reason::TooLarge, true)
    );
    // A response that varies on a field the origin was not sent: asked again once, then not
    // stored.
    let unsent = Answered {
        varies_on_unsent: true,
        ..answered(200, store.clone())
    };
    assert_eq!(judged(unsent.clone()), Judgement::AskAgain);
    assert_eq!(
        ahead(Answered {
            asked_again: true,
            ..unsent
        })
        .0,
        Reason::VaryUnsent
    );
}

#[test]
fn a_304_an_origin_error_and_a_failed_origin() {
    let conditional = Answered {
        conditional: true,
        ..answered(304, Storability::DontStore(Reason::UncacheableStatus))
    };
    assert_eq!(judged(conditional), Judgement::NotModified);
    match judged(answered(
        304,
        Storability::DontStore(Reason::UncacheableStatus),
    )) {
        Judgement::UnexpectedNotModified(outcome) => assert_eq!(
            outcome.cache_status(),
            "edgecache; fwd=miss; fwd-status=304; detail=uncacheable-status"
        ),
        other => panic!("{other:?}"),
    }
    let error = Answered {
        stale_usable_on_error: true,
        fwd: Fwd::Stale,
        ..answered(503, Storability::DontStore(Reason::UncacheableStatus))
    };
    match judged(error) {
        Judgement::ServeStale(outcome) => assert_eq!(
            outcome.cache_status(),
            "edgecache; fwd=stale; fwd-status=503; detail=stale-if-error"
        ),
        other => panic!("{other:?}"),
    }
    let refused = answered(503, Storability::DontStore(Reason::UncacheableStatus));
    assert_eq!(pass_reason(judged(refused)).0, Reason::UncacheableStatus);

    let failure = |f, usable| match on_failure(Fwd::Miss, f, usable) {
        OnFailure::ServeStale(outcome) => (0, seen(&outcome).cache_status()),
        OnFailure::ErrorPage { status, outcome } => (status, seen(&outcome).cache_status()),
    };
    assert_eq!(
        failure(Failure::Timeout, false),
        (504, "edgecache; fwd=miss; detail=origin-timeout".into())
    );
    assert_eq!(
        failure(Failure::Unreachable, false),
        (502, "edgecache; fwd=miss; detail=origin-unreachable".into())
    );
    assert_eq!(
        failure(Failure::Unreachable, true),
        (0, "edgecache; fwd=stale; detail=stale-if-error".into())
    );
    assert_eq!(seen_reason(body_not_stored(true)), Reason::BodyError);
    assert_eq!(seen_reason(body_not_stored(false)), Reason::TooLarge);
}

#[test]
fn a_merged_304_refreshes_the_entry_unless_something_forbids_it() {
    let store = verdict(&[], 200, &[("cache-control", "max-age=60")]);
    match after_not_modified(Fwd::Stale, &store, false) {
        AfterNotModified::Refresh(outcome) => assert_eq!(
            seen(&outcome).cache_status(),
            "edgecache; fwd=stale; fwd-status=304; stored"
        ),
        other => panic!("{other:?}"),
    }
    let alone = |verdict: &Storability, for_client_only| match after_not_modified(
        Fwd::Stale,
        verdict,
        for_client_only,
    ) {
        AfterNotModified::AnswerAlone {
            outcome,
            drop_stored,
        } => {
            seen(&outcome);
            let Outcome::Forward {
                reason: Some(reason),
                ..
            } = outcome
            else {
                panic!()
            };
            (reason, drop_stored)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        alone(&store, true),
        (Reason::Credentials, false),
        "a client's own refresh"
    );
    assert_eq!(
        alone(&Storability::DontStore(Reason::SetCookie), false),
        (Reason::SetCookie, true)
    );
    assert_eq!(
        alone(&Storability::DontStore(Reason::RequestNoStore), false),
        (Reason::RequestNoStore, false),
        "a request's no-store never removes what others get"
    );
}

/// Runs every row above, then checks that between them they produced every reason and every
/// kind of forward `Cache-Status` can report, and a hit from every tier.
#[test]
fn the_rows_cover_every_outcome_cache_status_can_report() {
    before_a_lookup();
    after_a_lookup_that_found_an_entry();
    after_a_lookup_that_found_nothing();
    a_collapsed_wait_and_an_unknown_purge_standing_say_so();
    what_the_response_says_decides_what_is_stored();
    a_304_an_origin_error_and_a_failed_origin();
    a_merged_304_refreshes_the_entry_unless_something_forbids_it();
    SEEN.with(|s| {
        let (outcomes, reasons) = &*s.borrow();
        let mut reasons = reasons.clone();
        let mut fwds = BTreeSet::new();
        let mut hit = false;
        for outcome in outcomes {
            match outcome {
                Outcome::Hit { stale, .. } => {
                    hit = true;
                    reasons.extend(stale.map(Reason::as_str));
                }
                Outcome::Forward { fwd, reason, .. } => {
                    fwds.insert(fwd.as_str());
                    reasons.extend(reason.map(Reason::as_str));
                }
            }
        }
        assert!(hit);
        let missing: Vec<&str> = Reason::ALL
            .iter()
            .map(|r| r.as_str())
            .filter(|r| !reasons.contains(r))
            .collect();
        assert!(missing.is_empty(), "no row reports {missing:?}");
        let missing: Vec<&str> = Fwd::ALL
            .iter()
            .map(|f| f.as_str())
            .filter(|f| !fwds.contains(f))
            .collect();
        assert!(missing.is_empty(), "no row forwards as {missing:?}");
    });
}
