//! The fields of a response as stored: what the cache never keeps, and the `Date` it adds.

use super::dates::format_http_date;
use super::fields::Fields;

/// Hop-by-hop fields (RFC 9110 §7.6.1), and fields the cache recomputes or never keeps.
pub const UNSTORED_FIELDS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authentication-info",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "age",
    "set-cookie",
];

/// The fields of a response as stored: without hop-by-hop fields, those the cache
/// recomputes, those named by `Connection` and by `private="…"`/`no-cache="…"`, and with a
/// `Date` if the origin sent none (RFC 9110 §6.6.1: a recipient with a clock "MUST record the
/// time it was received and append a corresponding Date header field").
pub fn fields_to_store(
    fields: Vec<(String, String)>,
    strip: &[String],
    response_time: i64,
) -> Vec<(String, String)> {
    let connection_named: Vec<String> = fields
        .field("connection")
        .unwrap_or_default()
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let mut kept: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(name, _)| {
            !UNSTORED_FIELDS.contains(&name.as_str())
                && !strip.contains(name)
                && !connection_named.contains(name)
        })
        .collect();
    if kept.field("date").is_none() {
        kept.push(("date".into(), format_http_date(response_time)));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::field_list as headers;
    use crate::http::fixtures::{DATE, NOW};

    #[test]
    fn stored_fields_drop_hop_by_hop_and_connection_named_fields() {
        let stored = fields_to_store(
            headers(&[
                ("connection", "x-hop"),
                ("x-hop", "1"),
                ("keep-alive", "5"),
                ("content-length", "3"),
                ("proxy-authentication-info", "nextnonce=abc"),
                ("x-user", "u"),
                ("etag", "\"a\""),
            ]),
            &["x-user".to_string()],
            NOW,
        );
        assert_eq!(stored, headers(&[("etag", "\"a\""), ("date", DATE)]));
    }
}
