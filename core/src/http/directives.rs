//! `Cache-Control` parsing (RFC 9111 §5.2), forgiving in the direction of safety.
//!
//! Malformed input never fails a request: an unparseable or contradictory lifetime reads as
//! "already stale" (RFC 9111 §4.2.1: "caches are encouraged to consider responses that have
//! invalid freshness information to be stale"), and a qualified `no-cache`/`private` whose
//! field list cannot be read counts as the unqualified, stricter form.

/// RFC 9111 §1.2.2: "If a cache receives a delta-seconds value greater than the greatest
/// integer it can represent, or if any of its subsequent calculations overflows, the cache
/// MUST consider the value to be 2147483648 (2^31) or the greatest positive integer it can
/// conveniently represent."
pub const DELTA_SECONDS_MAX: u64 = 2_147_483_648;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub min_fresh: Option<u64>,
    /// `Some(None)`: `max-stale` without a value, any staleness is acceptable.
    pub max_stale: Option<Option<u64>>,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
    pub no_store: bool,
    /// Unqualified `no-cache`: never reuse without revalidation.
    pub no_cache: bool,
    /// `no-cache="field, …"`: these fields must not be reused without revalidation.
    pub no_cache_fields: Vec<String>,
    /// Unqualified `private`: a shared cache must not store the response.
    pub private: bool,
    /// `private="field, …"`: a shared cache must not store these fields.
    pub private_fields: Vec<String>,
    pub public: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub only_if_cached: bool,
    pub immutable: bool,
    /// RFC 9111 §5.2.2.3: store only if the status's caching rules are understood; then
    /// `no-store` does not apply.
    pub must_understand: bool,
}

impl CacheControl {
    /// Parses every `Cache-Control` field line joined by commas (as `Headers.get` gives them).
    pub fn parse(value: &str) -> CacheControl {
        let mut cc = CacheControl::default();
        for (name, argument) in split_directives(value) {
            match name.as_str() {
                "max-age" => merge_lifetime(&mut cc.max_age, argument.as_deref()),
                "s-maxage" => merge_lifetime(&mut cc.s_maxage, argument.as_deref()),
                "min-fresh" => cc.min_fresh = argument.as_deref().and_then(delta_seconds),
                "max-stale" => {
                    cc.max_stale = Some(argument.as_deref().and_then(delta_seconds));
                }
                "stale-while-revalidate" => {
                    cc.stale_while_revalidate = argument.as_deref().and_then(delta_seconds);
                }
                "stale-if-error" => {
                    cc.stale_if_error = argument.as_deref().and_then(delta_seconds);
                }
                "no-store" => cc.no_store = true,
                "no-cache" => match argument.as_deref().and_then(field_list) {
                    Some(fields) => cc.no_cache_fields.extend(fields),
                    None => cc.no_cache = true,
                },
                "private" => match argument.as_deref().and_then(field_list) {
                    Some(fields) => cc.private_fields.extend(fields),
                    None => cc.private = true,
                },
                "public" => cc.public = true,
                "must-revalidate" => cc.must_revalidate = true,
                "proxy-revalidate" => cc.proxy_revalidate = true,
                "only-if-cached" => cc.only_if_cached = true,
                "immutable" => cc.immutable = true,
                "must-understand" => cc.must_understand = true,
                _ => {}
            }
        }
        cc
    }
}

/// A lifetime given twice with different values, or given badly, makes the response stale
/// (RFC 9111 §4.2.1: "either the first occurrence should be used or the response should be
/// considered stale"; the stale reading is the safe one).
fn merge_lifetime(slot: &mut Option<u64>, argument: Option<&str>) {
    let parsed = argument.and_then(delta_seconds).unwrap_or(0);
    *slot = match *slot {
        Some(previous) if previous != parsed => Some(0),
        _ => Some(parsed),
    };
}

/// `delta-seconds = 1*DIGIT`, quoted or not (RFC 9111 §5.2: recipients are expected to accept
/// both forms); saturating at 2^31.
pub fn delta_seconds(argument: &str) -> Option<u64> {
    // A quote that never closed (`max-age="5`) stays on the argument.
    let digits = argument.trim();
    let digits = digits.strip_prefix('"').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        digits
            .parse::<u64>()
            .map_or(DELTA_SECONDS_MAX, |v| v.min(DELTA_SECONDS_MAX)),
    )
}

/// `no-cache="Set-Cookie, X-Foo"`: lowercase field names, or `None` if the list is unusable.
fn field_list(argument: &str) -> Option<Vec<String>> {
    let fields: Vec<String> = argument
        .split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .collect();
    let valid = !fields.is_empty()
        && fields.iter().all(|f| {
            f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        });
    valid.then_some(fields)
}

/// Splits `a, b=1, c="x, y"` into lowercase names and unquoted arguments, honouring quotes
/// and backslash escapes so that a comma inside a quoted argument does not split it.
fn split_directives(value: &str) -> Vec<(String, Option<String>)> {
    let mut directives = Vec::new();
    let mut chars = value.chars().peekable();
    // An opening quote that never closes would swallow every later directive, and every later
    // field line (they are joined by commas): `foo="bar` followed by a `private` line must
    // still read as private. Such a quote, and every later one, is a plain character: its
    // argument ends at the next comma.
    let mut unterminated = false;
    loop {
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == ',' || c == '=' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let mut argument = None;
        if chars.peek() == Some(&'=') {
            chars.next();
            let mut arg = String::new();
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            let quoted = !unterminated && chars.peek() == Some(&'"') && {
                unterminated = !closing_quote_follows(chars.clone());
                !unterminated
            };
            if quoted {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => arg.extend(chars.next()),
                        '"' => break,
                        c => arg.push(c),
                    }
                }
                // Anything between the closing quote and the next comma is junk.
                while chars.peek().is_some_and(|c| *c != ',') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    arg.push(c);
                    chars.next();
                }
                arg = arg.trim().to_string();
            }
            argument = Some(arg);
        }
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() {
            directives.push((name, argument));
        }
        if chars.next().is_none() {
            break;
        }
    }
    directives
}

/// Whether the quoted-string opening at the start of `rest` ends (RFC 9110 §5.6.4).
fn closing_quote_follows(mut rest: std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    rest.next();
    while let Some(c) = rest.next() {
        match c {
            '\\' => {
                rest.next();
            }
            '"' => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_response_directives_are_read() {
        let cc = CacheControl::parse("public, max-age=60, s-maxage=120, must-revalidate");
        assert!(cc.public && cc.must_revalidate);
        assert_eq!(cc.max_age, Some(60));
        assert_eq!(cc.s_maxage, Some(120));
    }

    #[test]
    fn names_are_case_insensitive_and_spaces_ignored() {
        let cc = CacheControl::parse("  Max-Age = 30 ,NO-STORE");
        assert_eq!(cc.max_age, Some(30));
        assert!(cc.no_store);
    }

    #[test]
    fn quoted_numbers_are_accepted() {
        // RFC 9111 §5.2: "a recipient is expected to handle both max-age=5 and max-age="5""
        assert_eq!(CacheControl::parse("max-age=\"5\"").max_age, Some(5));
    }

    #[test]
    fn invalid_or_negative_lifetimes_read_as_stale() {
        assert_eq!(CacheControl::parse("max-age=abc").max_age, Some(0));
        assert_eq!(CacheControl::parse("max-age=-1").max_age, Some(0));
        assert_eq!(CacheControl::parse("max-age").max_age, Some(0));
        assert_eq!(CacheControl::parse("s-maxage=1.5").s_maxage, Some(0));
    }

    #[test]
    fn conflicting_duplicates_read_as_stale_and_agreeing_ones_stand() {
        assert_eq!(
            CacheControl::parse("max-age=60, max-age=3600").max_age,
            Some(0)
        );
        assert_eq!(
            CacheControl::parse("max-age=60, max-age=60").max_age,
            Some(60)
        );
    }

    #[test]
    fn huge_values_saturate_at_two_to_the_31() {
        assert_eq!(
            CacheControl::parse("max-age=99999999999999999999999").max_age,
            Some(DELTA_SECONDS_MAX)
        );
    }

    #[test]
    fn qualified_no_cache_and_private_list_fields() {
        let cc = CacheControl::parse("no-cache=\"Set-Cookie, X-Secret\", private=\"x-user\"");
        assert!(!cc.no_cache && !cc.private);
        assert_eq!(cc.no_cache_fields, vec!["set-cookie", "x-secret"]);
        assert_eq!(cc.private_fields, vec!["x-user"]);
    }

    #[test]
    fn unreadable_field_lists_mean_the_unqualified_directive() {
        assert!(CacheControl::parse("private=\"\"").private);
        assert!(CacheControl::parse("no-cache=\"a b\"").no_cache);
    }

    #[test]
    fn commas_inside_quotes_do_not_split_directives() {
        let cc = CacheControl::parse("private=\"a, b\", max-age=5");
        assert_eq!(cc.private_fields, vec!["a", "b"]);
        assert_eq!(cc.max_age, Some(5));
    }

    #[test]
    fn an_unterminated_quote_does_not_swallow_later_directives() {
        // Two field lines, joined by the runtime: the first is broken, the second says private.
        let cc = CacheControl::parse("max-age=60, foo=\"bar, private");
        assert!(cc.private);
        let cc = CacheControl::parse("max-age=\"60, no-store");
        assert!(cc.no_store);
        assert_eq!(cc.max_age, Some(60));
        let cc = CacheControl::parse("no-cache=\"set-cookie");
        assert!(
            cc.no_cache,
            "an unterminated field list is the unqualified directive"
        );
    }

    #[test]
    fn request_directives_are_read() {
        let cc = CacheControl::parse("max-stale, min-fresh=10, only-if-cached, no-cache");
        assert_eq!(cc.max_stale, Some(None));
        assert_eq!(cc.min_fresh, Some(10));
        assert!(cc.only_if_cached && cc.no_cache);
        assert_eq!(
            CacheControl::parse("max-stale=30").max_stale,
            Some(Some(30))
        );
    }

    #[test]
    fn unknown_directives_and_junk_are_ignored() {
        let cc = CacheControl::parse(",,foo=\"bar\"baz, , =5, max-age=10,");
        assert_eq!(cc.max_age, Some(10));
        assert_eq!(CacheControl::parse(""), CacheControl::default());
        assert_eq!(
            CacheControl::parse("max-age=\"5"),
            CacheControl {
                max_age: Some(5),
                ..Default::default()
            }
        );
    }
}
