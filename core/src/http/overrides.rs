//! The operator's settings that bear on one response: a route's TTL, lifetimes by status, the
//! heuristic and the stale windows, and what they say about a status.

use std::rc::Rc;

use crate::config::StatusTtl;

/// The operator's settings that bear on one response: a route's TTL override and lifetimes
/// by status, the configured heuristic, and the stale windows used when the response names
/// none.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub route_ttl: Option<u64>,
    /// Looked up in order; the first rule covering the status applies.
    pub ttl_by_status: Rc<[StatusTtl]>,
    pub default_ttl: u64,
    pub stale_while_revalidate: u64,
    pub stale_if_error: u64,
    /// The extension of the request's path, which a response's `Content-Type` must agree
    /// with to be stored under an override for a request with credentials.
    pub extension: Option<String>,
}

/// The statuses a route's `ttl` applies to: the successful and permanently redirecting ones
/// RFC 9110 calls heuristically cacheable. Errors (a `404`, a `503`) keep the origin's own
/// lifetime unless a `ttl_by_status` rule names them, so an override never keeps a passing
/// error for a day.
pub fn ttl_applies_to(status: u16) -> bool {
    matches!(status, 200 | 203 | 204 | 300 | 301 | 308)
}

/// What the operator's overrides say about a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOverride {
    /// The origin's own lifetime applies.
    None,
    /// This lifetime, in seconds, whatever the origin says of freshness.
    Lifetime(u64),
    /// A `ttl_by_status` rule of 0: never stored.
    Never,
}

impl Overrides {
    pub fn for_status(&self, status: u16) -> StatusOverride {
        if let Some(rule) = self.ttl_by_status.iter().find(|r| r.covers(status)) {
            return match rule.ttl {
                0 => StatusOverride::Never,
                ttl => StatusOverride::Lifetime(ttl),
            };
        }
        match self.route_ttl {
            Some(ttl) if ttl_applies_to(status) => StatusOverride::Lifetime(ttl),
            _ => StatusOverride::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fixtures::*;
    use crate::status::Reason;

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
}
