//! Before any lookup: whether a request is refused, goes to the admin API, is passed on as the
//! client sent it, or is looked up in the cache.

use crate::admin::path::AdminReach;
use crate::status::{Fwd, Outcome, Reason};

/// Marks requests edgecache sends, so a worker that forwards to itself stops at once: a
/// request carrying it has `looped` set.
pub const HOP_HEADER: &str = "x-edgecache-hop";

/// What the entry point knows of a request when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entering {
    /// The runtime's URL could be parsed.
    pub url_valid: bool,
    /// The policy in `wrangler.toml` is valid.
    pub config_valid: bool,
    /// Where its canonical path stands with respect to the admin path (`admin::path`).
    pub admin: AdminReach,
}

/// Who answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtEntry {
    /// Answer at once with `status`, asking the origin nothing.
    Refuse { status: u16, outcome: Outcome },
    /// The admin API, reporting `outcome`.
    Admin { outcome: Outcome },
    /// The request flow.
    Flow,
}

pub fn at_entry(entry: &Entering) -> AtEntry {
    if !entry.url_valid {
        return AtEntry::Refuse {
            status: 400,
            outcome: Outcome::bypass(Reason::RouteBypass),
        };
    }
    if !entry.config_valid {
        // A broken policy serves nothing from cache and asks the origin nothing.
        return AtEntry::Refuse {
            status: 500,
            outcome: Outcome::bypass(Reason::ConfigError),
        };
    }
    match entry.admin {
        AdminReach::Admin => AtEntry::Admin {
            outcome: Outcome::bypass(Reason::Admin),
        },
        // Another spelling of the admin path goes neither to the admin API nor, with what the
        // client meant for it (a token), to the origin.
        AdminReach::OtherSpelling => AtEntry::Refuse {
            status: 400,
            outcome: Outcome::bypass(Reason::Admin),
        },
        AdminReach::Outside => AtEntry::Flow,
    }
}

/// What the flow knows of a request before looking it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival<'a> {
    /// It carries edgecache's own hop field: edgecache sent it (a worker forwarding to itself).
    pub looped: bool,
    pub method: &'a str,
    /// A bypass rule matches its path or a reading of it.
    pub bypass: bool,
    /// It carries a cookie named in its route's `bypass_cookies` (`Config::bypass_cookie`).
    pub bypass_cookie: bool,
    /// It asks to switch protocols (`Upgrade`, RFC 9110 §7.8): a WebSocket.
    pub upgrade: bool,
}

/// What the flow does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Answer at once with `status`, asking the origin nothing.
    Refuse { status: u16, outcome: Outcome },
    /// Send it to the origin as the client sent it and store nothing; `invalidates`: a
    /// success invalidates what its URL names (RFC 9111 §4.4).
    Pass {
        fwd: Fwd,
        reason: Option<Reason>,
        invalidates: bool,
    },
    /// Look it up.
    Lookup,
}

/// RFC 9110 §9.2.1: the methods defined as safe. Any other method may change state.
pub fn is_safe(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The request fields an unsafe method's invalidation (RFC 9111 §4.4: "A cache MUST
/// invalidate the target URI") also looks past: besides the key its own request names, the
/// key the same request without them names. A browser sends `Origin` on every `POST`, and a
/// request carrying one is keyed on it (`request::plan`), so invalidating that key alone
/// would leave the copy everyone else gets, the one without `Origin`.
pub const INVALIDATES_ALSO_WITHOUT: &[&str] = &["origin"];

pub fn before_lookup(arrival: &Arrival) -> Before {
    if arrival.looped {
        return Before::Refuse {
            status: 508,
            outcome: Outcome::bypass(Reason::LoopDetected),
        };
    }
    if arrival.method != "GET" && arrival.method != "HEAD" {
        return Before::Pass {
            fwd: Fwd::Method,
            reason: None,
            invalidates: !is_safe(arrival.method),
        };
    }
    if arrival.bypass {
        return Before::Pass {
            fwd: Fwd::Bypass,
            reason: Some(Reason::RouteBypass),
            invalidates: false,
        };
    }
    if arrival.upgrade {
        // A WebSocket (or another protocol): a connection with the origin, never a response
        // to store; passed with its `Upgrade` and `Connection`, so the `101` carries the
        // socket back.
        return Before::Pass {
            fwd: Fwd::Bypass,
            reason: Some(Reason::Upgrade),
            invalidates: false,
        };
    }
    if arrival.bypass_cookie {
        // A logged-in user's request: the origin answers it, and no one else gets the answer.
        return Before::Pass {
            fwd: Fwd::Bypass,
            reason: Some(Reason::BypassCookie),
            invalidates: false,
        };
    }
    Before::Lookup
}

/// Whether a passed request whose origin answered `status` invalidates what its URL names
/// (`Before::Pass { invalidates }`): RFC 9111 §4.4, "A cache MUST invalidate the target URI
/// ... when it receives a non-error status code in response to an unsafe request method";
/// a 2xx or 3xx, then, never an error.
pub fn invalidates_after(invalidates: bool, status: u16) -> bool {
    invalidates && (200..400).contains(&status)
}
