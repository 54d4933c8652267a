//! Building the responses a client receives: from a stored entry, from the origin's
//! response, or an error page. `Cache-Status` is added here and nowhere else.

use wasm_bindgen::JsValue;
use web_sys::{Headers, ReadableStream, Response, ResponseInit};

use crate::conditional::NOT_MODIFIED_FIELDS;
use crate::entry::Meta;
use crate::policy::TARGETED_FIELDS;
use crate::purge::TAG_FIELDS;
use crate::runtime::{header_list, headers_from};
use crate::status::{append_cache_status, Outcome};

/// What to change in the headers on the way out.
pub struct Decoration<'a> {
    pub outcome: &'a Outcome,
    /// A route's `browser_ttl`: replaces the `Cache-Control` clients see.
    pub browser_ttl: Option<u64>,
    /// Keep `Cache-Tag` and `Surrogate-Key` (configuration `expose_tags`).
    pub expose_tags: bool,
}

impl Decoration<'_> {
    fn apply(&self, headers: &Headers) {
        // RFC 9213: targeted fields are for caches; clients get the plain Cache-Control.
        for name in TARGETED_FIELDS {
            let _ = headers.delete(name);
        }
        if !self.expose_tags {
            for name in TAG_FIELDS {
                let _ = headers.delete(name);
            }
        }
        let existing = headers.get("cache-status").ok().flatten();
        let _ = headers.set(
            "cache-status",
            &append_cache_status(existing.as_deref(), &self.outcome.cache_status()),
        );
        if let Some(ttl) = self.browser_ttl {
            let _ = headers.set("cache-control", &format!("max-age={ttl}"));
        }
    }
}

/// What a response carries after its headers.
pub enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    Stream(&'a ReadableStream),
}

/// Statuses whose responses never carry content (RFC 9110 §6.4.1).
fn is_null_body(status: u16) -> bool {
    matches!(status, 101 | 103 | 204 | 205 | 304)
}

fn build(status: u16, headers: &Headers, payload: Payload) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(headers);
    match payload {
        _ if is_null_body(status) => Response::new_with_opt_str_and_init(None, &init),
        Payload::Empty => Response::new_with_opt_str_and_init(None, &init),
        Payload::Bytes(bytes) => {
            let array = js_sys::Uint8Array::from(bytes);
            Response::new_with_opt_buffer_source_and_init(Some(&array), &init)
        }
        Payload::Stream(stream) => {
            Response::new_with_opt_readable_stream_and_init(Some(stream), &init)
        }
    }
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
    build(304, &headers_from(&kept), Payload::Empty)
}

/// A stored response with `Age` (RFC 9111 §5.1) and our `Cache-Status`. `head` leaves the
/// body out; `not_modified` answers 304 instead.
pub fn from_entry(
    meta: &Meta,
    body: &[u8],
    now_ms: i64,
    head: bool,
    not_modified: bool,
    decoration: &Decoration,
) -> Result<Response, JsValue> {
    let headers = headers_from(&meta.headers);
    let _ = headers.set("age", &meta.age(now_ms).to_string());
    decoration.apply(&headers);
    if not_modified {
        return not_modified_response(&headers);
    }
    build(
        meta.status,
        &headers,
        if head {
            Payload::Empty
        } else {
            Payload::Bytes(body)
        },
    )
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
    let headers = Headers::new_with_headers(&origin.headers())?;
    decoration.apply(&headers);
    if not_modified {
        return not_modified_response(&headers);
    }
    let payload = body.map_or(Payload::Empty, Payload::Stream);
    build(origin.status(), &headers, payload)
}

/// A short plain-text page for what edgecache itself answers (errors, loops), never stored
/// downstream.
pub fn plain(status: u16, message: &str, outcome: &Outcome) -> Result<Response, JsValue> {
    let headers = headers_from(&[
        ("content-type".into(), "text/plain; charset=utf-8".into()),
        ("cache-control".into(), "no-store".into()),
        ("cache-status".into(), outcome.cache_status()),
    ]);
    build(status, &headers, Payload::Bytes(message.as_bytes()))
}
