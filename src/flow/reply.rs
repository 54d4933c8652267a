//! Building the responses a client receives: from a stored entry, from the origin's
//! response, or an error page. `Cache-Status` is added here and nowhere else.

use std::borrow::Cow;
use std::ops::Range;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use web_sys::{Headers, ReadableStream, Response};

use crate::runtime::{
    chunked, copy_without, header_list, headers_from, name_list, reissue, respond, CHUNK_BYTES,
};
use crate::store::{ClientHeaders, Entry};
use edgecache_core::control::registry::TAG_FIELDS;
use edgecache_core::decide::shield::{SHIELD_FIELDS, SHIELD_NAME, STORED_AT_FIELD};
use edgecache_core::http::conditional::NOT_MODIFIED_FIELDS;
use edgecache_core::http::range::RangeAnswer;
use edgecache_core::http::CONSUMED_FIELDS;
use edgecache_core::status::{append_cache_status, Outcome};

/// What to change in the headers on the way out.
pub struct Decoration<'a> {
    pub outcome: &'a Outcome,
    /// A route's `browser_ttl`: replaces the `Cache-Control` clients see.
    pub browser_ttl: Option<u64>,
    pub audience: Audience,
}

/// Who an answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Clients: the fields for caches are dropped (`Cache-Tag` and `Surrogate-Key` kept with
    /// `expose_tags`), a route's `browser_ttl` applies, and `Cache-Status` names edgecache.
    Clients { expose_tags: bool },
    /// The locations' caches, from the shield: every field the origin sent, and
    /// `Cache-Status` naming the shield (`decide::shield::SHIELD_NAME`).
    Caches,
}

thread_local! {
    /// `is_for_caches`'s fields as JS arrays, with the tag fields and without; and for the
    /// locations' caches, all but the shield's own signal.
    static FOR_CACHES: [js_sys::Array; 3] = [
        name_list(&[CONSUMED_FIELDS, TAG_FIELDS, SHIELD_FIELDS].concat()),
        name_list(&[CONSUMED_FIELDS, SHIELD_FIELDS].concat()),
        // An origin's own field of those names would read as the shield's word.
        name_list(SHIELD_FIELDS),
    ];
}

impl Decoration<'_> {
    /// An origin response's fields as clients are to see them.
    fn apply(&self, origin: &Headers) -> Result<Headers, JsValue> {
        let headers = FOR_CACHES.with(|lists| copy_without(origin, self.dropped(lists)))?;
        let upstream = headers.get("cache-status").ok().flatten();
        self.stamp(&headers, upstream.as_deref());
        Ok(headers)
    }

    /// Which of `FOR_CACHES`'s lists applies.
    fn dropped<'l>(&self, lists: &'l [js_sys::Array; 3]) -> &'l js_sys::Array {
        match self.audience {
            Audience::Clients { expose_tags } => &lists[usize::from(expose_tags)],
            Audience::Caches => &lists[2],
        }
    }

    /// The member this answer adds to `Cache-Status`.
    fn member(&self) -> String {
        match self.audience {
            Audience::Clients { .. } => self.outcome.cache_status(),
            Audience::Caches => self.outcome.cache_status_named(SHIELD_NAME),
        }
    }

    /// Adds our `Cache-Status` member after `upstream`'s, and the route's `browser_ttl`.
    fn stamp(&self, headers: &Headers, upstream: Option<&str>) {
        self.stamps(upstream, None).set_on(headers);
    }

    /// What `stamp` sets, with `age` for a stored response.
    fn stamps(&self, upstream: Option<&str>, age: Option<u64>) -> Stamps {
        Stamps {
            age,
            cache_status: append_cache_status(upstream, &self.member()),
            cache_control: self.cache_control(),
            content_range: None,
        }
    }

    /// The route's `browser_ttl` as the `Cache-Control` clients see.
    fn cache_control(&self) -> Option<String> {
        match self.audience {
            Audience::Clients { .. } => self.browser_ttl.map(|ttl| format!("max-age={ttl}")),
            Audience::Caches => None,
        }
    }
}

/// The fields each response gets on its way out, over the ones it was built with.
struct Stamps {
    age: Option<u64>,
    cache_status: String,
    cache_control: Option<String>,
    /// For a part of the stored response, or a range it cannot satisfy.
    content_range: Option<String>,
}

impl Stamps {
    fn set_on(&self, headers: &Headers) {
        if let Some(age) = self.age {
            let _ = headers.set("age", &age.to_string());
        }
        let _ = headers.set("cache-status", &self.cache_status);
        if let Some(value) = &self.cache_control {
            let _ = headers.set("cache-control", value);
        }
        if let Some(value) = &self.content_range {
            let _ = headers.set("content-range", value);
        }
    }
}

/// Statuses whose responses never carry content (RFC 9110 §6.4.1).
fn is_null_body(status: u16) -> bool {
    matches!(status, 101 | 103 | 204 | 205 | 304)
}

/// What a response built here carries after its fields.
enum Payload<'a> {
    Bytes(&'a [u8]),
    Stream(&'a ReadableStream),
    /// Bytes `range` of a stored body held in Wasm (the memory tier's, or one just read):
    /// sent a chunk at a time when it is larger than a few chunks, so a hit never copies a
    /// large body out of Wasm whole.
    Stored(&'a Rc<[u8]>, Range<usize>),
}

/// A stored body left in the runtime (Cache API, KV, R2) rather than copied into Wasm: the
/// whole of it as a stream, or the part a Range request asked for, as a stream too.
pub enum Unread {
    Whole(ReadableStream),
    Part(ReadableStream),
}

impl Unread {
    /// Drops a body that is not sent, so the runtime stops reading it.
    fn discard(&self) {
        let (Unread::Whole(stream) | Unread::Part(stream)) = self;
        let _ = stream.cancel();
    }
}

/// A response with `body` (`None`: empty) and then `stamps`; never a body for a status that
/// has none. Built in one call to the runtime: a hit does little else.
fn build(
    status: u16,
    headers: &Headers,
    body: Option<Payload>,
    stamps: Option<&Stamps>,
) -> Result<Response, JsValue> {
    let body = match body {
        _ if is_null_body(status) => JsValue::NULL,
        Some(Payload::Bytes(bytes)) => js_sys::Uint8Array::from(bytes).into(),
        Some(Payload::Stream(stream)) => stream.into(),
        Some(Payload::Stored(body, range)) if range.len() > 4 * CHUNK_BYTES => {
            chunked(body.clone(), range)?.into()
        }
        Some(Payload::Stored(body, range)) => match body.get(range) {
            Some(bytes) => js_sys::Uint8Array::from(bytes).into(),
            None => return Err(JsValue::from_str("a part beyond the stored body")),
        },
        None => JsValue::NULL,
    };
    respond(
        status,
        headers,
        &body,
        stamps.and_then(|s| s.age),
        stamps.map(|s| s.cache_status.as_str()),
        stamps.and_then(|s| s.cache_control.as_deref()),
        stamps.and_then(|s| s.content_range.as_deref()),
    )
}

/// A 304 carrying only the fields RFC 9110 §15.4.5 lists (and `Age`, `Cache-Status`) of
/// the 200 it stands for.
fn not_modified_response(full: &Headers) -> Result<Response, JsValue> {
    let kept: Vec<(String, String)> = header_list(full)
        .into_iter()
        .filter(|(n, _)| {
            NOT_MODIFIED_FIELDS.contains(&n.as_str()) || n == "cache-status" || n == "age"
        })
        .collect();
    build(304, &headers_from(&kept), None, None)
}

/// A stored response with `Age` (RFC 9111 §5.1) and our `Cache-Status`. `head` leaves the
/// body out; `not_modified` answers 304 instead; `range` answers with a part of it (`206`) or
/// says it cannot (`416`). `unread`: the body still in the runtime (`entry.body` is then
/// empty), whole or already cut to `range`; discarded when not sent.
pub fn from_entry(
    entry: &Entry,
    unread: Option<Unread>,
    now_ms: i64,
    head: bool,
    not_modified: bool,
    range: RangeAnswer,
    decoration: &Decoration,
) -> Result<Response, JsValue> {
    let meta = &entry.meta;
    let (fields, mut stamps) = stored(entry, now_ms, decoration);
    let discard = || unread.iter().for_each(Unread::discard);
    if not_modified {
        discard();
        let headers = Headers::new_with_headers(&fields.headers)?;
        stamps.set_on(&headers);
        return not_modified_response(&headers);
    }
    let length = meta.body_len;
    match (range, &unread) {
        _ if head => {}
        (RangeAnswer::Unsatisfiable, _) => {
            discard();
            stamps.content_range = Some(format!("bytes */{length}"));
            return build(416, &fields.headers, None, Some(&stamps));
        }
        // A whole unread body cannot be cut here: it is sent whole.
        (RangeAnswer::Partial { .. }, Some(Unread::Whole(_))) => {}
        (RangeAnswer::Partial { first, last }, unread) => {
            let part = match unread {
                Some(Unread::Part(part)) => Some(Payload::Stream(part)),
                _ => (last < entry.body.len() as u64)
                    .then(|| Payload::Stored(&entry.body, first as usize..last as usize + 1)),
            };
            if let Some(part) = part {
                return part_of(&fields, stamps, (first, last, length), part);
            }
        }
        (RangeAnswer::Full, _) => {}
    }
    // The constructor copies the entry's fields: the stamps go on the copy.
    let body = match &unread {
        _ if head => {
            discard();
            None
        }
        Some(Unread::Whole(stream)) => Some(Payload::Stream(stream)),
        Some(Unread::Part(_)) => {
            return Err(JsValue::from_str("a part of a body, without its range"))
        }
        None => Some(Payload::Stored(&entry.body, 0..entry.body.len())),
    };
    build(meta.status, &fields.headers, body, Some(&stamps))
}

/// Where the bytes of a part sent from held parts come from.
pub enum PartBytes {
    /// Bytes `range` of the parts' body, read into Wasm.
    Held(Range<usize>),
    /// Read from the tier that holds the parts, only those bytes (`Found::take_unread`).
    Read(ReadableStream),
}

/// Bytes `first..=last` of a representation of `total` bytes, held as parts (`entry`): a
/// `206` with the stored fields, `Age`, `Content-Range` and our `Cache-Status`.
pub fn from_part(
    entry: &Entry,
    now_ms: i64,
    (first, last, total): (u64, u64, u64),
    bytes: &PartBytes,
    decoration: &Decoration,
) -> Result<Response, JsValue> {
    let (fields, stamps) = stored(entry, now_ms, decoration);
    let payload = match bytes {
        PartBytes::Held(range) => Payload::Stored(&entry.body, range.clone()),
        PartBytes::Read(stream) => Payload::Stream(stream),
    };
    part_of(&fields, stamps, (first, last, total), payload)
}

/// A stored entry's fields as its audience sees them (for clients, built once per entry),
/// and what this response adds to them: `Age`, our `Cache-Status`, the route's `browser_ttl`.
fn stored<'e>(
    entry: &'e Entry,
    now_ms: i64,
    decoration: &Decoration,
) -> (Cow<'e, ClientHeaders>, Stamps) {
    let meta = &entry.meta;
    let fields = match decoration.audience {
        Audience::Clients { expose_tags } => Cow::Borrowed(
            entry
                .client_headers
                .get_or_init(|| ClientHeaders::of(meta, expose_tags)),
        ),
        Audience::Caches => {
            let fields = ClientHeaders::for_caches(meta);
            // The time purges are compared with: a purge made while the shield's own fetch
            // was on its way reaches the location's copy too.
            let _ = fields
                .headers
                .set(STORED_AT_FIELD, &meta.purged_from().to_string());
            Cow::Owned(fields)
        }
    };
    let stamps = decoration.stamps(fields.upstream_status.as_deref(), Some(meta.age(now_ms)));
    (fields, stamps)
}

/// A `206` of bytes `first..=last` of a representation of `total` bytes.
fn part_of(
    fields: &ClientHeaders,
    mut stamps: Stamps,
    (first, last, total): (u64, u64, u64),
    part: Payload,
) -> Result<Response, JsValue> {
    stamps.content_range = Some(format!("bytes {first}-{last}/{total}"));
    build(206, &fields.headers, Some(part), Some(&stamps))
}

/// The origin's response with our `Cache-Status`, streaming `body` (its own, or one branch
/// of a tee). A `101 Switching Protocols` passes untouched: it carries a WebSocket.
/// `not_modified`: the client's validators match the response just fetched.
pub fn from_origin(
    origin: &Response,
    body: Option<&ReadableStream>,
    not_modified: bool,
    decoration: &Decoration,
) -> Result<Response, JsValue> {
    if origin.status() == 101 {
        return Ok(Clone::clone(origin));
    }
    if not_modified {
        return not_modified_response(&decoration.apply(&origin.headers())?);
    }
    let body = body.filter(|_| !is_null_body(origin.status()));
    let cache_control = decoration.cache_control();
    FOR_CACHES.with(|lists| {
        reissue(
            origin,
            body,
            decoration.dropped(lists),
            &decoration.member(),
            cache_control.as_deref(),
        )
    })
}

/// A short plain-text page for what edgecache itself answers (errors, loops), never stored
/// downstream.
pub fn plain(status: u16, message: &str, outcome: &Outcome) -> Result<Response, JsValue> {
    let headers = headers_from(&[
        ("content-type".into(), "text/plain; charset=utf-8".into()),
        ("cache-control".into(), "no-store".into()),
        ("cache-status".into(), outcome.cache_status()),
    ]);
    build(
        status,
        &headers,
        Some(Payload::Bytes(message.as_bytes())),
        None,
    )
}
