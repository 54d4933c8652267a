//! HTTP-dates (RFC 9110 §5.6.7): read in all three formats, written as IMF-fixdate.

/// An HTTP-date (RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP
/// header field MUST accept all three HTTP-date formats": IMF-fixdate, RFC 850 and asctime) as
/// seconds since the epoch. Day and month names and `GMT` are read in any case
/// (`THU, 18 AUG 2050 02:01:18 gmt`), as the HTTP cache test suite expects; anything else
/// that is not one of the three formats (`UTC`, a two-digit year outside RFC 850, missing
/// commas, extra spaces) is invalid. A day name that does not match the date
/// (`Thu Aug  8 02:01:18 2050`, a Monday) is read by its date, as Squid, Varnish, Apache and
/// browsers read it: the name is redundant with the date it precedes.
pub fn http_date(value: &str) -> Option<i64> {
    let canonical = canonical_date_names(value.trim());
    exact(&canonical).or_else(|| with_its_own_day_name(&canonical))
}

fn exact(value: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(value).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_secs()).ok()
}

/// `value` read with each day name of its own length in place of its own (httpdate refuses a
/// date whose day name is not the date's); one of them at most is the date's.
fn with_its_own_day_name(value: &str) -> Option<i64> {
    const SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const LONG: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let length = value.find(|c: char| !c.is_ascii_alphabetic())?;
    let (name, rest) = value.split_at(length);
    let names = if SHORT.contains(&name) {
        &SHORT
    } else if LONG.contains(&name) {
        &LONG
    } else {
        return None;
    };
    names
        .iter()
        .filter(|other| **other != name)
        .find_map(|other| exact(&format!("{other}{rest}")))
}

/// Day names, month names and `GMT` of an HTTP-date in the case the formats spell them.
fn canonical_date_names(value: &str) -> String {
    const NAMES: &[&str] = &[
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
        "GMT",
    ];
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while !rest.is_empty() {
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        if letters == 0 {
            let next = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..next]);
            rest = &rest[next..];
            continue;
        }
        let word = &rest[..letters];
        match NAMES.iter().find(|name| name.eq_ignore_ascii_case(word)) {
            Some(name) => out.push_str(name),
            None => out.push_str(word),
        }
        rest = &rest[letters..];
    }
    out
}

/// Formats seconds since the epoch as an IMF-fixdate, for the `Date` a cache must add.
pub fn format_http_date(secs: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    httpdate::fmt_http_date(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_http_date_formats_parse() {
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784111777));
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784111777));
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(784111777));
        assert_eq!(http_date("0"), None);
        assert_eq!(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn all_three_http_date_formats_are_read_in_any_case() {
        // RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP header field
        // MUST accept all three HTTP-date formats".
        let expected = Some(784_111_777);
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), expected);
        assert_eq!(http_date("SUN, 06 NOV 1994 08:49:37 gmt"), expected);
        assert_eq!(http_date("sunday, 06-nov-94 08:49:37 Gmt"), expected);
        assert_eq!(http_date("sun nov  6 08:49:37 1994"), expected);
    }

    #[test]
    fn a_day_name_that_is_not_the_dates_is_read_by_the_date() {
        // The HTTP cache test suite's `freshness-expires-ansi-c`: 8 August 2050 is a Monday.
        let monday = Some(2_543_536_878);
        assert_eq!(http_date("Mon Aug  8 02:01:18 2050"), monday);
        assert_eq!(http_date("Thu Aug  8 02:01:18 2050"), monday);
        assert_eq!(http_date("Thu, 08 Aug 2050 02:01:18 GMT"), monday);
        assert_eq!(http_date("Thursday, 08-Aug-50 02:01:18 GMT"), monday);
        assert_eq!(
            http_date("Xyz Aug  8 02:01:18 2050"),
            None,
            "not a day name"
        );
    }

    #[test]
    fn other_date_shapes_are_invalid() {
        for invalid in [
            "Thu, 18 Aug 2050 02:01:18 UTC",
            "Thu, 18 Aug 50 02:01:18 GMT",
            "Thu 18 Aug 2050 02:01:18 GMT",
            "Thu, 18  Aug  2050 02:01:18 GMT",
            "Thu, 18-Aug-2050 02:01:18 GMT",
            "Thu, 18 Aug 2050 02.01.18 GMT",
            "Thu, 18 Aug 2050 2:01:18 GMT",
            "0",
            "Thursday, 18 Aug 2050 02:01:18 GMT",
        ] {
            assert_eq!(http_date(invalid), None, "{invalid}");
        }
    }
}
