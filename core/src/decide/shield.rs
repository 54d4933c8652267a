//! The shield: a Durable Object class the worker exports, sharded by key, that every location
//! asks instead of the origin, so that one request per key reaches the origin at a time from
//! the whole fleet (as Cloudflare's Tiered Cache, Fastly's shielding and Varnish's one fetch
//! per object do).
//!
//! Each location keeps its own tiers (the memory tier, the Cache API) and asks the shield on a
//! miss; the shield keeps the shared tiers (KV, R2) and its own memory tier, coalesces the
//! requests of every location for one key into one origin request, and answers each with the
//! response as the origin sent it, fields for caches included, which the location then judges
//! and keeps by the same rules as an origin's answer. These are its choices; the worker's
//! `flow::shield` carries them out.

use crate::status::{Outcome, Reason};
use crate::storage::backend::{Backend, Scope};

/// The `Cache-Status` member the shield adds (RFC 9211 §2: each cache names itself; the list
/// reads from the origin to the client, so a location's answer says
/// `edgecache-shield; hit; …, edgecache; fwd=miss; …`).
pub const SHIELD_NAME: &str = "edgecache-shield";

/// Set by the shield on an answer it made up because the origin gave none (`origin-timeout`
/// or `origin-unreachable`): the location then acts as if its own origin request had failed
/// (stale-if-error, its error page) instead of storing the shield's error page.
pub const ORIGIN_FAILED_FIELD: &str = "edgecache-shield-origin-failed";

/// Set by the shield on an answer from its storage: when it stored it (ms since the epoch).
/// A location keeps its copy as stored then (`as_stored_at_shield`), so that a purge the
/// shield had not yet learnt of when it answered still reaches the location's copy.
pub const STORED_AT_FIELD: &str = "edgecache-shield-stored-at";

/// The shield's own fields: for locations alone, never stored, never shown to clients, and
/// dropped from an origin's answer (an origin's field of that name would read as the
/// shield's word).
pub const SHIELD_FIELDS: &[&str] = &[ORIGIN_FAILED_FIELD, STORED_AT_FIELD];

/// When a location's copy of an answer that came at `response_ms` counts as stored, and how
/// old it was then: for an answer from the shield's storage (`STORED_AT_FIELD`), when the
/// shield stored it, its age less the time it spent there (so its current age is unchanged).
/// A purge's registry holds each entry to when it was stored: a location that learns of a
/// purge before the shield does (each isolate's copy of the registry is trusted for
/// `purge_propagation_s`) would otherwise keep the shield's purged copy as stored after the
/// purge, for its whole lifetime.
pub fn as_stored_at_shield(
    response_ms: i64,
    initial_age: u64,
    shield_stored_at: Option<&str>,
) -> (i64, u64) {
    let Some(at) = shield_stored_at.and_then(|v| v.trim().parse::<i64>().ok()) else {
        return (response_ms, initial_age);
    };
    // Never later than the answer came (clocks differ a little between machines).
    let at = at.min(response_ms);
    let resident = ((response_ms - at) / 1000) as u64;
    (at, initial_age.saturating_sub(resident))
}

/// What the shield says in `ORIGIN_FAILED_FIELD` of an answer it made up because the origin
/// gave none (its error page, not stale content): `origin-timeout` or `origin-unreachable`.
pub fn origin_failed(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Forward {
            status: None,
            reason: Some(reason @ (Reason::OriginTimeout | Reason::OriginUnreachable)),
            ..
        } => Some(reason.as_str()),
        _ => None,
    }
}

/// The most the shield keeps back of a location's deadline for its answer's way back.
pub const ANSWER_MARGIN_MS: u64 = 1_000;

/// Set by a location on its request to the shield: when it gives up on the shield (ms since
/// the epoch), `origin_timeout_ms` after it asked.
pub const DEADLINE_FIELD: &str = "edgecache-shield-deadline";

/// How long the shield waits for the origin's headers (and a request of its own for another's
/// fetch of the same key): less than the location that asks has left of its wait for the
/// shield (`DEADLINE_FIELD`, read at `now_ms`; without it, `origin_timeout_ms`), by a fifth of
/// `origin_timeout_ms` (at most `ANSWER_MARGIN_MS`) for the answer's way back, so that the
/// shield's `origin-timeout` reaches the location before the location gives up on the shield.
/// Were both the same, the location's timer would fire first (the more so as the time the
/// shield took to start counts against it), it would ask the origin itself, and its client
/// would wait twice `origin_timeout_ms` for the same `504`, the origin being asked twice.
pub fn origin_timeout_at_shield(
    origin_timeout_ms: u64,
    now_ms: i64,
    deadline: Option<&str>,
) -> u64 {
    let margin = (origin_timeout_ms / 5).min(ANSWER_MARGIN_MS);
    let left = deadline
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map_or(origin_timeout_ms, |at| {
            (at - now_ms).clamp(0, origin_timeout_ms as i64) as u64
        });
    left.saturating_sub(margin)
}

/// Whether a request that waited for another's fetch of its key, which got no answer from
/// the origin (a timeout, a refused connection), asks the origin itself. On a route without
/// the shield it does (its own stale-if-error, its own try). On a shielded route, at the
/// shield and at a location, it does not: the origin was just asked for the key on behalf of
/// the whole fleet, so it answers that failure at once (stale-if-error, else its error page),
/// and a dead origin is asked once, not once per waiting request, and no client waits a
/// second `origin_timeout_ms` for the same `504`.
pub fn tries_after_failed_flight(shielded: bool) -> bool {
    !shielded
}

/// Where a request goes to on a miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Straight to the origin.
    Origin,
    /// To the shield object named `shard`.
    Shield { shard: String },
}

/// What a location knows when it is about to send a request whose answer may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sending<'a> {
    /// The route (or the site) has `shield = true`, and the worker has the binding.
    pub enabled: bool,
    /// `shield_shards`.
    pub shards: u32,
    /// The key the answer is stored under: the shard is chosen by it.
    pub key: &'a str,
    /// The request carries credentials (`Authorization`, `Cookie`, a `credential_headers`
    /// field): its answer may be that user's alone, so it never goes through the shield.
    pub credentials: bool,
    /// A request for a part of the body (`Range`): the location keeps parts itself.
    pub part: bool,
    /// Its key carries more than its route says (an ESI include's own `vary-headers` or
    /// `vary-cookies`): the shield, which keys by the route alone, would store it under a key
    /// another variant shares.
    pub keyed_beyond_route: bool,
}

/// Whether a miss goes to the shield, and to which shard.
pub fn via(sending: &Sending) -> Via {
    if !sending.enabled
        || sending.credentials
        || sending.part
        || sending.keyed_beyond_route
        || sending.shards == 0
    {
        return Via::Origin;
    }
    Via::Shield {
        shard: shard_name(sending.key, sending.shards),
    }
}

/// The object a key's requests go to: `shard-<n>` with `n` the key's FNV-1a hash modulo
/// `shards`, so every location picks the same one for a key, and keys spread evenly.
pub fn shard_name(key: &str, shards: u32) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("shard-{}", hash % u64::from(shards.max(1)))
}

/// Which of a route's backends a location reads and writes when the route is shielded: those
/// of one isolate or one data center (memory, the Cache API). The shared ones (KV, R2) are
/// the shield's.
pub fn location_tiers(backends: &[Backend]) -> Vec<Backend> {
    backends
        .iter()
        .copied()
        .filter(|b| b.describe().scope != Scope::Global)
        .collect()
}

/// The tiers the shield keeps for a route: its own memory tier first, then the route's
/// shared backends (KV, R2), which every location could read but only the shield writes.
pub fn shield_tiers(backends: &[Backend]) -> Vec<Backend> {
    let mut tiers = vec![Backend::Memory];
    tiers.extend(
        backends
            .iter()
            .copied()
            .filter(|b| b.describe().scope == Scope::Global),
    );
    tiers
}

/// The Durable Object location hints Cloudflare accepts (`locationHint`).
pub const LOCATION_HINTS: &[&str] = &[
    "wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sending(key: &str) -> Sending<'_> {
        Sending {
            enabled: true,
            shards: 16,
            key,
            credentials: false,
            part: false,
            keyed_beyond_route: false,
        }
    }

    #[test]
    fn an_anonymous_miss_on_a_shielded_route_goes_to_the_shard_of_its_key() {
        let via = via(&sending("site:1:https://example.com/a"));
        assert_eq!(
            via,
            Via::Shield {
                shard: shard_name("site:1:https://example.com/a", 16)
            }
        );
    }

    #[test]
    fn credentials_parts_includes_keyed_beyond_their_route_and_unshielded_routes_go_to_the_origin()
    {
        let rows: &[(&str, Sending)] = &[
            (
                "credentials",
                Sending {
                    credentials: true,
                    ..sending("k")
                },
            ),
            (
                "part",
                Sending {
                    part: true,
                    ..sending("k")
                },
            ),
            (
                "an include keyed beyond its route",
                Sending {
                    keyed_beyond_route: true,
                    ..sending("k")
                },
            ),
            (
                "off",
                Sending {
                    enabled: false,
                    ..sending("k")
                },
            ),
            (
                "no shards",
                Sending {
                    shards: 0,
                    ..sending("k")
                },
            ),
        ];
        for (case, row) in rows {
            assert_eq!(via(row), Via::Origin, "{case}");
        }
    }

    #[test]
    fn the_shard_is_a_fixed_function_of_the_key() {
        // Fixed values: every location, in every version of the worker, must pick the same.
        assert_eq!(shard_name("", 16), "shard-5");
        assert_eq!(
            shard_name("site:1:https://example.com/", 16),
            shard_name("site:1:https://example.com/", 16)
        );
        assert_eq!(shard_name("anything", 1), "shard-0");
    }

    #[test]
    fn keys_spread_over_every_shard() {
        let mut counts = [0u32; 16];
        for i in 0..16_000 {
            let shard = shard_name(&format!("site:1:https://example.com/p/{i}"), 16);
            let n: usize = shard["shard-".len()..].parse().unwrap();
            counts[n] += 1;
        }
        for (n, count) in counts.iter().enumerate() {
            assert!(
                (800..1200).contains(count),
                "shard {n} got {count} of 16,000"
            );
        }
    }

    #[test]
    fn only_an_error_page_for_an_origin_that_gave_nothing_is_an_origin_failure() {
        use crate::status::Fwd;
        let failed = Outcome::forward(Fwd::Miss, None, false, Some(Reason::OriginTimeout));
        assert_eq!(origin_failed(&failed), Some("origin-timeout"));
        let unreachable = Outcome::forward(Fwd::Miss, None, false, Some(Reason::OriginUnreachable));
        assert_eq!(origin_failed(&unreachable), Some("origin-unreachable"));
        // The origin's own 503 is an answer; so is stale content served on its failure.
        let answered = Outcome::forward(Fwd::Miss, Some(503), false, None);
        assert_eq!(origin_failed(&answered), None);
        let stale = Outcome::forward(Fwd::Stale, None, false, Some(Reason::StaleIfError));
        assert_eq!(origin_failed(&stale), None);
    }

    #[test]
    fn the_shield_gives_up_on_the_origin_before_a_location_gives_up_on_the_shield() {
        for timeout in [1, 100, 1_500, 10_000, 30_000, 120_000] {
            let at_shield = origin_timeout_at_shield(timeout, 0, None);
            assert!(at_shield <= timeout, "{timeout}");
            assert!(at_shield >= timeout * 4 / 5, "{timeout}");
        }
        assert_eq!(origin_timeout_at_shield(1_500, 0, None), 1_200);
        assert_eq!(origin_timeout_at_shield(30_000, 0, None), 29_000);
        // The location asked 400 ms ago (the shield took that long to start): 1,100 ms left,
        // less the margin.
        assert_eq!(origin_timeout_at_shield(1_500, 10_400, Some("11500")), 800);
        // Past its deadline, or a deadline further than origin_timeout_ms, or unreadable.
        assert_eq!(origin_timeout_at_shield(1_500, 12_000, Some("11500")), 0);
        assert_eq!(origin_timeout_at_shield(1_500, 0, Some("99999999")), 1_200);
        assert_eq!(origin_timeout_at_shield(1_500, 0, Some("soon")), 1_200);
    }

    #[test]
    fn only_an_unshielded_request_tries_the_origin_again_after_the_flight_it_waited_for_failed() {
        assert!(tries_after_failed_flight(false));
        assert!(!tries_after_failed_flight(true));
    }

    #[test]
    fn a_location_keeps_the_shields_copy_as_stored_when_the_shield_stored_it() {
        // Stored at the shield 5 s before it answered, 7 s old then: 2 s old when stored.
        assert_eq!(
            as_stored_at_shield(1_010_000, 7, Some("1005000")),
            (1_005_000, 2)
        );
        // Fresh from the origin (no field), or a field that cannot be read: as it came.
        assert_eq!(as_stored_at_shield(1_010_000, 7, None), (1_010_000, 7));
        assert_eq!(
            as_stored_at_shield(1_010_000, 7, Some("soon")),
            (1_010_000, 7)
        );
        // A shield's clock a little ahead: never stored later than it came.
        assert_eq!(
            as_stored_at_shield(1_010_000, 0, Some("1010300")),
            (1_010_000, 0)
        );
    }

    #[test]
    fn a_location_keeps_local_tiers_and_the_shield_the_shared_ones() {
        let all = [Backend::Memory, Backend::CacheApi, Backend::Kv, Backend::R2];
        assert_eq!(location_tiers(&all), [Backend::Memory, Backend::CacheApi]);
        assert_eq!(
            shield_tiers(&all),
            [Backend::Memory, Backend::Kv, Backend::R2]
        );
        assert_eq!(shield_tiers(&[Backend::CacheApi]), [Backend::Memory]);
    }
}
