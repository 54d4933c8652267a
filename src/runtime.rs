//! Small adapters between the pure core and the Workers runtime's JavaScript objects.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, ReadableStream, ReadableStreamDefaultReader};

use std::time::Duration;

use worker::Delay;

use crate::coalesce::{Settled, Ticket};
use crate::policy::Fields;

/// Milliseconds since the epoch, from the runtime's clock (`SystemTime::now()` panics on
/// wasm32). On Workers the clock advances only across I/O, which is all a cache needs.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A JS `Headers` read through the core's `Fields` trait.
pub struct JsFields<'a>(pub &'a Headers);

impl Fields for JsFields<'_> {
    fn field(&self, name: &str) -> Option<String> {
        self.0.get(name).ok().flatten()
    }
}

/// Every field line of a JS `Headers`, lowercase names, in order (`Set-Cookie` lines apart).
pub fn header_list(headers: &Headers) -> Vec<(String, String)> {
    let mut list = Vec::new();
    for pair in js_sys::try_iter(headers)
        .ok()
        .flatten()
        .into_iter()
        .flatten()
    {
        let Ok(pair) = pair else { continue };
        let pair: js_sys::Array = pair.unchecked_into();
        if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            list.push((name, value));
        }
    }
    list
}

/// A JS `Headers` holding `list`; a field the runtime refuses is skipped, not fatal.
pub fn headers_from(list: &[(String, String)]) -> Headers {
    let headers = Headers::new().unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into());
    for (name, value) in list {
        let _ = headers.append(name, value);
    }
    headers
}

/// How reading a body for storage ended.
pub enum Body {
    Complete(Vec<u8>),
    /// Longer than the limit: reading stopped and the stream was cancelled.
    TooLarge,
}

/// Reads a stream to its end, giving up (and cancelling it, so a `tee` stops buffering for
/// it) once more than `limit` bytes have arrived. An error mid-body is an error: a partial
/// body must never be stored.
pub async fn read_limited(stream: ReadableStream, limit: u64) -> Result<Body, JsValue> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        let done = js_sys::Reflect::get(&chunk, &JsValue::from_str("done"))?;
        if done.is_truthy() {
            return Ok(Body::Complete(body));
        }
        let value = js_sys::Reflect::get(&chunk, &JsValue::from_str("value"))?;
        let bytes = js_sys::Uint8Array::new(&value);
        if body.len() as u64 + u64::from(bytes.length()) > limit {
            let _ = JsFuture::from(reader.cancel()).await;
            return Ok(Body::TooLarge);
        }
        let start = body.len();
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
}

/// Polls a coalesced follower's ticket on this request's own timer, giving up after
/// `timeout_ms` (then the follower does the work itself). On Workers a request resumed from
/// another request's context is cancelled as hung, so the leader cannot wake it.
pub async fn wait_for(ticket: &Ticket, timeout_ms: u64) -> Option<Settled> {
    let deadline = now_ms() + timeout_ms as i64;
    let mut interval = 2;
    loop {
        if let Some(settled) = ticket.settled() {
            return Some(settled);
        }
        if now_ms() >= deadline {
            return None;
        }
        Delay::from(Duration::from_millis(interval)).await;
        interval = (interval * 2).min(25);
    }
}

/// A JS error as text, for logs and error pages.
pub fn describe(error: &JsValue) -> String {
    if let Some(e) = error.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}
