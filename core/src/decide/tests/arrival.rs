//! Rows before a lookup: at the entry point and as the flow receives a request.

use crate::admin::path::AdminReach;
use crate::decide::answer::passed;
use crate::decide::arrival::{at_entry, before_lookup, Arrival, AtEntry, Before, Entering};
use crate::status::{Fwd, Outcome, Reason};

use super::seen;

fn entry(url_valid: bool, config_valid: bool, admin: AdminReach) -> AtEntry {
    let at = at_entry(&Entering {
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
        bypass_cookie: false,
        upgrade: false,
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
pub(super) fn before_a_lookup() {
    let refused =
        |status_outcome: (u16, &Outcome)| (status_outcome.0, status_outcome.1.cache_status());
    let at_entry_refusal = |at: AtEntry| match at {
        AtEntry::Refuse { status, outcome } => (status, outcome.cache_status()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        at_entry_refusal(entry(false, true, AdminReach::Outside)),
        (400, "edgecache; fwd=bypass; detail=route-bypass".into())
    );
    assert_eq!(
        at_entry_refusal(entry(true, false, AdminReach::Admin)),
        (500, "edgecache; fwd=bypass; detail=config-error".into()),
        "a broken policy answers even its admin path with the error"
    );
    assert!(matches!(
        entry(true, true, AdminReach::Admin),
        AtEntry::Admin { .. }
    ));
    assert_eq!(
        at_entry_refusal(entry(true, true, AdminReach::OtherSpelling)),
        (400, "edgecache; fwd=bypass; detail=admin".into()),
        "another spelling of the admin path is refused, never forwarded"
    );
    assert_eq!(entry(true, true, AdminReach::Outside), AtEntry::Flow);
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
    assert_eq!(
        before(Arrival {
            upgrade: true,
            ..arrival("GET")
        }),
        Before::Pass {
            fwd: Fwd::Bypass,
            reason: Some(Reason::Upgrade),
            invalidates: false
        },
        "a WebSocket is a connection with the origin, never stored"
    );
    assert_eq!(
        before(Arrival {
            bypass_cookie: true,
            ..arrival("GET")
        }),
        Before::Pass {
            fwd: Fwd::Bypass,
            reason: Some(Reason::BypassCookie),
            invalidates: false
        }
    );
    assert_eq!(
        before(Arrival {
            bypass_cookie: true,
            ..arrival("POST")
        }),
        Before::Pass {
            fwd: Fwd::Method,
            reason: None,
            invalidates: true
        },
        "a logged-in user's POST still invalidates what it changes"
    );
    assert_eq!(pass("GET"), Before::Lookup);
    assert_eq!(pass("HEAD"), Before::Lookup);
}
