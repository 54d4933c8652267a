//! A table of storability and freshness cases, each quoting the rule it checks.

use super::*;

const NOW: i64 = 1_700_000_000;
const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT"; // == NOW

use super::field_list as headers;

fn exchange() -> Exchange {
    Exchange {
        request_ms: NOW * 1000,
        response_ms: NOW * 1000,
    }
}

fn overrides() -> Overrides {
    Overrides {
        route_ttl: None,
        default_ttl: 600,
        ..Overrides::default()
    }
}

fn judge(request: &[(&str, &str)], status: u16, response: &[(&str, &str)]) -> Storability {
    judge_with(request, status, response, &overrides())
}

fn judge_with(
    request: &[(&str, &str)],
    status: u16,
    response: &[(&str, &str)],
    overrides: &Overrides,
) -> Storability {
    let request = RequestFacts::from_fields(&headers(request));
    storability(&request, status, &headers(response), overrides, exchange())
}

fn lifetime(result: Storability) -> u64 {
    match result {
        Storability::Store { lifetime, .. } => lifetime,
        other => panic!("expected Store, got {other:?}"),
    }
}

fn reason(result: Storability) -> Reason {
    match result {
        Storability::DontStore(reason) => reason,
        other => panic!("expected DontStore, got {other:?}"),
    }
}

type FieldList<'a> = &'a [(&'a str, &'a str)];

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
}

#[test]
fn s_maxage_overrides_max_age_which_overrides_expires() {
    // §4.2.1: "If the cache is shared and the s-maxage response directive is present, use its
    // value, or if the max-age response directive is present, use its value, or if the Expires
    // response header field is present, use its value minus the value of the Date".
    let expires = format_http_date(NOW + 900);
    assert_eq!(
        lifetime(judge(
            &[],
            200,
            &[
                ("cache-control", "max-age=60, s-maxage=120"),
                ("expires", &expires),
                ("date", DATE)
            ]
        )),
        120
    );
    assert_eq!(
        lifetime(judge(
            &[],
            200,
            &[
                ("cache-control", "max-age=60"),
                ("expires", &expires),
                ("date", DATE)
            ]
        )),
        60
    );
    assert_eq!(
        lifetime(judge(&[], 200, &[("expires", &expires), ("date", DATE)])),
        900
    );
}

#[test]
fn expires_without_date_counts_from_the_response_time() {
    let expires = format_http_date(NOW + 300);
    assert_eq!(lifetime(judge(&[], 200, &[("expires", &expires)])), 300);
}

#[test]
fn a_far_future_expires_saturates_like_delta_seconds() {
    let fields = [("expires", "Fri, 31 Dec 9999 23:59:59 GMT")];
    assert_eq!(
        lifetime(judge(&[], 200, &fields)),
        directives::DELTA_SECONDS_MAX
    );
}

#[test]
fn heuristic_freshness_uses_the_default_ttl_for_heuristically_cacheable_statuses() {
    // RFC 9110 §15.1: 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414 and 501.
    for status in [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501] {
        assert_eq!(lifetime(judge(&[], status, &[])), 600, "status {status}");
    }
}

#[test]
fn heuristic_freshness_is_capped_at_a_tenth_of_the_last_modified_age() {
    // §4.2.2: "a typical setting of this fraction might be 10%".
    let modified = format_http_date(NOW - 1000);
    assert_eq!(
        lifetime(judge(
            &[],
            200,
            &[("date", DATE), ("last-modified", &modified)]
        )),
        100
    );
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
fn a_default_ttl_of_zero_guesses_only_from_last_modified() {
    let strict = Overrides {
        default_ttl: 0,
        ..overrides()
    };
    assert_eq!(
        reason(judge_with(&[], 200, &[("date", DATE)], &strict)),
        Reason::StaleOnArrival,
        "nothing to guess from: not stored"
    );
    let modified = format_http_date(NOW - 100_000);
    assert_eq!(
        lifetime(judge_with(
            &[],
            200,
            &[("date", DATE), ("last-modified", &modified)],
            &strict
        )),
        600,
        "10% of the Last-Modified age, capped"
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
fn another_credential_header_counts_as_authorization() {
    let request = RequestFacts::of(&headers(&[("x-api-key", "k")]), &["x-api-key".into()]);
    assert!(request.has_authorization);
    assert_eq!(
        storability(&request, 200, &headers(&[]), &overrides(), exchange()),
        Storability::DontStore(Reason::Authorization)
    );
}

#[test]
fn lifetimes_by_status_override_the_route_ttl_and_zero_never_stores() {
    let rules = Overrides {
        route_ttl: Some(3600),
        ttl_by_status: vec![
            crate::config::StatusTtl {
                first: 404,
                last: 404,
                ttl: 60,
            },
            crate::config::StatusTtl {
                first: 500,
                last: 599,
                ttl: 0,
            },
            crate::config::StatusTtl {
                first: 503,
                last: 503,
                ttl: 5,
            },
        ]
        .into(),
        ..overrides()
    };
    assert_eq!(lifetime(judge_with(&[], 404, &[], &rules)), 60);
    assert_eq!(lifetime(judge_with(&[], 200, &[], &rules)), 3600);
    assert_eq!(
        reason(judge_with(
            &[],
            503,
            &[("cache-control", "max-age=600")],
            &rules
        )),
        Reason::UncacheableStatus,
        "the first rule that covers the status applies"
    );
    assert_eq!(
        lifetime(judge_with(
            &[],
            410,
            &[],
            &Overrides {
                route_ttl: Some(3600),
                ..overrides()
            }
        )),
        600,
        "a 410 no rule names keeps the heuristic, not the route's day"
    );
}

#[test]
fn public_makes_other_statuses_heuristically_cacheable() {
    // §5.2.2.9: public "explicitly marks the response as cacheable".
    assert_eq!(
        lifetime(judge(&[], 302, &[("cache-control", "public")])),
        600
    );
}

#[test]
fn a_route_ttl_overrides_the_origins_lifetime() {
    let route = Overrides {
        route_ttl: Some(3600),
        default_ttl: 600,
        ..Overrides::default()
    };
    assert_eq!(
        lifetime(judge_with(
            &[],
            200,
            &[("cache-control", "max-age=0")],
            &route
        )),
        3600
    );
    assert_eq!(
        reason(judge_with(&[], 500, &[], &route)),
        Reason::UncacheableStatus,
        "a route ttl never keeps a server error"
    );
    assert_eq!(
        lifetime(judge_with(
            &[],
            404,
            &[("cache-control", "max-age=60")],
            &route
        )),
        60,
        "an error keeps the origin's own lifetime"
    );
}

#[test]
fn a_route_ttl_never_overrides_privacy() {
    let route = Overrides {
        route_ttl: Some(3600),
        default_ttl: 600,
        ..Overrides::default()
    };
    assert_eq!(
        reason(judge_with(
            &[],
            200,
            &[("cache-control", "private")],
            &route
        )),
        Reason::Private
    );
    assert_eq!(
        reason(judge_with(&[], 200, &[("set-cookie", "a=b")], &route)),
        Reason::SetCookie
    );
    assert_eq!(
        reason(judge_with(
            &[],
            200,
            &[("cache-control", "no-store")],
            &route
        )),
        Reason::NoStore
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
fn vary_fields_are_lowercased_and_deduplicated() {
    match judge(
        &[],
        200,
        &[
            ("cache-control", "max-age=60"),
            ("vary", "Accept-Language, accept-language"),
            ("vary", "Accept-Encoding"),
        ],
    ) {
        Storability::Store { vary, .. } => {
            assert_eq!(vary, vec!["accept-language", "accept-encoding"])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_corrected_initial_age_follows_section_4_2_3() {
    // apparent_age = max(0, response_time - date_value); corrected_age_value = age_value +
    // response_delay; corrected_initial_age = max(apparent_age, corrected_age_value).
    let date = format_http_date(NOW - 30);
    let ex = Exchange {
        request_ms: NOW * 1000 - 2_000,
        response_ms: NOW * 1000,
    };
    assert_eq!(corrected_initial_age(&headers(&[("date", &date)]), ex), 30);
    assert_eq!(
        corrected_initial_age(&headers(&[("date", &date), ("age", "100")]), ex),
        102
    );
    assert_eq!(corrected_initial_age(&headers(&[]), ex), 2);
    // A 2 ms round trip across a second boundary is not a second of age.
    let quick = Exchange {
        request_ms: NOW * 1000 - 1,
        response_ms: NOW * 1000 + 1,
    };
    assert_eq!(corrected_initial_age(&headers(&[]), quick), 0);
}

#[test]
fn malformed_age_and_dates_degrade_safely() {
    let ex = exchange();
    assert_eq!(corrected_initial_age(&headers(&[("age", "-5")]), ex), 0);
    assert_eq!(corrected_initial_age(&headers(&[("age", "abc")]), ex), 0);
    assert_eq!(
        corrected_initial_age(&headers(&[("age", "99999999999999999999")]), ex),
        directives::DELTA_SECONDS_MAX
    );
    assert_eq!(
        corrected_initial_age(&headers(&[("date", "yesterday")]), ex),
        0
    );
    // A Date in the future does not make the response younger than zero.
    assert_eq!(
        corrected_initial_age(&headers(&[("date", &format_http_date(NOW + 100))]), ex),
        0
    );
}

#[test]
fn all_three_http_date_formats_parse() {
    assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784111777));
    assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784111777));
    assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(784111777));
    assert_eq!(http_date("0"), None);
    assert_eq!(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

#[test]
fn request_no_cache_and_pragma_forbid_stored_responses() {
    // §5.2.1.4 no-cache; §5.4 Pragma only when Cache-Control is absent. The entry is one
    // second old and fresh for a minute.
    let reuse_for = |list: &[(&str, &str)]| {
        let facts = RequestFacts::from_fields(&headers(list));
        verdict(&Reuse::default(), 1, 60, &facts.cache_control)
    };
    assert_eq!(
        reuse_for(&[("cache-control", "no-cache")]),
        Verdict::Revalidate
    );
    assert_eq!(
        reuse_for(&[("cache-control", "max-age=0")]),
        Verdict::Revalidate
    );
    assert_eq!(reuse_for(&[("pragma", "no-cache")]), Verdict::Revalidate);
    assert_eq!(
        reuse_for(&[("pragma", "no-cache"), ("cache-control", "max-age=5")]),
        Verdict::Fresh
    );
    assert_eq!(reuse_for(&[]), Verdict::Fresh);
}

fn reuse_of(result: Storability) -> Reuse {
    match result {
        Storability::Store { reuse, .. } => reuse,
        other => panic!("expected Store, got {other:?}"),
    }
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

#[test]
fn targeted_fields_take_precedence_over_cache_control_and_expires() {
    // RFC 9213 §2.2: use the first valid targeted field "and ignore the Cache-Control and
    // Expires header fields in that response".
    let expires = format_http_date(NOW + 900);
    let cdn = judge(
        &[],
        200,
        &[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=120"),
            ("expires", &expires),
        ],
    );
    assert_eq!(lifetime(cdn), 120);
    let ours = judge(
        &[],
        200,
        &[
            ("cdn-cache-control", "max-age=120"),
            ("edgecache-cache-control", "max-age=30"),
        ],
    );
    assert_eq!(lifetime(ours), 30);
    let surrogate = judge(
        &[],
        200,
        &[
            ("cache-control", "private"),
            ("surrogate-control", "max-age=45+30, content=\"ESI/1.0\""),
        ],
    );
    assert_eq!(lifetime(surrogate), 45);
    let targeted = judge(
        &[],
        200,
        &[
            ("cache-control", "no-store"),
            (
                "surrogate-control",
                "max-age=3600;edgecache, no-store;other-cdn",
            ),
        ],
    );
    assert_eq!(
        lifetime(targeted),
        3600,
        "ours applies, another surrogate's does not"
    );
    let elsewhere = judge(
        &[],
        200,
        &[
            ("cache-control", "max-age=5"),
            ("surrogate-control", "max-age=3600;other-cdn"),
        ],
    );
    assert_eq!(
        lifetime(elsewhere),
        5,
        "nothing here is ours: Cache-Control decides"
    );
    assert_eq!(
        reason(judge(
            &[],
            200,
            &[
                ("cache-control", "max-age=60"),
                ("cdn-cache-control", "no-store")
            ]
        )),
        Reason::NoStore
    );
    let empty = judge(
        &[],
        200,
        &[("cache-control", "max-age=60"), ("cdn-cache-control", "  ")],
    );
    assert_eq!(lifetime(empty), 60, "an empty targeted field is ignored");
}

#[test]
fn an_invalid_structured_targeted_field_is_ignored_for_cache_control() {
    // RFC 9213 §2.2 selects the first field "with a valid, non-empty value": a CDN-only
    // policy with a typo must not store what Cache-Control forbids.
    for cdn in [
        "max-age=10000, &&&&&",
        "max-age=\"10000\"",
        "max-age =100",
        "max-age=1.5",
    ] {
        let verdict = judge(
            &[],
            200,
            &[("cache-control", "no-store"), ("cdn-cache-control", cdn)],
        );
        assert_eq!(reason(verdict), Reason::NoStore, "{cdn}");
    }
    let next = judge(
        &[],
        200,
        &[
            ("cache-control", "no-store"),
            ("edgecache-cache-control", "max-age=?1"),
            ("cdn-cache-control", "max-age=90"),
        ],
    );
    assert_eq!(
        lifetime(next),
        90,
        "an invalid field gives way to the next one"
    );
}

#[test]
fn cloudflare_cdn_cache_control_ranks_below_ours_and_above_cdn_cache_control() {
    let over_cdn = judge(
        &[],
        200,
        &[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=120"),
            ("cloudflare-cdn-cache-control", "max-age=300"),
        ],
    );
    assert_eq!(lifetime(over_cdn), 300, "it wins over CDN-Cache-Control");
    let under_ours = judge(
        &[],
        200,
        &[
            ("cloudflare-cdn-cache-control", "max-age=300"),
            ("edgecache-cache-control", "max-age=30"),
        ],
    );
    assert_eq!(
        lifetime(under_ours),
        30,
        "edgecache's own field wins over it"
    );
    assert_eq!(
        reason(judge(
            &[],
            200,
            &[
                ("cache-control", "public, max-age=60"),
                ("cdn-cache-control", "max-age=60"),
                ("cloudflare-cdn-cache-control", "no-store"),
            ]
        )),
        Reason::NoStore,
        "its no-store keeps the response out"
    );
    // The same RFC 9213 parsing: an invalid value gives way to the next field.
    for invalid in [
        "max-age=\"300\"",
        "max-age=300,",
        "MAX-AGE=300",
        "max-age=1.5",
    ] {
        let next = judge(
            &[],
            200,
            &[
                ("cache-control", "no-store"),
                ("cloudflare-cdn-cache-control", invalid),
                ("cdn-cache-control", "max-age=90"),
            ],
        );
        assert_eq!(lifetime(next), 90, "{invalid}");
    }
}

#[test]
fn cloudflare_cdn_cache_control_is_consumed_and_cdn_cache_control_passed_on() {
    assert!(CONSUMED_FIELDS.contains(&"cloudflare-cdn-cache-control"));
    assert!(!CONSUMED_FIELDS.contains(&"cdn-cache-control"));
    for field in CONSUMED_FIELDS {
        assert!(
            TARGETED_FIELDS.contains(field),
            "{field} is a targeted field"
        );
    }
}

#[test]
fn stored_fields_drop_hop_by_hop_and_connection_named_fields() {
    let stored = fields_to_store(
        headers(&[
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "5"),
            ("content-length", "3"),
            ("proxy-authentication-info", "nextnonce=abc"),
            ("x-user", "u"),
            ("etag", "\"a\""),
        ]),
        &["x-user".to_string()],
        NOW,
    );
    assert_eq!(stored, headers(&[("etag", "\"a\""), ("date", DATE)]));
}

#[test]
fn all_three_http_date_formats_are_read_in_any_case() {
    // RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP header field
    // MUST accept all three HTTP-date formats".
    let expected = Some(784_111_777);
    assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
    assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
    assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), expected);
    assert_eq!(http_date("SUN, 06 NOV 1994 08:49:37 gmt"), expected);
    assert_eq!(http_date("sunday, 06-nov-94 08:49:37 Gmt"), expected);
    assert_eq!(http_date("sun nov  6 08:49:37 1994"), expected);
}

#[test]
fn other_date_shapes_are_invalid() {
    for invalid in [
        "Thu, 18 Aug 2050 02:01:18 UTC",
        "Thu, 18 Aug 50 02:01:18 GMT",
        "Thu 18 Aug 2050 02:01:18 GMT",
        "Thu, 18  Aug  2050 02:01:18 GMT",
        "Thu, 18-Aug-2050 02:01:18 GMT",
        "Thu, 18 Aug 2050 02.01.18 GMT",
        "Thu, 18 Aug 2050 2:01:18 GMT",
        "0",
        "Thursday, 18 Aug 2050 02:01:18 GMT",
    ] {
        assert_eq!(http_date(invalid), None, "{invalid}");
    }
}
