//! Small adapters between the pure core and the Workers runtime's JavaScript objects.

mod executor;
mod headers;
mod streams;
mod tasks;

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, ReadableStreamDefaultReader};

pub use executor::{now_or_later, spawn};
pub use headers::{
    copy_only, copy_without, header_list, headers_from, name_list, reissue, respond, FieldSet,
    JsFields, PickedFields,
};
pub use streams::{chunked, cut, exactly, CHUNK_BYTES};
pub use tasks::Sleep;

/// Milliseconds since the epoch, from the runtime's clock (`SystemTime::now()` panics on
/// wasm32). On Workers the clock advances only across I/O, which is all a cache needs.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
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

/// A JS error as text, for logs and error pages.
pub fn describe(error: &JsValue) -> String {
    if let Some(e) = error.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}
