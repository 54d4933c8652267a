//! The value a request field takes in a key, which is also the value the origin is sent.
//!
//! A key may hold a field in a canonical form only if the origin is sent that same form:
//! otherwise two spellings share a key while the origin reads them apart, and the answer one
//! odd spelling gets (a strict parser rejecting `en-US,,en;q=0.9` and answering its default
//! language, a lenient one reading `en;Q=0.7` as a weight) is stored for everyone who sends the
//! ordinary one. So every field is keyed as `keyed_value` says and sent to the origin as the
//! same string (`flow::origin`), or left out of the origin request when `keyed_value` says
//! `None`.
//!
//! The negotiation fields (`CANONICAL_FIELDS`) are parsed leniently and written back in one
//! strict grammar that any parser reads the same way (RFC 9110 §12.5): elements separated by
//! `,` without white space, tokens lower-cased, weights as `q=0.x` without trailing zeros
//! (`q=1` left out), no empty elements, no parameters an element may not carry, each value
//! once. What cannot be read (an element that is not a language range, a coding or a media
//! range, an unreadable or repeated weight, a parameter without `=`) is dropped; a field with
//! nothing readable left is not sent at all, and keyed as absent. Every other field is keyed
//! exactly as the runtime gives it (its field lines joined by `, `) and sent unchanged.

/// The fields keyed and sent in a canonical form; any other is keyed and sent as given.
pub const CANONICAL_FIELDS: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
];

/// A canonical value is cut to this many bytes, at an element's end: Django refuses an
/// `Accept-Language` longer than 500 bytes, and padding must not make a value no origin reads.
pub const MAX_CANONICAL_BYTES: usize = 400;

/// At most this many elements are kept of a canonical field.
pub const MAX_ELEMENTS: usize = 32;

/// The weights `Accept-Language`'s ranges are given by rank: the first is 1 (left out), then
/// 0.9 … 0.1, 0.09 … 0.01, 0.009 … 0.001; ranges ranked lower than the 28th are dropped.
const RANK_WEIGHTS: usize = 28;

/// The value `name` (lowercase) takes in a key and on the request to the origin, for the
/// client's `value`; `None` when nothing readable is left, and the field is then keyed as
/// absent and not sent.
pub fn keyed_value(name: &str, value: &str) -> Option<String> {
    let canonical = match name {
        "accept-language" => languages(value),
        "accept-encoding" => encodings(value),
        "accept-charset" => charsets(value),
        "accept" => media_ranges(value),
        _ => return Some(value.to_string()),
    };
    (!canonical.is_empty()).then_some(canonical)
}

/// Whether `name` (lowercase) is keyed and sent in a canonical form.
pub fn is_canonical(name: &str) -> bool {
    CANONICAL_FIELDS.contains(&name)
}

/// One list element as read: its value (before the first `;`), its parameters other than
/// `q` (names lower-cased), and its weight in thousandths.
struct Element<'a> {
    value: &'a str,
    params: Vec<(String, &'a str)>,
    weight: u16,
}

/// The readable elements of a comma-separated list (RFC 9110 §5.6.1: empty elements are
/// ignored). An element is unreadable, and left out, when a parameter has no `=`, or its
/// weight is not a `qvalue` (RFC 9110 §12.4.2) or is given twice. `q` is read in any case
/// and with white space around `=`, as lenient parsers do: the canonical form says which.
fn elements(value: &str) -> impl Iterator<Item = Element<'_>> {
    value.split(',').filter_map(|element| {
        let element = element.trim();
        if element.is_empty() {
            return None;
        }
        let mut parts = element.split(';');
        let value = parts.next().unwrap_or_default().trim();
        let mut params = Vec::new();
        let mut weight = None;
        for param in parts.filter(|p| !p.trim().is_empty()) {
            let (name, param_value) = param.split_once('=')?;
            let name = name.trim().to_ascii_lowercase();
            let param_value = param_value.trim();
            if name == "q" {
                if weight.is_some() {
                    return None;
                }
                weight = Some(parse_qvalue(param_value)?);
            } else {
                params.push((name, param_value));
            }
        }
        Some(Element {
            value,
            params,
            weight: weight.unwrap_or(1000),
        })
    })
}

/// RFC 9110 §12.4.2 `qvalue` in thousandths: `0`, `0.5`, `1.000`.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `;q=…` for a weight in thousandths, shortest form; nothing for 1 (the default).
fn weight_param(weight: u16) -> String {
    match weight {
        1000.. => String::new(),
        0 => ";q=0".into(),
        w => {
            let digits = format!("{w:03}");
            format!(";q=0.{}", digits.trim_end_matches('0'))
        }
    }
}

/// RFC 9110 §5.6.2 `token`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 9110 §5.6.4 `quoted-string`, whole.
fn is_quoted_string(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for b in inner.bytes() {
        match (escaped, b) {
            (true, b'\t' | b' '..=b'~') => escaped = false,
            (true, _) => return false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return false,
            (false, b'\t' | b' '..=b'~' | 0x80..) => {}
            (false, _) => return false,
        }
    }
    !escaped
}

/// RFC 4647 §2.1 `language-range`: `*`, or 1–8 letters then `-` and 1–8 letters or digits.
fn is_language_range(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let mut subtags = text.split('-');
    let first = subtags.next().unwrap_or_default();
    let fits = |s: &str, alpha_only: bool| {
        (1..=8).contains(&s.len())
            && s.bytes().all(|b| {
                if alpha_only {
                    b.is_ascii_alphabetic()
                } else {
                    b.is_ascii_alphanumeric()
                }
            })
    };
    fits(first, true) && subtags.all(|s| fits(s, false))
}

/// Joins `items` with `,`, stopping before the element that would pass `MAX_CANONICAL_BYTES`
/// or `MAX_ELEMENTS`.
fn join_within_limits(items: impl IntoIterator<Item = String>) -> String {
    let mut joined = String::new();
    for (count, item) in items.into_iter().enumerate() {
        let separator = usize::from(!joined.is_empty());
        if count >= MAX_ELEMENTS || joined.len() + separator + item.len() > MAX_CANONICAL_BYTES {
            break;
        }
        if separator == 1 {
            joined.push(',');
        }
        joined.push_str(&item);
    }
    joined
}

/// `Accept-Language` (RFC 9110 §12.5.4) as the order of preference it states: ranges
/// lower-cased, each once (its first weight), sorted by weight (ties in the order given),
/// then given weights by rank (`RANK_WEIGHTS`), and those refused with `q=0` after them.
/// Matching by lookup or filtering (RFC 4647 §3) depends only on that order, so
/// `en-GB,en;q=0.9` and `en-gb, en;q=0.5` share a key, and both reach the origin as
/// `en-gb,en;q=0.9`; `de,en` and `en,de` do not share one. Parameters other than `q` are
/// dropped (a language range has none).
fn languages(value: &str) -> String {
    let mut ranked: Vec<(String, u16)> = Vec::new();
    for element in elements(value) {
        if !is_language_range(element.value) {
            continue;
        }
        let range = element.value.to_ascii_lowercase();
        if !ranked.iter().any(|(r, _)| *r == range) {
            ranked.push((range, element.weight));
        }
    }
    ranked.sort_by_key(|&(_, weight)| std::cmp::Reverse(weight));
    let (accepted, refused): (Vec<_>, Vec<_>) = ranked.into_iter().partition(|(_, w)| *w > 0);
    let accepted = accepted
        .into_iter()
        .take(RANK_WEIGHTS)
        .enumerate()
        .map(|(rank, (range, _))| format!("{range}{}", weight_param(rank_weight(rank))));
    let refused = refused.into_iter().map(|(range, _)| format!("{range};q=0"));
    join_within_limits(accepted.chain(refused))
}

/// The weight of the `rank`th (from 0) language, in thousandths: 1000, 900, …, 100, 90, …,
/// 10, 9, …, 1.
fn rank_weight(rank: usize) -> u16 {
    let rank = rank.min(RANK_WEIGHTS - 1) as u16;
    match rank {
        0 => 1000,
        1..=9 => 1000 - 100 * rank,
        10..=18 => 100 - 10 * (rank - 9),
        _ => 10 - (rank - 18),
    }
}

/// `Accept-Encoding` (RFC 9110 §12.5.3): codings lower-cased, each once (its first weight),
/// sorted by name (the order carries no preference; weights do), weights kept.
fn encodings(value: &str) -> String {
    let mut codings: Vec<(String, u16)> = Vec::new();
    for element in elements(value) {
        if !is_token(element.value) {
            continue;
        }
        let coding = element.value.to_ascii_lowercase();
        if !codings.iter().any(|(c, _)| *c == coding) {
            codings.push((coding, element.weight));
        }
    }
    codings.sort();
    join_within_limits(
        codings
            .into_iter()
            .map(|(coding, weight)| format!("{coding}{}", weight_param(weight))),
    )
}

/// `Accept-Charset` (RFC 9110 §12.5.2): charsets lower-cased, each once (its first weight), in
/// the order given, weights kept.
fn charsets(value: &str) -> String {
    let mut charsets: Vec<(String, u16)> = Vec::new();
    for element in elements(value) {
        if !is_token(element.value) {
            continue;
        }
        let charset = element.value.to_ascii_lowercase();
        if !charsets.iter().any(|(c, _)| *c == charset) {
            charsets.push((charset, element.weight));
        }
    }
    join_within_limits(
        charsets
            .into_iter()
            .map(|(charset, weight)| format!("{charset}{}", weight_param(weight))),
    )
}

/// `Accept` (RFC 9110 §12.5.1): media ranges `type/subtype` lower-cased, their parameters as
/// `name=value` (name lower-cased, value a token or a quoted string as given), the weight
/// last, in the order given, each range with its parameters once.
fn media_ranges(value: &str) -> String {
    let mut ranges: Vec<(String, u16)> = Vec::new();
    for element in elements(value) {
        let Some((kind, subtype)) = element.value.split_once('/') else {
            continue;
        };
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
            continue;
        }
        let params_valid = element
            .params
            .iter()
            .all(|(name, v)| is_token(name) && (is_token(v) || is_quoted_string(v)));
        if !params_valid {
            continue;
        }
        let mut range = format!(
            "{}/{}",
            kind.to_ascii_lowercase(),
            subtype.to_ascii_lowercase()
        );
        for (name, v) in &element.params {
            range.push_str(&format!(";{name}={v}"));
        }
        if !ranges.iter().any(|(r, _)| *r == range) {
            ranges.push((range, element.weight));
        }
    }
    join_within_limits(
        ranges
            .into_iter()
            .map(|(range, weight)| format!("{range}{}", weight_param(weight))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(value: &str) -> Option<String> {
        keyed_value("accept-language", value)
    }

    /// Every canonical value reads back as itself: the origin is sent what the key holds, and
    /// a client sending that form gets the same key.
    fn assert_fixed_point(name: &str, value: &str) {
        if let Some(canonical) = keyed_value(name, value) {
            assert_eq!(
                keyed_value(name, &canonical).as_deref(),
                Some(canonical.as_str()),
                "{name}: {value:?}"
            );
        }
    }

    #[test]
    fn accept_language_is_written_as_its_order_of_preference_with_weights_by_rank() {
        assert_eq!(lang("en-US,en;q=0.9").as_deref(), Some("en-us,en;q=0.9"));
        assert_eq!(lang("en-US,en;q=0.5"), lang("en-US,en;q=0.9"));
        assert_eq!(
            lang("fr;q=0.5, de").as_deref(),
            Some("de,fr;q=0.9"),
            "sorted by weight"
        );
        assert_eq!(
            lang("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7").as_deref(),
            Some("de-de,de;q=0.9,en-us;q=0.8,en;q=0.7"),
            "Chrome's own spelling is its canonical form"
        );
        assert_ne!(lang("de, en"), lang("en, de"), "order picks the language");
        assert_eq!(
            lang("en, fr;q=0").as_deref(),
            Some("en,fr;q=0"),
            "a refused language stays"
        );
        assert_eq!(lang("en, en;q=0.5").as_deref(), Some("en"), "once");
        assert_eq!(lang("fr;q=0.500, en;q=0.5").as_deref(), Some("fr,en;q=0.9"));
    }

    #[test]
    fn odd_spellings_of_a_language_list_are_read_leniently_and_written_strictly() {
        let ordinary = lang("en-US,en;q=0.9");
        for odd in [
            "en-US,,en;q=0.9",
            "en-US;level=1,en;q=0.9",
            "en-US, en;q = 0.9",
            "en-US , en ; q=0.9",
            "EN-us,EN;Q=0.9",
            "en-US,en;q=0.900",
            "en-US,en;q=0.9,xx-@@",
            "en-US,en;q=0.9,en;q=0.1",
            &format!("en-US,en;q=0.9,{}", " ".repeat(500)),
            &format!("en-US,en;q=0.9{}", ",".repeat(500)),
        ] {
            assert_eq!(lang(odd), ordinary, "{odd:?}");
        }
        assert_eq!(
            lang("de-DE,en;q=0.5;q=0.9").as_deref(),
            Some("de-de"),
            "a repeated weight makes its element unreadable"
        );
        assert_eq!(
            lang("de-DE;q=0.5,en;Q=0.7").as_deref(),
            Some("en,de-de;q=0.9"),
            "a weight is read in any case, and written in one"
        );
        assert_eq!(lang("en;q=abc"), None, "nothing readable: not sent");
        assert_eq!(lang(",,;"), None);
        assert_eq!(lang(""), None);
    }

    #[test]
    fn a_padded_language_list_is_cut_to_a_length_every_origin_reads() {
        let padded: Vec<String> = (0..200).map(|i| format!("x-pad{i:03};q=0.5")).collect();
        let canonical = lang(&format!("en-US,en;q=0.9,{}", padded.join(","))).unwrap();
        assert!(
            canonical.len() <= MAX_CANONICAL_BYTES,
            "{}",
            canonical.len()
        );
        assert!(canonical.starts_with("en-us,en;q=0.9,x-pad000;q=0.8"));
        assert!(canonical.split(',').count() <= RANK_WEIGHTS);
        assert_eq!(
            lang(&format!("en-US,{}", "a".repeat(500))).as_deref(),
            Some("en-us"),
            "a range longer than 8 letters is not one"
        );
    }

    #[test]
    fn language_weights_by_rank_fall_strictly() {
        let weights: Vec<u16> = (0..RANK_WEIGHTS).map(rank_weight).collect();
        assert_eq!(weights[..3], [1000, 900, 800]);
        assert_eq!(weights[9..12], [100, 90, 80]);
        assert_eq!(weights[RANK_WEIGHTS - 1], 1);
        assert!(weights.windows(2).all(|w| w[0] > w[1]), "{weights:?}");
    }

    #[test]
    fn accept_encoding_is_sorted_lower_cased_and_keeps_its_weights() {
        let enc = |v| keyed_value("accept-encoding", v);
        assert_eq!(
            enc("br, GZIP,gzip , deflate").as_deref(),
            Some("br,deflate,gzip")
        );
        assert_eq!(enc("gzip, deflate, br"), enc("br,gzip,deflate"));
        assert_eq!(
            enc("gzip;Q=0.50, identity;q=0, br").as_deref(),
            Some("br,gzip;q=0.5,identity;q=0")
        );
        assert_ne!(enc("gzip;q=0, br"), enc("gzip, br"), "a refusal stays");
        assert_eq!(enc("gzip,,br;level=9").as_deref(), Some("br,gzip"));
        assert_eq!(enc("gzip;q=0.5;q=1, br").as_deref(), Some("br"));
        assert_eq!(enc("g zip, @"), None);
    }

    #[test]
    fn accept_charset_is_lower_cased_in_its_order() {
        let cs = |v| keyed_value("accept-charset", v);
        assert_eq!(
            cs("UTF-8, iso-8859-1;Q=0.5,,").as_deref(),
            Some("utf-8,iso-8859-1;q=0.5")
        );
        assert_ne!(cs("utf-8, latin1"), cs("latin1, utf-8"));
        assert_eq!(cs("utf-8;q=x"), None);
    }

    #[test]
    fn accept_keeps_media_parameters_and_puts_the_weight_last() {
        let accept = |v| keyed_value("accept", v);
        assert_eq!(
            accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8").as_deref(),
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        );
        assert_eq!(
            accept("Text/HTML ; Level=1 ;q=0.50, application/json").as_deref(),
            Some("text/html;level=1;q=0.5,application/json")
        );
        assert_eq!(
            accept("application/json, text/plain;charset=\"utf-8\"").as_deref(),
            Some("application/json,text/plain;charset=\"utf-8\"")
        );
        assert_eq!(
            accept("text/html,,nonsense,*/json,text/html;q=0.1;q=1,a/b;x").as_deref(),
            Some("text/html")
        );
    }

    #[test]
    fn other_fields_are_keyed_and_sent_exactly_as_given() {
        assert_eq!(
            keyed_value("x-device", " A,  b ").as_deref(),
            Some(" A,  b ")
        );
        assert_eq!(
            keyed_value("origin", "https://a.example").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(keyed_value("x-device", "").as_deref(), Some(""));
        assert!(!is_canonical("cookie"));
        assert!(is_canonical("accept-language"));
    }

    #[test]
    fn every_canonical_form_reads_back_as_itself() {
        for name in CANONICAL_FIELDS {
            for value in [
                "en-US,,en;q=0.9",
                "de-DE;q=0.5,en;Q=0.7",
                "gzip;q=0.5, br;q=0, *",
                "text/html;level=1;q=0.5, */*;q=0.1",
                "utf-8;q=0.001, iso-8859-1",
                &"en,".repeat(300),
            ] {
                assert_fixed_point(name, value);
            }
        }
    }
}
