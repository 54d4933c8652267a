//! Range requests answered from a stored full response (RFC 9110 §14): a client resuming a
//! download or seeking in a media file gets the bytes it asked for from the cache, not the
//! whole body again.
//!
//! Only a single byte range is served; anything else a server may ignore (§14.2: "A server
//! MAY ignore the Range header field"), and edgecache then sends the full response, which
//! every client accepts. `If-Range` (§13.1.5) guards a resumed download against a changed
//! file: unless it names the stored response by a strong validator, the full response goes.

use crate::http::{http_date, Fields};

/// What a request gets from a stored full response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole response (no `Range`, one that is ignored, or `If-Range` not matching).
    Full,
    /// `206 Partial Content`: bytes `first..=last`.
    Partial { first: u64, last: u64 },
    /// `416 Range Not Satisfiable`: the range starts beyond the body.
    Unsatisfiable,
}

/// The answer to `request`'s `Range` and `If-Range` from a stored response with `stored`'s
/// fields and a body of `length` bytes.
pub fn answer(
    request: &(impl Fields + ?Sized),
    stored: &(impl Fields + ?Sized),
    length: u64,
) -> RangeAnswer {
    let Some(range) = request.field("range") else {
        return RangeAnswer::Full;
    };
    // A coded body is stored decoded (the runtime decodes what `fetch` gets, and codes it
    // again on the way out), so its bytes are not the ones a range of it would count.
    let coded = stored
        .field("content-encoding")
        .is_some_and(|coding| !coding.trim().eq_ignore_ascii_case("identity"));
    if coded {
        return RangeAnswer::Full;
    }
    if let Some(validator) = request.field("if-range") {
        if !if_range_matches(validator.trim(), stored) {
            return RangeAnswer::Full;
        }
    }
    match parse(&range) {
        Some(spec) => spec.against(length),
        None => RangeAnswer::Full,
    }
}

/// One `byte-range-spec` or `suffix-range-spec` (§14.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-length`: the last `length` bytes.
    Suffix(u64),
}

impl Spec {
    /// The bytes it names of a body of `length` bytes.
    pub fn against(self, length: u64) -> RangeAnswer {
        let last_byte = match length.checked_sub(1) {
            Some(last) => last,
            None => return RangeAnswer::Unsatisfiable,
        };
        match self {
            Spec::From { first, .. } if first > last_byte => RangeAnswer::Unsatisfiable,
            Spec::From { first, last } => RangeAnswer::Partial {
                first,
                last: last.map_or(last_byte, |l| l.min(last_byte)),
            },
            Spec::Suffix(0) => RangeAnswer::Unsatisfiable,
            Spec::Suffix(n) => RangeAnswer::Partial {
                first: length.saturating_sub(n),
                last: last_byte,
            },
        }
    }
}

/// `bytes=` and exactly one range; `None` for anything else (several ranges, another unit,
/// bad syntax), which is ignored.
pub fn parse(range: &str) -> Option<Spec> {
    let (unit, set) = range.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    if first.trim().is_empty() {
        return number(last).map(Spec::Suffix);
    }
    let first = number(first)?;
    let last = match last.trim() {
        "" => None,
        text => Some(number(text)?),
    };
    match last {
        Some(last) if last < first => None,
        _ => Some(Spec::From { first, last }),
    }
}

/// §13.1.5: an entity tag must match the stored one by strong comparison (neither weak), a
/// date must equal the stored `Last-Modified` exactly.
pub fn if_range_matches(validator: &str, stored: &(impl Fields + ?Sized)) -> bool {
    if validator.starts_with('"') || validator.starts_with("W/") {
        let Some(etag) = stored.field("etag") else {
            return false;
        };
        let etag = etag.trim();
        return !validator.starts_with("W/")
            && !etag.starts_with("W/")
            && validator.len() >= 2
            && validator.ends_with('"')
            && validator == etag;
    }
    match (
        http_date(validator),
        stored.field("last-modified").and_then(|lm| http_date(&lm)),
    ) {
        (Some(date), Some(modified)) => date == modified,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn answer_for(range: &str, length: u64) -> RangeAnswer {
        answer(&*fields(&[("range", range)]), &*fields(&[]), length)
    }

    #[test]
    fn single_ranges_are_served() {
        let partial = |first, last| RangeAnswer::Partial { first, last };
        assert_eq!(answer_for("bytes=0-1", 11), partial(0, 1));
        assert_eq!(answer_for("bytes=1-", 11), partial(1, 10));
        assert_eq!(answer_for("bytes=-1", 11), partial(10, 10));
        assert_eq!(
            answer_for("bytes=-100", 11),
            partial(0, 10),
            "a suffix longer than the body"
        );
        assert_eq!(
            answer_for("bytes=5-100", 11),
            partial(5, 10),
            "a last byte past the end"
        );
        assert_eq!(answer_for("Bytes = 2-3", 11), partial(2, 3));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(answer_for("bytes=11-", 11), RangeAnswer::Unsatisfiable);
        assert_eq!(answer_for("bytes=-0", 11), RangeAnswer::Unsatisfiable);
        assert_eq!(answer_for("bytes=0-", 0), RangeAnswer::Unsatisfiable);
    }

    #[test]
    fn what_cannot_be_served_as_one_range_is_ignored() {
        for range in [
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=3-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1-2-3",
            "bytes 0-1",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(answer_for(range, 11), RangeAnswer::Full, "{range}");
        }
    }

    #[test]
    fn a_coded_body_is_sent_whole() {
        let request = fields(&[("range", "bytes=0-1")]);
        let gzip = fields(&[("content-encoding", "gzip")]);
        assert_eq!(answer(&*request, &*gzip, 11), RangeAnswer::Full);
        let identity = fields(&[("content-encoding", "identity")]);
        assert_eq!(
            answer(&*request, &*identity, 11),
            RangeAnswer::Partial { first: 0, last: 1 }
        );
    }

    #[test]
    fn if_range_needs_the_stored_strong_validator() {
        let stored = fields(&[
            ("etag", "\"v1\""),
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        let ask = |if_range: &str| {
            answer(
                &*fields(&[("range", "bytes=0-1"), ("if-range", if_range)]),
                &*stored,
                11,
            )
        };
        assert_eq!(ask("\"v1\""), RangeAnswer::Partial { first: 0, last: 1 });
        assert_eq!(ask("\"v2\""), RangeAnswer::Full);
        assert_eq!(ask("W/\"v1\""), RangeAnswer::Full, "weak tags never match");
        assert_eq!(
            ask("Sun, 06 Nov 1994 08:49:37 GMT"),
            RangeAnswer::Partial { first: 0, last: 1 }
        );
        assert_eq!(ask("Sun, 06 Nov 1994 08:49:38 GMT"), RangeAnswer::Full);
        let weak = fields(&[("etag", "W/\"v1\"")]);
        let request = fields(&[("range", "bytes=0-1"), ("if-range", "\"v1\"")]);
        assert_eq!(answer(&*request, &*weak, 11), RangeAnswer::Full);
    }
}
