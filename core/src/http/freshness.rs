//! How long a response is fresh and how old it was when it arrived (RFC 9111 §4.2): its
//! explicit lifetime, the heuristic one, and the corrected initial age.

use super::dates::http_date;
use super::directives::{self, CacheControl};
use super::fields::Fields;

/// When a response was asked for and when it arrived, in milliseconds since the epoch (kept
/// to the millisecond: rounding each to whole seconds could age a response by a second it
/// never spent).
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    pub request_ms: i64,
    pub response_ms: i64,
    /// When this edge sent the fetch, from the shield too (`request_ms` then is the answer's
    /// arrival): what the origin answered may have been made from then on, so a purge made
    /// after it reaches what it brought (`storage::record::Meta::purged_from`).
    pub sent_ms: i64,
}

impl Exchange {
    /// An answer asked for at `request_ms` that came at `response_ms`; `from_shield`: the
    /// shield answered it, whose `Age` counts from when the origin answered, so the time this
    /// location waited for that answer is not transit to add on top (§4.2.3's
    /// `response_delay`), or every answer the shield waited for would arrive stale.
    pub fn of(request_ms: i64, response_ms: i64, from_shield: bool) -> Exchange {
        Exchange {
            request_ms: if from_shield { response_ms } else { request_ms },
            response_ms,
            sent_ms: request_ms,
        }
    }

    /// The response time in whole seconds, for comparisons with HTTP dates.
    pub fn response_secs(&self) -> i64 {
        self.response_ms.div_euclid(1000)
    }
}

/// RFC 9111 §4.2.1, for a shared cache: `s-maxage`, else `max-age`, else `Expires − Date`.
pub fn explicit_lifetime(
    cc: &CacheControl,
    response: &(impl Fields + ?Sized),
    response_time: i64,
) -> Option<u64> {
    if let Some(s_maxage) = cc.s_maxage {
        return Some(s_maxage);
    }
    if let Some(max_age) = cc.max_age {
        return Some(max_age);
    }
    let expires = response.field("expires")?;
    // §5.3: "A cache recipient MUST interpret invalid date formats, especially the value
    // "0", as representing a time in the past (i.e., "already expired")."
    let Some(expires) = http_date(&expires) else {
        return Some(0);
    };
    let date = response
        .field("date")
        .and_then(|d| http_date(&d))
        .unwrap_or(response_time);
    // Like delta-seconds, saturating at 2^31 (a year-9999 `Expires` is not 250 billion s).
    Some((expires.saturating_sub(date).max(0) as u64).min(directives::DELTA_SECONDS_MAX))
}

/// The longest lifetime guessed from `Last-Modified` when `default_ttl` is 0.
const LAST_MODIFIED_HEURISTIC_MAX: u64 = 600;

/// RFC 9111 §4.2.2: with no explicit lifetime, 10% of the time since `Last-Modified` (a page
/// changed a minute ago is likely to change again soon), at most `default_ttl`; with no
/// `Last-Modified` either, `default_ttl` itself (Django's `CACHE_MIDDLEWARE_SECONDS`).
/// `default_ttl` 0 turns off the guess that has nothing to go on, not the RFC's own
/// heuristic, which is then capped at `LAST_MODIFIED_HEURISTIC_MAX`.
pub(super) fn heuristic_lifetime(
    response: &(impl Fields + ?Sized),
    default_ttl: u64,
    now: i64,
) -> u64 {
    let date = response
        .field("date")
        .and_then(|d| http_date(&d))
        .unwrap_or(now);
    let cap = match default_ttl {
        0 => LAST_MODIFIED_HEURISTIC_MAX,
        ttl => ttl,
    };
    match response
        .field("last-modified")
        .and_then(|lm| http_date(&lm))
    {
        Some(modified) if modified <= date => cap.min(((date - modified) / 10) as u64),
        Some(_) => 0,
        None => default_ttl,
    }
}

/// RFC 9111 §4.2.3, the age of a response when it arrived:
/// `corrected_initial_age = max(apparent_age, age_value + response_delay)`.
pub fn corrected_initial_age(response: &(impl Fields + ?Sized), exchange: Exchange) -> u64 {
    let age_value = response
        .field("age")
        .and_then(|a| directives::delta_seconds(a.split(',').next().unwrap_or("")))
        .unwrap_or(0);
    let apparent_age = response
        .field("date")
        .and_then(|d| http_date(&d))
        .map_or(0, |date| (exchange.response_secs() - date).max(0) as u64);
    let response_delay = ((exchange.response_ms - exchange.request_ms).max(0) / 1000) as u64;
    apparent_age
        .max(age_value.saturating_add(response_delay))
        .min(directives::DELTA_SECONDS_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::field_list as headers;
    use crate::http::fixtures::*;
    use crate::http::{format_http_date, Overrides};
    use crate::status::Reason;

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
    fn public_makes_other_statuses_heuristically_cacheable() {
        // §5.2.2.9: public "explicitly marks the response as cacheable".
        assert_eq!(
            lifetime(judge(&[], 302, &[("cache-control", "public")])),
            600
        );
    }

    #[test]
    fn the_wait_for_the_shields_origin_request_is_not_added_to_its_age() {
        let date = format_http_date(1_000);
        let answer = headers(&[("date", &date), ("age", "3")]);
        // Asked at 1,000 s, answered at 1,010 s: from the origin, 10 s of transit count.
        let direct = Exchange::of(1_000_000, 1_010_000, false);
        assert_eq!(corrected_initial_age(&answer, direct), 13);
        // From the shield, its Age (3 s since the origin answered it) and the Date say it.
        let shield = Exchange::of(1_000_000, 1_010_000, true);
        assert_eq!(corrected_initial_age(&answer, shield), 10);
    }

    #[test]
    fn the_corrected_initial_age_follows_section_4_2_3() {
        // apparent_age = max(0, response_time - date_value); corrected_age_value = age_value +
        // response_delay; corrected_initial_age = max(apparent_age, corrected_age_value).
        let date = format_http_date(NOW - 30);
        let ex = Exchange {
            request_ms: NOW * 1000 - 2_000,
            response_ms: NOW * 1000,
            sent_ms: NOW * 1000 - 2_000,
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
            sent_ms: NOW * 1000 - 1,
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
}
