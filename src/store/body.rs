//! Reading a stored body that the runtime still holds (a Cache API match, an R2 object's
//! `Response`): into the entry, checked against the length it was stored with, or left
//! unread as a stream. Shared by the tiers whose reads give a `Response`.

use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Response as JsResponse};

use super::{Entry, StoreError};
use crate::runtime::describe;
use edgecache_core::config::Backend;

/// Reads an unread entry's body into it, from `backend`'s response; `None` if it is not as
/// long as when it was stored.
pub async fn read_body(
    entry: Entry,
    response: &JsResponse,
    backend: Backend,
) -> Result<Option<Entry>, StoreError> {
    let failed = |e: wasm_bindgen::JsValue| StoreError::Backend {
        backend,
        reason: describe(&e),
    };
    let buffer = response.array_buffer().map_err(failed)?;
    let buffer = JsFuture::from(buffer).await.map_err(failed)?;
    let body = js_sys::Uint8Array::new(&buffer).to_vec();
    if body.len() as u64 != entry.meta.body_len {
        return Ok(None);
    }
    Ok(Some(Entry {
        body: body.into(),
        ..entry
    }))
}

/// An unread entry's body as a stream, when the runtime says it is as long as when it was
/// stored (`Content-Length`); otherwise `None`, and it must be read and checked instead.
pub fn unread_body(response: &JsResponse, body_len: u64) -> Option<ReadableStream> {
    let length = response.headers().get("content-length").ok().flatten()?;
    (length.trim().parse::<u64>().ok()? == body_len)
        .then(|| response.body())
        .flatten()
}
