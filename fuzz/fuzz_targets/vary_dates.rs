//! `Vary` and HTTP-dates: field names come out lowercase, trimmed, unique and non-empty; any
//! date that parses formats back to itself, and every formatted date parses; the corrected
//! initial age saturates; a `Range` answered from a stored body asks for bytes inside it.
#![no_main]

use arbitrary::Arbitrary;
use edgecache_core::http::directives::DELTA_SECONDS_MAX;
use edgecache_core::http::{
    corrected_initial_age, format_http_date, http_date, vary_fields, Exchange,
};
use edgecache_core::http::range::{answer, RangeAnswer};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    vary: Vec<String>,
    date: String,
    age: String,
    /// Seconds since the epoch, up to the year 9999.
    secs: u64,
    response_ms: i64,
    delay_ms: u32,
    range: String,
    if_range: Option<String>,
    body_len: u16,
}

fuzz_target!(|input: Input| {
    let fields: Vec<(String, String)> = input
        .vary
        .iter()
        .map(|v| ("vary".to_string(), v.clone()))
        .collect();
    let names = vary_fields(&fields);
    for (i, name) in names.iter().enumerate() {
        assert!(!name.is_empty());
        assert_eq!(name.trim(), name);
        assert!(!name.contains(','));
        assert_eq!(*name, name.to_ascii_lowercase());
        assert!(!names[..i].contains(name), "{name} twice");
    }

    if let Some(secs) = http_date(&input.date) {
        assert!(secs >= 0);
        assert_eq!(
            http_date(&format_http_date(secs)),
            Some(secs),
            "{:?}",
            input.date
        );
    }
    let secs = (input.secs % 253_402_300_800) as i64;
    assert_eq!(http_date(&format_http_date(secs)), Some(secs));

    let response = vec![
        ("date".to_string(), input.date.clone()),
        ("age".to_string(), input.age.clone()),
    ];
    let response_ms = input.response_ms.clamp(0, 253_402_300_799_000);
    let exchange = Exchange {
        request_ms: response_ms - i64::from(input.delay_ms),
        response_ms,
        sent_ms: response_ms - i64::from(input.delay_ms),
    };
    assert!(corrected_initial_age(&response, exchange) <= DELTA_SECONDS_MAX);

    let mut request = vec![("range".to_string(), input.range.clone())];
    if let Some(validator) = &input.if_range {
        request.push(("if-range".to_string(), validator.clone()));
    }
    let stored = vec![
        ("etag".to_string(), "\"v1\"".to_string()),
        ("last-modified".to_string(), input.date.clone()),
    ];
    let length = u64::from(input.body_len);
    if let RangeAnswer::Partial { first, last } = answer(&request, &stored, length) {
        assert!(first <= last && last < length, "{first}-{last} of {length}");
    }
});
