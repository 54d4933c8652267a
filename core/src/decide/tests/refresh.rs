//! Rows of what a fetch sends of the client's credentials, and of what its answer may change
//! for everyone with the key.

use crate::decide::answer::speaks_for_key;
use crate::decide::refresh::{facts_sent, sent, Fetching, KeyHolds, Sent};
use crate::status::Reason;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_stored_entry_is_refreshed_with_only_the_credentials_its_key_holds() {
    // What a request for the key sends on of `credential_headers`.
    let credentials = names(&["authorization", "cookie", "x-api-key"]);
    let session = [("cookie", "session=alice"), ("accept", "text/html")];
    let everything = [
        ("cookie", "session=alice; lang=de"),
        ("authorization", "Bearer t"),
        ("x-api-key", "k"),
    ];
    // (fetch, request fields, the route's vary_headers, the fields the response varies on,
    // the route's vary_cookies, withheld, beyond the key, beyond the URL's key, why)
    type Row<'a> = (
        Fetching,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
        (bool, bool),
        &'a str,
    );
    let rows: &[Row] = &[
        (
            Fetching::Stored,
            &session,
            &[],
            &[],
            &[],
            &["cookie"],
            (false, false),
            "a background or forced refresh leaves a session cookie behind",
        ),
        (
            Fetching::Stored,
            &everything,
            &[],
            &[],
            &[],
            &["authorization", "cookie", "x-api-key"],
            (false, false),
            "and every other credential",
        ),
        (
            Fetching::Stored,
            &session,
            &[],
            &[],
            &["lang"],
            &[],
            (false, false),
            "vary_cookies: the key's cookies go (only they are sent)",
        ),
        (
            Fetching::Stored,
            &session,
            &[],
            &["cookie"],
            &[],
            &[],
            (false, true),
            "an entry that varies on Cookie is that cookie's",
        ),
        (
            Fetching::Stored,
            &everything,
            &[],
            &["authorization"],
            &[],
            &["cookie", "x-api-key"],
            (false, true),
            "an entry keyed on Authorization is that token's",
        ),
        (
            Fetching::Stored,
            &everything,
            &["authorization"],
            &[],
            &[],
            &["cookie", "x-api-key"],
            (false, false),
            "a route keyed on Authorization",
        ),
        (
            Fetching::Stored,
            &[("accept", "text/html")],
            &[],
            &[],
            &[],
            &[],
            (false, false),
            "an anonymous refresh withholds nothing",
        ),
        (
            Fetching::Miss,
            &session,
            &[],
            &[],
            &[],
            &[],
            (true, true),
            "a miss is the client's own request",
        ),
        (
            Fetching::Miss,
            &session,
            &[],
            &["cookie"],
            &[],
            &[],
            (false, true),
            "a miss for a variant keyed on the cookie",
        ),
        (
            Fetching::Miss,
            &session,
            &[],
            &[],
            &["lang"],
            &[],
            (false, false),
            "a miss on a route keyed on cookies sends only those",
        ),
        (
            Fetching::Miss,
            &[("accept", "*/*")],
            &[],
            &[],
            &[],
            &[],
            (false, false),
            "an anonymous miss",
        ),
        (
            Fetching::Miss,
            &[("proxy-authorization", "x")],
            &[],
            &[],
            &[],
            &[],
            (false, false),
            "a field that is never sent on is not a credential here",
        ),
    ];
    for (
        fetching,
        request,
        route_fields,
        varies_on,
        cookies,
        withheld,
        (beyond_key, beyond_url),
        why,
    ) in rows
    {
        let route_fields = names(route_fields);
        let varies_on = names(varies_on);
        let cookies = names(cookies);
        let key = KeyHolds {
            fields: &route_fields,
            varies_on: &varies_on,
            cookies: &cookies,
        };
        let got = sent(*fetching, &credentials, &fields(request), &key);
        let want = Sent {
            withheld: names(withheld),
            beyond_key: *beyond_key,
            beyond_url: *beyond_url,
        };
        assert_eq!(got, want, "{why}");
    }
}

#[test]
fn a_refresh_is_judged_as_the_request_the_origin_saw() {
    let credentials = names(&["authorization", "cookie", "x-api-key"]);
    let request = fields(&[
        ("cookie", "session=alice"),
        ("x-api-key", "k"),
        ("cache-control", "no-cache"),
    ]);
    let all = facts_sent(&request, &credentials, &[]);
    assert!(all.has_cookie && all.has_authorization);
    let shared = facts_sent(&request, &credentials, &names(&["cookie", "x-api-key"]));
    assert!(
        !shared.has_credentials(),
        "withheld credentials were not sent"
    );
    assert!(
        shared.cache_control.no_cache,
        "the client's directives still apply to it"
    );
    let cookie_only = facts_sent(&request, &credentials, &names(&["x-api-key"]));
    assert!(cookie_only.has_cookie && !cookie_only.has_authorization);
}

#[test]
fn only_an_answer_to_what_the_key_holds_speaks_for_everyone() {
    // (reason, the request carried a credential the key does not hold, speaks for the key)
    let rows: &[(Reason, bool, bool)] = &[
        (Reason::Private, false, true),
        (Reason::Private, true, false),
        (Reason::NoStore, true, false),
        (Reason::SetCookie, true, false),
        (Reason::TooLarge, true, false),
        (Reason::SetCookie, false, true),
        (Reason::RequestNoStore, false, false),
        (Reason::Authorization, true, false),
        (Reason::Credentials, true, false),
    ];
    for (reason, beyond_key, speaks) in rows {
        assert_eq!(speaks_for_key(*reason, *beyond_key), *speaks, "{reason:?}");
    }
}
