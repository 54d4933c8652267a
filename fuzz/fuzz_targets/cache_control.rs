//! `Cache-Control` parsing: never panics, lifetimes saturate at 2^31, field lists hold only
//! lowercase tokens, directive names are case-insensitive, and a restrictive directive on a
//! later field line (the runtime joins lines with ", ") is never swallowed by a broken one.
#![no_main]

use edgecache_core::http::directives::{delta_seconds, CacheControl, DELTA_SECONDS_MAX};
use libfuzzer_sys::fuzz_target;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

type Check = fn(&CacheControl) -> bool;

fuzz_target!(|value: &str| {
    let cc = CacheControl::parse(value);
    let lifetimes = [
        cc.max_age,
        cc.s_maxage,
        cc.min_fresh,
        cc.stale_while_revalidate,
        cc.stale_if_error,
        cc.max_stale.flatten(),
    ];
    for lifetime in lifetimes.into_iter().flatten() {
        assert!(lifetime <= DELTA_SECONDS_MAX, "{lifetime} from {value:?}");
    }
    for field in cc.private_fields.iter().chain(&cc.no_cache_fields) {
        assert!(!field.is_empty(), "empty field name from {value:?}");
        assert!(
            field
                .bytes()
                .all(|b| is_tchar(b) && !b.is_ascii_uppercase()),
            "field {field:?} from {value:?}"
        );
    }
    assert_eq!(
        CacheControl::parse(&value.to_ascii_uppercase()),
        cc,
        "case changed the reading of {value:?}"
    );

    let restrictive: [(&str, Check); 4] = [
        ("no-store", |c| c.no_store),
        ("private", |c| c.private),
        ("no-cache", |c| c.no_cache),
        ("must-revalidate", |c| c.must_revalidate),
    ];
    for (directive, holds) in restrictive {
        let joined = format!("{value}, {directive}");
        assert!(
            holds(&CacheControl::parse(&joined)),
            "{directive} on a later line was lost after {value:?}"
        );
    }

    // delta-seconds: digits (an unterminated opening quote tolerated), saturating.
    let trimmed = value.trim();
    let digits = trimmed.strip_prefix('"').unwrap_or(trimmed);
    let expected_some = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let parsed = delta_seconds(value);
    assert_eq!(parsed.is_some(), expected_some, "delta_seconds({value:?})");
    if let Some(n) = parsed {
        assert!(n <= DELTA_SECONDS_MAX);
        if let Ok(exact) = digits.parse::<u64>() {
            assert_eq!(n, exact.min(DELTA_SECONDS_MAX));
        } else {
            assert_eq!(n, DELTA_SECONDS_MAX);
        }
    }
});
