//! What is stored: a response's metadata and body, or a marker naming the `Vary` fields of a
//! URL's variants. One format for every backend: KV keeps it as one value (`encode`), the
//! Cache API as a header beside the body (`Meta::to_header`), the memory tier as is.
//!
//! Every stored record carries a format version; a record of another version, or one that
//! fails to parse, reads as a miss, never as an error, so a deploy that changes the format
//! simply refills the cache. Kinds and fields added since keep the version: a worker that
//! predates a kind (`parts`) fails to parse it and reads a miss; a field it predates is
//! ignored.

use serde::{Deserialize, Serialize};

use crate::http::{Fields, Reuse};
use crate::storage::heap;

/// Bumped whenever `Meta` changes incompatibly.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A stored response: status, headers and (beside it) the body.
    Response,
    /// Stored at a URL's primary key when its responses vary: names the `Vary` fields whose
    /// request values select the variant's key.
    Variants,
    /// A value stored through the low-level API (`crate::lowlevel`): the body is the value's
    /// JSON, `key` the full key it was stored under, and `stored_at` + `lifetime` its exact
    /// expiry. Never read as a response: the proxy's keys and the API's keys differ in shape,
    /// and a lookup that meets one anyway treats it as a miss.
    Value,
    /// Parts of a response (`206` answers) stored under the full response's variant key:
    /// status 200, the response's fields, and `parts` saying which bytes the body holds. It
    /// answers Range requests that it holds, and becomes a `Response` once it holds every
    /// byte.
    Parts,
}

/// For `Kind::Parts`: the complete length of the representation and the byte ranges held
/// (inclusive, in order, apart), whose bytes the body holds one after another
/// (`http::parts`), under the strong entity tag the fields carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pieces {
    pub total: u64,
    pub held: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub v: u32,
    pub kind: Kind,
    /// The full rendered key, checked on read so a hashed key can never answer for another.
    pub key: String,
    /// The URL part of the key (`scheme://host/path?query`), for purges by URL and prefix.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// When the response arrived, milliseconds since the epoch.
    pub stored_at: i64,
    /// When the fetch that brought it was sent (ms), when that is known: see `purged_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_at: Option<i64>,
    /// Seconds old the response already was when it arrived (RFC 9111 §4.2.3).
    #[serde(default)]
    pub initial_age: u64,
    /// Freshness lifetime in seconds.
    pub lifetime: u64,
    #[serde(default)]
    pub tags: Vec<String>,
    /// For `Kind::Variants`: the lowercase `Vary` field names.
    #[serde(default)]
    pub vary: Vec<String>,
    /// Body length, checked on read so a truncated body is never served.
    #[serde(default)]
    pub body_len: u64,
    /// How the response may be reused once stale.
    #[serde(default)]
    pub reuse: Reuse,
    /// For `Kind::Parts`: which bytes the body holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Pieces>,
}

/// When a record's response arrived and how it may be reused, as `http::storability` said
/// (or, for a value, its exact expiry): the part of a record that says how long it is fresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keeping {
    /// When the response arrived, milliseconds since the epoch.
    pub stored_at: i64,
    /// When the fetch that brought it was sent (`http::Exchange::sent_ms`), if it was.
    pub asked_at: Option<i64>,
    /// Seconds old it already was then (RFC 9111 §4.2.3).
    pub initial_age: u64,
    /// Freshness lifetime in seconds.
    pub lifetime: u64,
    pub reuse: Reuse,
}

/// What a stored response says: its status, the fields kept of it and its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Said {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub tags: Vec<String>,
}

/// Where a record is stored: its kind, its full key, the URL part of the key and the `Vary`
/// fields that picked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub kind: Kind,
    pub key: String,
    pub url: String,
    pub vary: Vec<String>,
}

impl Meta {
    /// The one constructor of a record: every kind is built here (the named constructors
    /// below say what each kind takes), so a field added to `Meta` is set in one place.
    pub fn new(
        place: Place,
        said: Said,
        keeping: Keeping,
        body_len: u64,
        parts: Option<Pieces>,
    ) -> Meta {
        let Place {
            kind,
            key,
            url,
            vary,
        } = place;
        let Said {
            status,
            headers,
            tags,
        } = said;
        let Keeping {
            stored_at,
            asked_at,
            initial_age,
            lifetime,
            reuse,
        } = keeping;
        Meta {
            v: FORMAT,
            kind,
            key,
            url,
            status,
            headers,
            stored_at,
            asked_at,
            initial_age,
            lifetime,
            tags,
            vary,
            body_len,
            reuse,
            parts,
        }
    }

    /// A stored response, whose body is `body_len` bytes long.
    pub fn response(
        key: String,
        url: String,
        vary: Vec<String>,
        said: Said,
        keeping: Keeping,
    ) -> Meta {
        let place = Place {
            kind: Kind::Response,
            key,
            url,
            vary,
        };
        Meta::new(place, said, keeping, 0, None)
    }

    /// Parts of a response (`Kind::Parts`) holding `pieces`, whose bytes the body holds one
    /// after another; a `Kind::Response` once they hold every byte.
    pub fn of_parts(
        place: Place,
        said: Said,
        keeping: Keeping,
        pieces: Pieces,
        body_len: u64,
    ) -> Meta {
        let complete = crate::http::parts::complete(&pieces.held, pieces.total);
        let place = Place {
            kind: if complete {
                Kind::Response
            } else {
                Kind::Parts
            },
            ..place
        };
        Meta::new(
            place,
            said,
            keeping,
            body_len,
            (!complete).then_some(pieces),
        )
    }

    /// The `Vary` marker stored at a URL's `primary` key beside `variant` (a response or
    /// parts that vary): it names the fields that pick the variant, and holds no body.
    pub fn marker(primary: &str, variant: &Meta) -> Meta {
        let place = Place {
            kind: Kind::Variants,
            key: primary.to_string(),
            url: variant.url.clone(),
            vary: variant.vary.clone(),
        };
        Meta::new(place, Said::default(), variant.keeping(), 0, None)
    }

    /// A value stored through the low-level API under a key whose check is `check`, at
    /// `stored_at` for `lifetime` seconds.
    pub fn value(check: &str, stored_at: i64, lifetime: u64, value_len: u64) -> Meta {
        let place = Place {
            kind: Kind::Value,
            key: check.to_string(),
            url: String::new(),
            vary: Vec::new(),
        };
        let keeping = Keeping {
            stored_at,
            lifetime,
            ..Keeping::default()
        };
        Meta::new(place, Said::default(), keeping, value_len, None)
    }

    /// This record as a 304 refreshed it (RFC 9111 §4.3.4): the merged fields and tags, and
    /// the freshness the merged response has; the same place and body.
    pub fn refreshed(&self, said: Said, keeping: Keeping) -> Meta {
        Meta::new(
            self.place(),
            said,
            keeping,
            self.body_len,
            self.parts.clone(),
        )
    }

    /// This record with `headers` instead of its own (a 304's merged fields, answered to one
    /// client and not stored).
    pub fn with_headers(&self, headers: Vec<(String, String)>) -> Meta {
        let said = Said {
            headers,
            ..self.said()
        };
        Meta::new(
            self.place(),
            said,
            self.keeping(),
            self.body_len,
            self.parts.clone(),
        )
    }

    /// This record, for a body of `body_len` bytes.
    pub fn with_body_len(mut self, body_len: u64) -> Meta {
        self.body_len = body_len;
        self
    }

    pub fn place(&self) -> Place {
        Place {
            kind: self.kind,
            key: self.key.clone(),
            url: self.url.clone(),
            vary: self.vary.clone(),
        }
    }

    pub fn said(&self) -> Said {
        Said {
            status: self.status,
            headers: self.headers.clone(),
            tags: self.tags.clone(),
        }
    }

    pub fn keeping(&self) -> Keeping {
        Keeping {
            stored_at: self.stored_at,
            asked_at: self.asked_at,
            initial_age: self.initial_age,
            lifetime: self.lifetime,
            reuse: self.reuse,
        }
    }

    /// The time purges are compared with: a purge made at or after it reaches this record.
    /// That is when the fetch that brought the response was sent, not when the answer came:
    /// an answer still on its way when a purge is acknowledged was made before it (from the
    /// data the purge says is gone), and must not outlive it in storage.
    pub fn purged_from(&self) -> i64 {
        self.asked_at
            .map_or(self.stored_at, |asked| asked.min(self.stored_at))
    }

    /// The response's current age in seconds (RFC 9111 §4.2.3:
    /// `current_age = corrected_initial_age + resident_time`).
    pub fn age(&self, now_ms: i64) -> u64 {
        let resident = (now_ms - self.stored_at).max(0) / 1000;
        self.initial_age.saturating_add(resident as u64)
    }

    /// Seconds of freshness left; negative once stale.
    pub fn ttl(&self, now_ms: i64) -> i64 {
        self.lifetime as i64 - self.age(now_ms) as i64
    }

    pub fn is_fresh(&self, now_ms: i64) -> bool {
        self.ttl(now_ms) > 0
    }

    /// Bytes its strings and lists hold on the heap (at their capacity, with the allocator's
    /// share), not counting the `Meta` itself. Every field is named, so a new one cannot be
    /// left out of the count unnoticed.
    pub fn heap_bytes(&self) -> usize {
        let Meta {
            v: _,
            kind: _,
            key,
            url,
            status: _,
            headers,
            stored_at: _,
            asked_at: _,
            initial_age: _,
            lifetime: _,
            tags,
            vary,
            body_len: _,
            // Numbers and flags only.
            reuse: _,
            parts,
        } = self;
        heap::string(key)
            + heap::string(url)
            + heap::string_pairs(headers)
            + heap::strings(tags)
            + heap::strings(vary)
            + parts.as_ref().map_or(0, |p| {
                heap::allocation(p.held.capacity() * std::mem::size_of::<(u64, u64)>())
            })
    }

    /// JSON with every non-ASCII character escaped, so it can travel as a header value.
    pub fn to_header(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut ascii = String::with_capacity(json.len());
        for c in json.chars() {
            if c.is_ascii() && !c.is_ascii_control() {
                ascii.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    ascii.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        ascii
    }

    /// Reads a record written by `to_header` or `encode`; `None` for anything else.
    pub fn parse(json: &[u8]) -> Option<Meta> {
        let meta: Meta = serde_json::from_slice(json).ok()?;
        (meta.v == FORMAT && meta.parts_agree()).then_some(meta)
    }

    /// A parts record says which bytes it holds, and they are as many as its body; no other
    /// kind says so.
    fn parts_agree(&self) -> bool {
        match (&self.kind, &self.parts) {
            (Kind::Parts, Some(parts)) => {
                crate::http::parts::well_formed(&parts.held, self.body_len, parts.total)
            }
            (Kind::Parts, None) | (_, Some(_)) => false,
            _ => true,
        }
    }
}

impl Fields for Meta {
    fn field(&self, name: &str) -> Option<String> {
        self.headers.field(name)
    }
}

/// KV value layout: 4-byte big-endian metadata length, metadata JSON, body. (KV's own
/// metadata slot holds only 1,024 bytes, too few for a response's headers.)
pub fn encode(meta: &Meta, body: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(meta).unwrap_or_default();
    let mut value = Vec::with_capacity(4 + json.len() + body.len());
    value.extend_from_slice(&(json.len() as u32).to_be_bytes());
    value.extend_from_slice(&json);
    value.extend_from_slice(body);
    value
}

/// The longest record a KV value's prefix may announce: far more than any response's fields
/// (the runtime bounds those), so a foreign value whose first four bytes read as a huge length
/// is a miss instead of a read of the whole value into the isolate.
pub const MAX_RECORD_BYTES: u32 = 1024 * 1024;

/// The record's length a KV value's first four bytes announce, when it is one `encode` could
/// have written: the reader of a value's stream reads that much, then streams the body.
pub fn record_len(prefix: [u8; 4]) -> Option<u32> {
    let len = u32::from_be_bytes(prefix);
    (len <= MAX_RECORD_BYTES).then_some(len)
}

/// The inverse of `encode`; `None` for a value of another format or a truncated one.
pub fn decode(mut value: Vec<u8>) -> Option<(Meta, Vec<u8>)> {
    let len_bytes: [u8; 4] = value.get(..4)?.try_into().ok()?;
    let json_end = 4usize.checked_add(record_len(len_bytes)? as usize)?;
    let meta = Meta::parse(value.get(4..json_end)?)?;
    let body = value.split_off(json_end);
    (body.len() as u64 == meta.body_len).then_some((meta, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            v: FORMAT,
            kind: Kind::Response,
            key: "p:1:https://example.com/".into(),
            url: "https://example.com/".into(),
            status: 200,
            headers: vec![("content-type".into(), "text/plain; charset=\u{e9}".into())],
            stored_at: 1_000_000,
            asked_at: Some(999_000),
            initial_age: 5,
            lifetime: 65,
            tags: vec!["a".into()],
            vary: vec![],
            body_len: 5,
            reuse: Reuse {
                swr: 10,
                validators: true,
                ..Reuse::default()
            },
            parts: None,
        }
    }

    #[test]
    fn parts_records_round_trip_and_older_records_still_read() {
        let parts = Meta {
            kind: Kind::Parts,
            body_len: 8,
            parts: Some(Pieces {
                total: 20,
                held: vec![(0, 3), (10, 13)],
            }),
            ..meta()
        };
        let (read, body) = decode(encode(&parts, b"abcdWXYZ")).unwrap();
        assert_eq!(read, parts);
        assert_eq!(body, b"abcdWXYZ");
        assert_eq!(Meta::parse(parts.to_header().as_bytes()).unwrap(), parts);
        let json = serde_json::to_string(&meta()).unwrap();
        assert!(
            !json.contains("parts"),
            "a response record is written as before"
        );
        let older = json.replace(",\"reuse\"", ",\"x\":1,\"reuse\"");
        assert_eq!(Meta::parse(older.as_bytes()).unwrap(), meta());
    }

    #[test]
    fn parts_that_disagree_with_the_body_read_as_misses() {
        let parts = |kind, held: Vec<(u64, u64)>, body_len| Meta {
            kind,
            body_len,
            parts: Some(Pieces { total: 20, held }),
            ..meta()
        };
        assert!(decode(encode(&parts(Kind::Parts, vec![(0, 3)], 5), b"abcde")).is_none());
        assert!(decode(encode(&parts(Kind::Parts, vec![(0, 30)], 31), &[0; 31])).is_none());
        assert!(decode(encode(&parts(Kind::Response, vec![(0, 4)], 5), b"abcde")).is_none());
        let bare = Meta {
            kind: Kind::Parts,
            ..meta()
        };
        assert!(
            decode(encode(&bare, b"hello")).is_none(),
            "parts without pieces"
        );
    }

    #[test]
    fn a_value_announcing_a_record_over_a_mebibyte_is_not_read_as_one() {
        let value = encode(&meta(), b"hello");
        let prefix: [u8; 4] = value[..4].try_into().unwrap();
        assert_eq!(record_len(prefix), Some(value.len() as u32 - 4 - 5));
        assert_eq!(
            record_len(MAX_RECORD_BYTES.to_be_bytes()),
            Some(MAX_RECORD_BYTES)
        );
        assert_eq!(record_len((MAX_RECORD_BYTES + 1).to_be_bytes()), None);
        assert_eq!(record_len([0xff; 4]), None);
    }

    #[test]
    fn kv_values_round_trip() {
        let (read, body) = decode(encode(&meta(), b"hello")).unwrap();
        assert_eq!(read, meta());
        assert_eq!(body, b"hello");
    }

    #[test]
    fn truncated_or_foreign_values_read_as_misses() {
        let mut value = encode(&meta(), b"hello");
        value.pop();
        assert!(decode(value).is_none(), "a truncated body is never served");
        assert!(decode(b"xx".to_vec()).is_none());
        assert!(decode(vec![0, 0, 0, 200, b'{']).is_none());
        let future = Meta {
            v: FORMAT + 1,
            ..meta()
        };
        assert!(
            decode(encode(&future, b"hello")).is_none(),
            "another format is a miss"
        );
    }

    #[test]
    fn header_form_is_ascii_and_round_trips() {
        let header = meta().to_header();
        assert!(header.is_ascii());
        assert!(header.contains("\\u00e9"));
        assert_eq!(Meta::parse(header.as_bytes()).unwrap(), meta());
    }

    #[test]
    fn every_string_of_the_metadata_counts_on_the_heap() {
        let small = meta();
        let long_url = format!("https://example.com/{}", "u".repeat(5000));
        let big = Meta {
            url: long_url.clone(),
            tags: (0..64)
                .map(|i| format!("tag-{i:02}-{}", "t".repeat(40)))
                .collect(),
            vary: vec!["accept-language".into(), "x-tenant".into()],
            ..meta()
        };
        let tags: usize = big.tags.iter().map(|t| t.len()).sum();
        let grown = big.heap_bytes() - small.heap_bytes();
        assert!(
            grown >= long_url.len() - small.url.len() + tags + "accept-languagex-tenant".len(),
            "the URL, the tags and the Vary names are all counted: {grown}"
        );
        let headers = Meta {
            headers: vec![("x-long".into(), "v".repeat(3000))],
            ..meta()
        };
        assert!(headers.heap_bytes() > small.heap_bytes() + 3000 - 40);
    }

    #[test]
    fn age_and_ttl_count_resident_time() {
        let m = meta();
        assert_eq!(m.age(1_000_000), 5);
        assert_eq!(m.age(1_010_999), 15);
        assert_eq!(m.ttl(1_010_999), 50);
        assert!(m.is_fresh(1_059_999));
        assert!(!m.is_fresh(1_060_000));
    }
}
