//! Which response field governs edgecache's own storage (RFC 9213): the targeted fields, most
//! specific first, `Surrogate-Control` read for edgecache, else `Cache-Control`.

use super::directives::CacheControl;
use super::fields::Fields;
use super::targeted;

/// Response fields that carry directives for edgecache's own storage, most specific first
/// (RFC 9213 §2.1). When one is present, valid and non-empty, `Cache-Control` and `Expires`
/// are ignored for storage. edgecache runs on Cloudflare's edge and takes
/// `Cloudflare-CDN-Cache-Control` (Cloudflare's own targeted field, which ranks above
/// `CDN-Cache-Control` for Cloudflare's caches) as meant for it: below its own field, above
/// the one every CDN reads.
pub const TARGETED_FIELDS: &[&str] = &[
    "edgecache-cache-control",
    "cloudflare-cdn-cache-control",
    "cdn-cache-control",
    "surrogate-control",
];

/// The targeted fields meant for edgecache alone, removed before a response reaches the
/// client: its own, `Cloudflare-CDN-Cache-Control` (which Cloudflare does not pass downstream
/// either) and `Surrogate-Control` (which Edge Architecture has a surrogate remove).
/// `CDN-Cache-Control` speaks to every CDN on the way and is passed on, as Cloudflare does.
pub const CONSUMED_FIELDS: &[&str] = &[
    "edgecache-cache-control",
    "cloudflare-cdn-cache-control",
    "surrogate-control",
];

/// The directives that govern edgecache's own storage of a response, and whether they came
/// from a targeted field.
pub struct Governing {
    pub cc: CacheControl,
    pub targeted: bool,
}

/// RFC 9213 §2.2: a cache "MUST select the first (in target list order) field with a valid,
/// non-empty value and use its value to determine the caching policy for the response, and
/// it MUST ignore the Cache-Control and Expires header fields in that response".
/// `Surrogate-Control` predates Structured Fields and is read as leniently as
/// `Cache-Control`; the others (`Cloudflare-CDN-Cache-Control` too) must be valid
/// dictionaries (`targeted`).
pub fn governing_directives(response: &(impl Fields + ?Sized)) -> Governing {
    for name in TARGETED_FIELDS {
        let Some(value) = response.field(name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let directives = if *name == "surrogate-control" {
            match surrogate_directives(&value) {
                // Every directive was for another surrogate: nothing here is ours.
                ours if ours.trim().is_empty() => continue,
                ours => ours,
            }
        } else {
            match targeted::as_cache_control(&value) {
                Some(directives) => directives,
                None => continue,
            }
        };
        return Governing {
            cc: CacheControl::parse(&directives),
            targeted: true,
        };
    }
    Governing {
        cc: CacheControl::parse(&response.field("cache-control").unwrap_or_default()),
        targeted: false,
    }
}

/// The name edgecache answers to in `Surrogate-Control` targets (`max-age=60;edgecache`) and
/// announces in `Surrogate-Capability`.
pub const SURROGATE_NAME: &str = "edgecache";

/// Edge Architecture's `Surrogate-Control`: a directive targeted at another surrogate
/// (`max-age=60;other`) is not ours, one targeted at us loses its target, and the part of
/// `max-age=60+30` after `+` (for a surrogate's own use) is dropped.
fn surrogate_directives(value: &str) -> String {
    value
        .split(',')
        .filter_map(|directive| match directive.split_once(';') {
            None => Some(directive),
            Some((directive, target)) => target
                .trim()
                .eq_ignore_ascii_case(SURROGATE_NAME)
                .then_some(directive),
        })
        .map(|d| d.split('+').next().unwrap_or(d))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fixtures::*;
    use crate::http::format_http_date;
    use crate::status::Reason;

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
}
