//! Why a response was or was not served from cache, and the RFC 9211 `Cache-Status` header
//! that says so. The header, the log line and (later) the stats all read these enums, so the
//! vocabulary lives in one place.

use crate::config::Backend;

/// The name this cache uses in `Cache-Status` (RFC 9211 §2: "the cache's identifier").
pub const CACHE_NAME: &str = "edgecache";

/// RFC 9211 §2.2 `fwd`: why the request went forward to the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// Configured (route rule) or forced (not cacheable at all) to go to the origin.
    Bypass,
    /// The method is not one the cache answers.
    Method,
    /// No stored response matched the request.
    Miss,
    /// A stored response exists for the URL, but not for this request's `Vary` values.
    VaryMiss,
    /// A stored response matched but was stale.
    Stale,
    /// A stored response could have been used but the request's directives forbade it.
    Request,
    /// Stored parts held some of the range asked for: the origin was asked for the rest.
    Partial,
}

impl Fwd {
    /// Every kind of forward.
    pub const ALL: [Fwd; 7] = [
        Fwd::Bypass,
        Fwd::Method,
        Fwd::Miss,
        Fwd::VaryMiss,
        Fwd::Stale,
        Fwd::Request,
        Fwd::Partial,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fwd::Bypass => "bypass",
            Fwd::Method => "method",
            Fwd::Miss => "miss",
            Fwd::VaryMiss => "vary-miss",
            Fwd::Stale => "stale",
            Fwd::Request => "request",
            Fwd::Partial => "partial",
        }
    }
}

/// Why a request was bypassed or a response not stored: the `detail` of `Cache-Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    RouteBypass,
    ConfigError,
    LoopDetected,
    RequestNoStore,
    HeadNotStored,
    /// A `Range` request that no stored response answered: forwarded as it is.
    Range,
    NoStore,
    Private,
    SetCookie,
    CookieWithoutFreshness,
    VaryStar,
    Authorization,
    PartialContent,
    UncacheableStatus,
    NoCache,
    StaleOnArrival,
    TooLarge,
    BodyError,
    StorageError,
    OriginUnreachable,
    OriginTimeout,
    OnlyIfCached,
    StaleWhileRevalidate,
    MaxStale,
    StaleIfError,
    SoftPurged,
    Admin,
    /// Under a TTL override, the answer to a request with credentials was not of the type its
    /// path's extension names (cache deception armour).
    ContentTypeMismatch,
    /// A client asked for a refresh of an entry stored moments ago: answered from it.
    RefreshLimited,
    /// A request with credentials forced a refresh: its answer is not shared.
    Credentials,
    /// The answer varies on a field the origin was not sent, even when asked again.
    VaryUnsent,
    /// The control plane could not be asked for longer than `purge_grace_s`: no stored entry
    /// is known not to be purged, so none is served.
    PurgeStandingUnknown,
    /// A `206`'s `Content-Range` or length was not the range asked for: not kept.
    PartMismatch,
    /// A `206` of another version (or length) than the held parts: not kept, and the held
    /// parts dropped.
    PartChanged,
    /// The request carried a cookie named in `bypass_cookies` (a session): passed as sent.
    BypassCookie,
    /// The origin answered a revalidation with a `304` for another response (RFC 9111 §4.3.4:
    /// its validator matches none stored), and the same request without validators with a
    /// `304` again: the stored body is answered with the `304`'s fields, and nothing is kept.
    ValidatorMismatch,
    /// The route is shielded but its shield could not be asked (it threw, was overloaded or
    /// late): this location asked the origin itself (the shield fails open).
    ShieldUnavailable,
    /// The request asked to switch protocols (`Upgrade`: a WebSocket): passed as sent.
    Upgrade,
}

impl Reason {
    /// Every reason, in the order `position` numbers them.
    pub const ALL: [Reason; 38] = [
        Reason::RouteBypass,
        Reason::ConfigError,
        Reason::LoopDetected,
        Reason::RequestNoStore,
        Reason::HeadNotStored,
        Reason::Range,
        Reason::NoStore,
        Reason::Private,
        Reason::SetCookie,
        Reason::CookieWithoutFreshness,
        Reason::VaryStar,
        Reason::Authorization,
        Reason::PartialContent,
        Reason::UncacheableStatus,
        Reason::NoCache,
        Reason::StaleOnArrival,
        Reason::TooLarge,
        Reason::BodyError,
        Reason::StorageError,
        Reason::OriginUnreachable,
        Reason::OriginTimeout,
        Reason::OnlyIfCached,
        Reason::StaleWhileRevalidate,
        Reason::MaxStale,
        Reason::StaleIfError,
        Reason::SoftPurged,
        Reason::Admin,
        Reason::ContentTypeMismatch,
        Reason::RefreshLimited,
        Reason::Credentials,
        Reason::VaryUnsent,
        Reason::PurgeStandingUnknown,
        Reason::PartMismatch,
        Reason::PartChanged,
        Reason::BypassCookie,
        Reason::ValidatorMismatch,
        Reason::ShieldUnavailable,
        Reason::Upgrade,
    ];

    /// Its place in `ALL`. The match is exhaustive, so a new reason cannot be left out of it,
    /// and a test checks that `ALL` holds every position.
    pub fn position(self) -> usize {
        match self {
            Reason::RouteBypass => 0,
            Reason::ConfigError => 1,
            Reason::LoopDetected => 2,
            Reason::RequestNoStore => 3,
            Reason::HeadNotStored => 4,
            Reason::Range => 5,
            Reason::NoStore => 6,
            Reason::Private => 7,
            Reason::SetCookie => 8,
            Reason::CookieWithoutFreshness => 9,
            Reason::VaryStar => 10,
            Reason::Authorization => 11,
            Reason::PartialContent => 12,
            Reason::UncacheableStatus => 13,
            Reason::NoCache => 14,
            Reason::StaleOnArrival => 15,
            Reason::TooLarge => 16,
            Reason::BodyError => 17,
            Reason::StorageError => 18,
            Reason::OriginUnreachable => 19,
            Reason::OriginTimeout => 20,
            Reason::OnlyIfCached => 21,
            Reason::StaleWhileRevalidate => 22,
            Reason::MaxStale => 23,
            Reason::StaleIfError => 24,
            Reason::SoftPurged => 25,
            Reason::Admin => 26,
            Reason::ContentTypeMismatch => 27,
            Reason::RefreshLimited => 28,
            Reason::Credentials => 29,
            Reason::VaryUnsent => 30,
            Reason::PurgeStandingUnknown => 31,
            Reason::PartMismatch => 32,
            Reason::PartChanged => 33,
            Reason::BypassCookie => 34,
            Reason::ValidatorMismatch => 35,
            Reason::ShieldUnavailable => 36,
            Reason::Upgrade => 37,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::RouteBypass => "route-bypass",
            Reason::ConfigError => "config-error",
            Reason::LoopDetected => "loop-detected",
            Reason::RequestNoStore => "request-no-store",
            Reason::HeadNotStored => "head-not-stored",
            Reason::Range => "range",
            Reason::NoStore => "no-store",
            Reason::Private => "private",
            Reason::SetCookie => "set-cookie",
            Reason::CookieWithoutFreshness => "cookie-without-freshness",
            Reason::VaryStar => "vary-star",
            Reason::Authorization => "authorization",
            Reason::PartialContent => "partial-content",
            Reason::UncacheableStatus => "uncacheable-status",
            Reason::NoCache => "no-cache",
            Reason::StaleOnArrival => "stale-on-arrival",
            Reason::TooLarge => "too-large",
            Reason::BodyError => "body-error",
            Reason::StorageError => "storage-error",
            Reason::OriginUnreachable => "origin-unreachable",
            Reason::OriginTimeout => "origin-timeout",
            Reason::OnlyIfCached => "only-if-cached",
            Reason::StaleWhileRevalidate => "stale-while-revalidate",
            Reason::MaxStale => "max-stale",
            Reason::StaleIfError => "stale-if-error",
            Reason::SoftPurged => "soft-purged",
            Reason::Admin => "admin",
            Reason::ContentTypeMismatch => "content-type-mismatch",
            Reason::RefreshLimited => "refresh-limited",
            Reason::Credentials => "credentials",
            Reason::VaryUnsent => "vary-unsent",
            Reason::PurgeStandingUnknown => "purge-standing-unknown",
            Reason::PartMismatch => "part-mismatch",
            Reason::PartChanged => "part-changed",
            Reason::BypassCookie => "bypass-cookie",
            Reason::ValidatorMismatch => "validator-mismatch",
            Reason::ShieldUnavailable => "shield-unavailable",
            Reason::Upgrade => "upgrade",
        }
    }
}

/// The outcome of one request, as `Cache-Status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Served from storage, with the freshness left (seconds, negative once stale) and the
    /// tier that held it; `stale` says why a stale entry could be served.
    Hit {
        ttl: i64,
        tier: Backend,
        stale: Option<Reason>,
    },
    /// Went to the origin; `stored` says whether the answer is being kept, `reason` why not
    /// (or why the request could not use the cache at all); `collapsed` that it waited for
    /// another request's fetch instead of making its own.
    Forward {
        fwd: Fwd,
        status: Option<u16>,
        stored: bool,
        collapsed: bool,
        reason: Option<Reason>,
    },
}

impl Outcome {
    pub fn bypass(reason: Reason) -> Outcome {
        Outcome::forward(Fwd::Bypass, None, false, Some(reason))
    }

    pub fn forward(fwd: Fwd, status: Option<u16>, stored: bool, reason: Option<Reason>) -> Outcome {
        Outcome::Forward {
            fwd,
            status,
            stored,
            collapsed: false,
            reason,
        }
    }

    /// The member this cache adds to `Cache-Status`, e.g. `edgecache; hit; ttl=42; detail=memory`
    /// or `edgecache; fwd=miss; fwd-status=200; stored`.
    pub fn cache_status(&self) -> String {
        self.cache_status_named(CACHE_NAME)
    }

    /// The member as a cache called `name` adds it (the shield is `edgecache-shield`).
    pub fn cache_status_named(&self, name: &str) -> String {
        match self {
            Outcome::Hit { ttl, tier, stale } => {
                let detail = stale.map_or(tier.as_str(), Reason::as_str);
                format!("{name}; hit; ttl={ttl}; detail={detail}")
            }
            Outcome::Forward {
                fwd,
                status,
                stored,
                collapsed,
                reason,
            } => {
                let mut member = format!("{name}; fwd={}", fwd.as_str());
                if let Some(status) = status {
                    member.push_str(&format!("; fwd-status={status}"));
                }
                if *stored {
                    member.push_str("; stored");
                }
                if *collapsed {
                    member.push_str("; collapsed");
                }
                if let Some(reason) = reason {
                    member.push_str("; detail=");
                    member.push_str(reason.as_str());
                }
                member
            }
        }
    }

    /// Why the request was answered as it was, if a reason says it.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Outcome::Hit { stale, .. } => *stale,
            Outcome::Forward { reason, .. } => *reason,
        }
    }

    /// A short word for logs and stats: `hit`, `miss`, `bypass`, …
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Hit { .. } => "hit",
            Outcome::Forward { fwd, .. } => match fwd {
                Fwd::Bypass | Fwd::Method => "bypass",
                Fwd::Miss | Fwd::VaryMiss | Fwd::Request | Fwd::Partial => "miss",
                Fwd::Stale => "stale",
            },
        }
    }
}

/// RFC 9211 §2: caches append their member, so the list reads from origin to client.
pub fn append_cache_status(existing: Option<&str>, member: &str) -> String {
    match existing.map(str::trim).filter(|e| !e.is_empty()) {
        Some(existing) => format!("{existing}, {member}"),
        None => member.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_reports_ttl_and_tier() {
        let hit = Outcome::Hit {
            ttl: 42,
            tier: Backend::Memory,
            stale: None,
        };
        assert_eq!(hit.cache_status(), "edgecache; hit; ttl=42; detail=memory");
        assert_eq!(hit.label(), "hit");
    }

    #[test]
    fn a_stale_hit_reports_negative_ttl_and_why() {
        let hit = Outcome::Hit {
            ttl: -5,
            tier: Backend::Kv,
            stale: Some(Reason::StaleWhileRevalidate),
        };
        assert_eq!(
            hit.cache_status(),
            "edgecache; hit; ttl=-5; detail=stale-while-revalidate"
        );
    }

    #[test]
    fn a_stored_miss_reports_the_origin_status() {
        let miss = Outcome::forward(Fwd::Miss, Some(200), true, None);
        assert_eq!(
            miss.cache_status(),
            "edgecache; fwd=miss; fwd-status=200; stored"
        );
    }

    #[test]
    fn an_unstored_miss_says_why() {
        let miss = Outcome::forward(Fwd::Miss, Some(200), false, Some(Reason::SetCookie));
        assert_eq!(
            miss.cache_status(),
            "edgecache; fwd=miss; fwd-status=200; detail=set-cookie"
        );
    }

    #[test]
    fn a_collapsed_request_says_so() {
        let collapsed = Outcome::Forward {
            fwd: Fwd::Miss,
            status: Some(200),
            stored: false,
            collapsed: true,
            reason: None,
        };
        assert_eq!(
            collapsed.cache_status(),
            "edgecache; fwd=miss; fwd-status=200; collapsed"
        );
    }

    #[test]
    fn a_bypass_names_its_reason() {
        assert_eq!(
            Outcome::bypass(Reason::RouteBypass).cache_status(),
            "edgecache; fwd=bypass; detail=route-bypass"
        );
    }

    #[test]
    fn members_are_appended_after_upstream_caches() {
        assert_eq!(
            append_cache_status(None, "edgecache; hit"),
            "edgecache; hit"
        );
        assert_eq!(
            append_cache_status(Some("OriginCache; hit"), "edgecache; fwd=miss"),
            "OriginCache; hit, edgecache; fwd=miss"
        );
    }

    #[test]
    fn every_reason_is_listed_once_in_order() {
        for (i, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(reason.position(), i, "{reason:?}");
        }
        let names: std::collections::BTreeSet<&str> =
            Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len(), "names are distinct");
    }
}
