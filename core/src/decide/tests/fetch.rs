//! Rows before a fetch for a key: the request sent.

use crate::decide::fetch::{before_fetch, Fetched, Prior};
use crate::decide::refresh::Fetching;
use crate::http::Reuse;
use crate::status::Fwd;
use crate::storage::record::{Keeping, Meta, Said};

fn stored(validators: bool) -> Meta {
    let said = Said {
        status: 200,
        headers: vec![("etag".into(), "\"v1\"".into())],
        tags: vec![],
    };
    let keeping = Keeping {
        reuse: Reuse {
            validators,
            ..Reuse::default()
        },
        lifetime: 60,
        ..Keeping::default()
    };
    let vary = vec!["accept-encoding".into()];
    Meta::response(
        "p:1:k".into(),
        "https://a.test/".into(),
        vary,
        said,
        keeping,
    )
}

/// What a row holds before the fetch.
#[derive(Debug, Clone, Copy)]
enum Held {
    Nothing,
    /// A stored response with validators.
    Entry,
    /// One without.
    Bare,
    /// Parts, and a part is asked for.
    Parts,
    /// No parts, and a part is asked for.
    Part,
}

#[test]
fn the_request_sent_follows_what_is_stored_and_what_was_asked() {
    use Fetched::{Head, Miss, Replacing, Revalidating};
    use Held::{Bare, Entry, Nothing, Part, Parts};
    let (with, without) = (stored(true), stored(false));
    let url_vary = ["accept-language".to_string()];
    // (fwd, HEAD, held: sent as GET, with validators, `Vary` fields sent, what the fetch is)
    // The `Vary` fields sent: the URL marker's, the stored entry's, or (a part) its own.
    const URL: Option<&str> = Some("accept-language");
    const OWN: Option<&str> = Some("accept-encoding");
    const PART: Option<&str> = None;
    use Fwd as F;
    type Row = (Fwd, bool, Held, bool, bool, Option<&'static str>, Fetched);
    let rows: &[Row] = &[
        (F::Miss, false, Nothing, false, false, URL, Miss),
        (F::Miss, true, Nothing, false, false, URL, Head),
        (F::Stale, false, Entry, false, true, OWN, Revalidating),
        // A HEAD refreshes a stored GET as a GET: the entry needs the body.
        (F::Stale, true, Entry, true, true, OWN, Revalidating),
        (F::Stale, false, Bare, false, false, OWN, Replacing),
        (F::Request, false, Entry, false, true, OWN, Revalidating),
        // A part sends the parts' own fields; held parts are refreshed for everyone.
        (F::Partial, false, Parts, false, false, PART, Replacing),
        (F::Miss, false, Part, false, false, PART, Miss),
    ];
    for &(fwd, head, held, as_get, validated, vary, fetched) in rows {
        let prior = Prior {
            fwd,
            head,
            stale: match held {
                Entry => Some(&with),
                Bare => Some(&without),
                Nothing | Parts | Part => None,
            },
            held_parts: matches!(held, Parts),
            part: matches!(held, Parts | Part),
            url_vary: &url_vary,
        };
        let sent = before_fetch(&prior);
        let row = format!("{fwd:?} head={head} {held:?}");
        assert_eq!(sent.as_get, as_get, "{row}");
        assert_eq!(!sent.validators.is_empty(), validated, "{row}");
        assert_eq!(sent.vary_fields, vary.map(|v| vec![v.to_string()]), "{row}");
        assert_eq!(sent.fetched, fetched, "{row}");
        let fetching = if fetched.replaces() {
            Fetching::Stored
        } else {
            Fetching::Miss
        };
        assert_eq!(
            sent.fetching, fetching,
            "{row}: for everyone when something is stored"
        );
        assert_eq!(
            sent.refresh,
            fwd == Fwd::Request,
            "{row}: a forced refresh asks the shield too"
        );
    }
    let sent = before_fetch(&Prior {
        fwd: Fwd::Stale,
        head: false,
        stale: Some(&with),
        held_parts: false,
        part: false,
        url_vary: &url_vary,
    });
    assert_eq!(
        sent.validators,
        [("if-none-match".to_string(), "\"v1\"".to_string())]
    );
}

#[test]
fn a_304_naming_no_stored_response_is_asked_again_without_validators() {
    let meta = stored(true);
    let prior = Prior {
        fwd: Fwd::Stale,
        head: false,
        stale: Some(&meta),
        held_parts: false,
        part: false,
        url_vary: &[],
    };
    let mut sent = before_fetch(&prior);
    sent.without_validators();
    assert!(sent.validators.is_empty());
    assert_eq!(sent.fetched, Fetched::Reasked);
}
