//! Rows after the origin answered, a merged 304 and a failed origin.

use crate::decide::answer::{
    after_not_modified, body_not_stored, judge, judge_part, on_failure, AfterNotModified, Answered,
    AnsweredBy, Credentials, Failure, IfError, Judgement, OnFailure, PartAnswered, PartJudgement,
    Room, Variance,
};
use crate::decide::fetch::Fetched;
use crate::http::parts::Fit;
use crate::http::{part_storability, storability, Exchange, Overrides, RequestFacts, Storability};
use crate::status::{Fwd, Outcome, Reason};

use super::{seen, seen_reason};

type FieldList<'a> = &'a [(&'a str, &'a str)];

const NOW: i64 = 1_700_000_000_000;

/// What HTTP caching says of a response with `fields` to a request with `request` fields.
pub(super) fn verdict(
    request: &[(&str, &str)],
    status: u16,
    fields: &[(&str, &str)],
) -> Storability {
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
            sent_ms: NOW,
        },
    )
}

pub(super) fn answered(status: u16, verdict: Storability) -> Answered {
    Answered {
        fwd: Fwd::Miss,
        status,
        fetched: Fetched::Miss,
        credentials: Credentials::Keyed,
        if_error: IfError::Nothing,
        room: Room::Fits,
        variance: Variance::Sent,
        verdict,
        by: AnsweredBy::Origin,
    }
}

pub(super) fn judged(answer: Answered) -> Judgement {
    let judgement = judge(&answer);
    match &judgement {
        Judgement::UnexpectedNotModified(outcome)
        | Judgement::NotModifiedAlone(outcome)
        | Judgement::ServeStale(outcome)
        | Judgement::Store(outcome)
        | Judgement::Pass { outcome, .. } => {
            seen(outcome);
        }
        Judgement::NotModified | Judgement::AskAgain(_) => {}
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
            hit_for_pass,
        } => {
            assert_eq!(hit_for_pass, response_says, "{reason:?}");
            (reason, response_says)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
pub(super) fn what_the_response_says_decides_what_is_stored() {
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
                sent_ms: NOW,
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
    let knowing = |fetched, credentials, room, variance| Answered {
        fetched,
        credentials,
        room,
        variance,
        ..answered(200, store.clone())
    };
    let unsent = || Variance::Unsent(vec!["accept-language".into()]);
    // (what the fetch was, its credentials, storage's room, its variance: what is done)
    use Credentials::{Keyed, Own};
    use Fetched::{Head, Miss, Replacing};
    use Reason as R;
    use Room::{Fits, NoTiers, TooLarge};
    use Variance::{Sent, Unsendable};
    let rows: Vec<(Fetched, Credentials, Room, Variance, Judgement)> = vec![
        (Head, Keyed, Fits, Sent, pass(R::HeadNotStored, false)),
        // A credentialed answer never replaces a stored entry; a miss with a credential is
        // stored as storability allows one (the verdict already read its credentials).
        (Replacing, Own, Fits, Sent, pass(R::Credentials, false)),
        (Miss, Own, Fits, Sent, stored()),
        (Miss, Own, TooLarge, Sent, pass(R::TooLarge, false)),
        (Miss, Keyed, NoTiers, Sent, pass(R::StorageError, false)),
        (Miss, Keyed, TooLarge, Sent, pass(R::TooLarge, true)),
        // Varies on a field the origin was not sent: asked again once with it...
        (Miss, Keyed, Fits, unsent(), ask_again()),
        // ... then, or when it is a credential the refresh withholds, not stored.
        (Miss, Keyed, Fits, Unsendable, pass(R::VaryUnsent, false)),
    ];
    for (fetched, credentials, room, variance, expected) in rows {
        let row = format!("{fetched:?} {credentials:?} {room:?} {variance:?}");
        let judgement = judged(knowing(fetched, credentials, room, variance));
        assert_eq!(judgement, expected, "{row}");
    }
    // A private answer to a request with a session cookie says nothing of what others get:
    // no hit-for-pass, no entry dropped.
    for fields in [
        &[("cache-control", "private")][..],
        &[("cache-control", "no-store")],
        &[("cache-control", "max-age=60"), ("set-cookie", "s=2")],
    ] {
        let private = verdict(&[("cookie", "session=alice")], 200, fields);
        let reason = match &private {
            Storability::DontStore(reason) => *reason,
            other => panic!("{other:?}"),
        };
        // (what the fetch was: the reason it is not stored)
        for (fetched, expected) in [(Miss, reason), (Replacing, Reason::Credentials)] {
            assert_eq!(
                ahead(Answered {
                    fetched,
                    credentials: Own,
                    ..answered(200, private.clone())
                }),
                (expected, false),
                "{fields:?} {fetched:?}"
            );
        }
        assert_eq!(ahead(answered(200, private)), (reason, true), "{fields:?}");
    }
    // A variant keyed on the cookie (Django's `Vary: Cookie`): its private answer drops that
    // variant's own entry, but says nothing of the URL's other variants: no hit-for-pass.
    let private = verdict(
        &[("cookie", "session=alice")],
        200,
        &[("cache-control", "private")],
    );
    match judged(Answered {
        credentials: Credentials::VariantKeyed,
        ..answered(200, private)
    }) {
        Judgement::Pass {
            response_says,
            hit_for_pass,
            ..
        } => assert_eq!((response_says, hit_for_pass), (true, false)),
        other => panic!("{other:?}"),
    }
}

/// A pass on the miss for `reason`; `says`: the response itself is to blame, and it speaks
/// for the URL (hit-for-pass).
fn pass(reason: Reason, says: bool) -> Judgement {
    Judgement::Pass {
        outcome: Outcome::forward(Fwd::Miss, Some(200), false, Some(reason)),
        response_says: says,
        hit_for_pass: says,
    }
}

fn ask_again() -> Judgement {
    Judgement::AskAgain(vec!["accept-language".into()])
}

fn stored() -> Judgement {
    Judgement::Store(Outcome::forward(Fwd::Miss, Some(200), true, None))
}

#[test]
pub(super) fn an_answer_the_origin_gave_because_the_shield_failed_open_says_so_unless_another_reason_does(
) {
    let store = verdict(&[], 200, &[("cache-control", "max-age=60")]);
    let private = verdict(&[], 200, &[("cache-control", "private")]);
    // (who answered, the verdict: its Cache-Status)
    let rows = [
        (
            AnsweredBy::Origin,
            &store,
            "edgecache; fwd=miss; fwd-status=200; stored",
        ),
        (
            AnsweredBy::Shield,
            &store,
            "edgecache; fwd=miss; fwd-status=200; stored",
        ),
        (
            AnsweredBy::OriginShieldUnavailable,
            &store,
            "edgecache; fwd=miss; fwd-status=200; stored; detail=shield-unavailable",
        ),
        (
            AnsweredBy::OriginShieldUnavailable,
            &private,
            "edgecache; fwd=miss; fwd-status=200; detail=private",
        ),
    ];
    for (by, verdict, expected) in rows {
        let judgement = judged(Answered {
            by,
            ..answered(200, verdict.clone())
        });
        let outcome = match judgement {
            Judgement::Store(outcome) | Judgement::Pass { outcome, .. } => outcome,
            other => panic!("{other:?}"),
        };
        assert_eq!(outcome.cache_status(), expected, "{by:?}");
    }
}

#[test]
fn an_answer_is_chosen_on_what_it_varies_on_only_when_the_origin_saw_it() {
    let varies = verdict(
        &[],
        200,
        &[
            ("cache-control", "max-age=60"),
            ("vary", "accept-language, cookie"),
        ],
    );
    let client: &[(&str, &str)] = &[("accept-language", "fr"), ("cookie", "s=1")];
    let list: Vec<(String, String)> = client
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let fields = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    // (fields the origin saw, credentials withheld, asked again already: the variance)
    const BOTH: &[&str] = &["accept-language", "cookie"];
    const LANGUAGE: &[&str] = &["accept-language"];
    const COOKIE: &[&str] = &["cookie"];
    let again = || Variance::Unsent(fields(LANGUAGE));
    use Variance::{Sent, Unsendable};
    let rows: &[(&[&str], &[&str], bool, Variance)] = &[
        (BOTH, &[], false, Sent),
        (COOKIE, &[], false, again()),
        (COOKIE, &[], true, Unsendable),
        (LANGUAGE, COOKIE, false, Unsendable),
    ];
    for (saw, withheld, again, expected) in rows {
        let variance = Variance::of(
            &varies,
            |name| saw.contains(&name),
            &fields(withheld),
            &list,
            *again,
        );
        assert_eq!(&variance, expected, "{saw:?} {withheld:?} {again}");
    }
    let not_stored = Storability::DontStore(Reason::NoStore);
    assert_eq!(
        Variance::of(&not_stored, |_| false, &[], &list, false),
        Variance::Sent,
        "an answer not stored is not asked for again"
    );
}

#[test]
fn storage_has_room_unless_no_tier_opened_or_the_body_is_said_to_be_too_long() {
    // (tiers opened, Content-Length, max_body_bytes: the room)
    let rows = [
        (2, Some(10), 10, Room::Fits),
        (2, None, 10, Room::Fits),
        (2, Some(11), 10, Room::TooLarge),
        (0, Some(11), 10, Room::NoTiers),
    ];
    for (tiers, length, max, expected) in rows {
        assert_eq!(
            Room::of(tiers, length, max),
            expected,
            "{tiers} {length:?} {max}"
        );
    }
}

#[test]
pub(super) fn a_304_an_origin_error_and_a_failed_origin() {
    let conditional = Answered {
        fetched: Fetched::Revalidating,
        ..answered(304, Storability::DontStore(Reason::UncacheableStatus))
    };
    assert_eq!(judged(conditional), Judgement::NotModified);
    // RFC 9111 §4.3.4: asked again without validators after a 304 for another response, the
    // origin says 304 once more: this client gets the stored body, nothing is kept.
    let reasked = Answered {
        fetched: Fetched::Reasked,
        fwd: Fwd::Stale,
        ..answered(304, Storability::DontStore(Reason::UncacheableStatus))
    };
    match judged(reasked) {
        Judgement::NotModifiedAlone(outcome) => assert_eq!(
            outcome.cache_status(),
            "edgecache; fwd=stale; fwd-status=304; detail=validator-mismatch"
        ),
        other => panic!("{other:?}"),
    }
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
        if_error: IfError::ServeStale,
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
pub(super) fn a_merged_304_refreshes_the_entry_unless_something_forbids_it() {
    let store = verdict(&[], 200, &[("cache-control", "max-age=60")]);
    match after_not_modified(Fwd::Stale, &store, false) {
        AfterNotModified::Refresh(outcome) => assert_eq!(
            seen(&outcome).cache_status(),
            "edgecache; fwd=stale; fwd-status=304; stored"
        ),
        other => panic!("{other:?}"),
    }
    let alone = |verdict: &Storability, beyond_key| match after_not_modified(
        Fwd::Stale,
        verdict,
        beyond_key,
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
        "a revalidation with a credential the key does not hold"
    );
    assert_eq!(
        alone(&Storability::DontStore(Reason::Private), true),
        (Reason::Credentials, false),
        "its private 304 never removes what others get"
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

/// What a request for a part does with the origin's answer, and what it reports.
pub(super) fn judged_part(answer: PartAnswered) -> PartJudgement {
    let judgement = judge_part(&answer);
    match &judgement {
        PartJudgement::Keep(outcome) | PartJudgement::Pass { outcome, .. } => {
            seen(outcome);
        }
        PartJudgement::Full => {}
    }
    judgement
}

pub(super) fn part_answered(status: u16, fit: Fit) -> PartAnswered {
    PartAnswered {
        fwd: Fwd::Miss,
        status,
        fit,
        credentials: Credentials::Keyed,
        replacing: false,
        room: Room::Fits,
        variance: Variance::Sent,
        verdict: part_verdict(&[("cache-control", "max-age=60")]),
    }
}

/// What HTTP caching says of a 206 with `fields` kept as a part.
fn part_verdict(fields: &[(&str, &str)]) -> Storability {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    part_storability(
        &RequestFacts::from_fields(&Vec::<(String, String)>::new()),
        &fields,
        &Overrides::default(),
        Exchange {
            request_ms: NOW,
            response_ms: NOW,
            sent_ms: NOW,
        },
    )
}

pub(super) fn fits() -> Fit {
    Fit::Fits {
        first: 0,
        last: 99,
        total: 1000,
        etag: "\"v1\"".into(),
    }
}

#[test]
pub(super) fn a_part_is_kept_only_when_it_is_what_was_asked() {
    match judged_part(part_answered(206, fits())) {
        PartJudgement::Keep(outcome) => assert_eq!(
            outcome.cache_status(),
            "edgecache; fwd=miss; fwd-status=206; stored"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        judged_part(part_answered(200, Fit::NotAsked)),
        PartJudgement::Full,
        "a whole response is judged as one"
    );
    let no_store = PartAnswered {
        verdict: part_verdict(&[("cache-control", "no-store")]),
        ..part_answered(206, fits())
    };
    // (answer, reason, whether the held parts go)
    let rows: Vec<(PartAnswered, Reason, bool)> = vec![
        (
            part_answered(206, Fit::NotAsked),
            Reason::PartMismatch,
            false,
        ),
        (part_answered(206, Fit::Changed), Reason::PartChanged, true),
        (
            part_answered(206, Fit::Unkeepable),
            Reason::PartialContent,
            false,
        ),
        (part_answered(206, Fit::TooLarge), Reason::TooLarge, false),
        (part_answered(416, Fit::NotAsked), Reason::Range, false),
        (part_answered(503, Fit::NotAsked), Reason::Range, false),
        (no_store, Reason::NoStore, false),
        (
            PartAnswered {
                credentials: Credentials::Own,
                replacing: true,
                ..part_answered(206, fits())
            },
            Reason::Credentials,
            false,
        ),
        (
            PartAnswered {
                credentials: Credentials::Own,
                ..part_answered(206, Fit::Changed)
            },
            Reason::PartChanged,
            false,
        ),
        (
            PartAnswered {
                room: Room::NoTiers,
                ..part_answered(206, fits())
            },
            Reason::StorageError,
            false,
        ),
        (
            PartAnswered {
                variance: Variance::Unsendable,
                ..part_answered(206, fits())
            },
            Reason::VaryUnsent,
            false,
        ),
    ];
    for (answer, reason, drops) in rows {
        let status = answer.status;
        match judged_part(answer) {
            PartJudgement::Pass { outcome, drop_held } => {
                assert_eq!(outcome.reason(), Some(reason), "{status} {reason:?}");
                assert_eq!(drop_held, drops, "{reason:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
