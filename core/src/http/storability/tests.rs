//! A table of what is never stored, and of what may be stored how, each quoting the rule it
//! checks.

use super::*;
use crate::http::field_list as headers;
use crate::http::fixtures::*;
use crate::http::{fields_to_store, Fields};

#[test]
fn never_stored_table() {
    // (request headers, status, response headers, reason, the rule)
    let cases: &[(FieldList, u16, FieldList, Reason, &str)] = &[
        (&[], 200, &[("cache-control", "no-store, max-age=60")], Reason::NoStore,
         "§3: the no-store cache directive is not present in the response"),
        (&[("cache-control", "no-store")], 200, &[("cache-control", "max-age=60")], Reason::RequestNoStore,
         "§5.2.1.5: a cache MUST NOT store any part of either this request or any response to it"),
        (&[], 200, &[("cache-control", "private, max-age=60")], Reason::Private,
         "§5.2.2.7: a shared cache MUST NOT store the response"),
        (&[], 200, &[("cache-control", "max-age=60"), ("set-cookie", "id=1")], Reason::SetCookie,
         "edgecache never shares one user's cookie with another"),
        (&[], 200, &[("cache-control", "max-age=60"), ("vary", "Accept, *")], Reason::VaryStar,
         "§4.1: a Vary header field value containing a member * always fails to match"),
        (&[("authorization", "Bearer x")], 200, &[("cache-control", "max-age=60")], Reason::Authorization,
         "§3.5: a shared cache MUST NOT use a cached response to a request with an Authorization header field"),
        (&[], 206, &[("cache-control", "max-age=60")], Reason::PartialContent,
         "§3.3: a cache that does not support Range MUST NOT store incomplete responses"),
        (&[], 304, &[("cache-control", "max-age=60")], Reason::UncacheableStatus,
         "§3: the response status code is final (a 304 has no representation to store)"),
        (&[], 302, &[], Reason::UncacheableStatus,
         "§3: 302 is not heuristically cacheable and gives no explicit expiration"),
        (&[], 500, &[], Reason::UncacheableStatus,
         "RFC 9110 §15.1: all other status codes are not heuristically cacheable"),
        (&[], 200, &[("cache-control", "no-cache, max-age=60")], Reason::NoCache,
         "§5.2.2.4: MUST NOT be used without successful validation (no revalidation yet)"),
        (&[], 200, &[("cache-control", "max-age=0")], Reason::StaleOnArrival,
         "§4.2: a response whose age exceeds its freshness lifetime is stale"),
        (&[], 200, &[("cache-control", "max-age=60"), ("age", "60")], Reason::StaleOnArrival,
         "§4.2.3: the Age from upstream caches counts against the lifetime"),
        (&[], 200, &[("expires", "0")], Reason::StaleOnArrival,
         "§5.3: invalid dates, especially 0, represent a time in the past"),
        (&[("cookie", "session=alice")], 200, &[], Reason::CookieWithoutFreshness,
         "edgecache guesses no lifetime for a response to a request with a cookie"),
    ];
    for (request, status, response, expected, rule) in cases {
        assert_eq!(
            reason(judge(request, *status, response)),
            *expected,
            "{rule}"
        );
    }
}

#[test]
fn authorization_is_allowed_by_public_s_maxage_or_must_revalidate() {
    // §3.5: "public", "s-maxage", "must-revalidate" allow shared caching of authorized responses.
    for cc in [
        "public, max-age=60",
        "s-maxage=60",
        "must-revalidate, max-age=60",
    ] {
        let result = judge(
            &[("authorization", "Bearer x")],
            200,
            &[("cache-control", cc)],
        );
        assert_eq!(lifetime(result), 60, "{cc}");
    }
    // Allowed, but without a lifetime: no guess is made for an authorized answer, but `public`.
    let validated = [
        ("cache-control", "must-revalidate"),
        ("last-modified", "Tue, 14 Nov 2022 22:13:20 GMT"),
    ];
    let authorized = [("authorization", "Bearer x")];
    assert_eq!(
        reason(judge(&authorized, 200, &validated)),
        Reason::Authorization
    );
    assert!(
        lifetime(judge(&[], 200, &validated)) > 0,
        "anonymous: heuristics apply"
    );
    assert!(lifetime(judge(&authorized, 200, &[("cache-control", "public")])) > 0);
}

#[test]
fn must_understand_overrides_no_store_for_understood_statuses_only() {
    let fields = [("cache-control", "max-age=3600, no-store, must-understand")];
    assert_eq!(lifetime(judge(&[], 200, &fields)), 3600);
    assert_eq!(lifetime(judge(&[], 404, &fields)), 3600);
    assert_eq!(reason(judge(&[], 599, &fields)), Reason::UncacheableStatus);
    assert_eq!(
        reason(judge(
            &[],
            599,
            &[("cache-control", "max-age=3600, must-understand")]
        )),
        Reason::UncacheableStatus,
        "an unknown status with must-understand is never stored"
    );
}

#[test]
fn a_request_cookie_allows_explicit_but_not_heuristic_freshness() {
    let cookie: &[(&str, &str)] = &[("cookie", "theme=dark")];
    assert_eq!(
        lifetime(judge(cookie, 200, &[("cache-control", "max-age=60")])),
        60
    );
    assert_eq!(
        lifetime(judge(cookie, 200, &[("cache-control", "public")])),
        600
    );
    let route = Overrides {
        route_ttl: Some(30),
        extension: Some("css".into()),
        ..overrides()
    };
    assert_eq!(
        lifetime(judge_with(
            cookie,
            200,
            &[("content-type", "text/css")],
            &route
        )),
        30,
        "a route's ttl is explicit"
    );
}

#[test]
fn under_an_override_a_credentialed_answer_must_match_its_extension() {
    // Cache deception: `/account;.css` answered with the account page must not be kept.
    let css = Overrides {
        route_ttl: Some(86400),
        extension: Some("css".into()),
        ..overrides()
    };
    let html: &[(&str, &str)] = &[("content-type", "text/html")];
    for credential in [
        ("cookie", "session=alice"),
        ("authorization", "Bearer x"),
        ("x-api-key", "k"),
    ] {
        let request = RequestFacts::of(
            &headers(&[credential]),
            &["authorization".into(), "cookie".into(), "x-api-key".into()],
        );
        let verdict = storability(&request, 200, &headers(html), &css, exchange());
        assert!(
            matches!(
                verdict,
                Storability::DontStore(Reason::ContentTypeMismatch | Reason::Authorization)
            ),
            "{credential:?}: {verdict:?}"
        );
    }
    assert_eq!(
        lifetime(judge_with(&[], 200, html, &css)),
        86400,
        "an anonymous answer is the same for everyone"
    );
    let no_extension = Overrides {
        extension: None,
        ..css
    };
    assert_eq!(
        reason(judge_with(&[("cookie", "s=1")], 200, html, &no_extension)),
        Reason::ContentTypeMismatch,
        "without an extension nothing agrees"
    );
}

#[test]
fn qualified_private_and_no_cache_strip_their_fields() {
    // §5.2.2.7: private="x" lets a shared cache store the response without the named fields.
    match judge(
        &[],
        200,
        &[(
            "cache-control",
            "max-age=60, private=\"x-user\", no-cache=\"x-token\"",
        )],
    ) {
        Storability::Store { strip_fields, .. } => {
            assert_eq!(strip_fields, vec!["x-user", "x-token"])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_date_named_by_no_cache_is_replaced_by_the_caches_own() {
    // §5.2.2.4: no-cache="date" keeps the origin's Date out of reuse; RFC 9110 §6.6.1 still
    // wants a Date on what is stored: the time the cache received it.
    let origin = headers(&[
        ("cache-control", "max-age=60, no-cache=date"),
        ("date", "Mon, 01 Jan 2001 00:00:00 GMT"),
    ]);
    let Storability::Store { strip_fields, .. } =
        judge(&[], 200, &[("cache-control", "max-age=60, no-cache=date")])
    else {
        panic!("stored");
    };
    assert_eq!(strip_fields, ["date"]);
    let stored = fields_to_store(origin, &strip_fields, NOW);
    assert_eq!(stored.field("date").as_deref(), Some(DATE));
}

#[test]
fn no_cache_and_stale_responses_with_validators_are_kept_for_revalidation() {
    // §5.2.2.4: no-cache responses may be stored, but "MUST NOT be used to satisfy any other
    // request without forwarding it for validation".
    let reuse = reuse_of(judge(
        &[],
        200,
        &[("cache-control", "no-cache"), ("etag", "\"v1\"")],
    ));
    assert!(reuse.no_cache && reuse.validators);
    let stale = judge(
        &[],
        200,
        &[("cache-control", "max-age=0"), ("last-modified", DATE)],
    );
    assert_eq!(lifetime(stale.clone()), 0);
    assert!(reuse_of(stale).validators);
}

#[test]
fn stale_windows_come_from_the_response_or_else_the_configuration() {
    // RFC 5861 §3 and §4.
    let configured = Overrides {
        stale_while_revalidate: 5,
        stale_if_error: 7,
        ..overrides()
    };
    let from_config = reuse_of(judge_with(
        &[],
        200,
        &[("cache-control", "max-age=60")],
        &configured,
    ));
    assert_eq!((from_config.swr, from_config.sie), (5, 7));
    let from_response = reuse_of(judge_with(
        &[],
        200,
        &[(
            "cache-control",
            "max-age=60, stale-while-revalidate=30, stale-if-error=300",
        )],
        &configured,
    ));
    assert_eq!((from_response.swr, from_response.sie), (30, 300));
}

#[test]
fn s_maxage_implies_proxy_revalidate_unless_stale_directives_are_given() {
    // §5.2.2.10: s-maxage "incorporates the semantics of the proxy-revalidate response directive".
    assert!(reuse_of(judge(&[], 200, &[("cache-control", "s-maxage=60")])).must_revalidate);
    assert!(
        !reuse_of(judge(
            &[],
            200,
            &[("cache-control", "s-maxage=60, stale-while-revalidate=30")]
        ))
        .must_revalidate
    );
    assert!(
        reuse_of(judge(
            &[],
            200,
            &[("cache-control", "max-age=60, must-revalidate")]
        ))
        .must_revalidate
    );
    assert!(
        reuse_of(judge(
            &[],
            200,
            &[("cache-control", "max-age=60, proxy-revalidate")]
        ))
        .must_revalidate
    );
}
