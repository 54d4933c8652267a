//! An R2 bucket (binding `EDGECACHE_R2`): global, strongly consistent, objects up to 5 GiB
//! in one upload, and no expiry of its own. For bodies Workers KV refuses (over 25 MiB) and
//! long-lived assets.
//!
//! An object is the entry's body as is; its record (`Meta::to_header`, the same text the
//! Cache API tier keeps in a header) and the time it may be kept until go in its custom
//! metadata (`m`, and `e` in ms since the epoch; none for `KEEP_FOREVER`). R2 deletes
//! nothing by itself, so a read past `e` is a miss and deletes the object. Reads leave the
//! body in the runtime (`Read::unread`), so a hit streams from R2 to the client without
//! passing through Wasm, and a Range request reads only its bytes (`read_part`); a large
//! fill is written from a branch of the origin's stream (`put_stream`). Custom metadata is
//! limited to 8 KiB by R2: a record longer than that is not stored here (a store error,
//! logged; the other tiers still get it).

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Response as JsResponse};
use worker::Env;

use super::{read_body, Entry, Read, Store, StoreError, KEEP_FOREVER};
use crate::runtime::{describe, exactly, now_ms};
use edgecache_core::config::Backend;
use edgecache_core::storage::record::Meta;

/// R2's limit on an object's metadata; the record and the keep time must fit in it, with
/// room for their names.
const MAX_METADATA_BYTES: usize = 8192 - 64;

pub struct R2Store {
    bucket: JsValue,
}

fn failed(reason: String) -> StoreError {
    StoreError::Backend {
        backend: Backend::R2,
        reason,
    }
}

fn binding() -> &'static str {
    Backend::R2.describe().binding.unwrap_or("EDGECACHE_R2")
}

impl R2Store {
    /// A store over any bucket, e.g. one a library user binds under another name.
    pub fn new(bucket: worker::Bucket) -> R2Store {
        R2Store {
            bucket: bucket.as_ref().clone(),
        }
    }

    /// The time `keep_secs` from now, as metadata `e` holds it (`None`: kept for ever).
    fn until(keep_secs: u64) -> Option<String> {
        (keep_secs != KEEP_FOREVER).then(|| {
            let keep_ms = i64::try_from(keep_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000);
            now_ms().saturating_add(keep_ms).to_string()
        })
    }

    /// The record as metadata `m`, if R2 takes metadata that long.
    fn record(meta: &Meta) -> Result<String, StoreError> {
        let text = meta.to_header();
        if text.len() > MAX_METADATA_BYTES {
            return Err(failed(format!(
                "the record is {} bytes, over R2's 8 KiB of object metadata",
                text.len()
            )));
        }
        Ok(text)
    }

    /// Writes `body` (a stream of exactly `meta.body_len` bytes) to `key` without holding it
    /// in Wasm; a stream that ends early, runs long or fails stores nothing.
    pub async fn put_stream(
        &self,
        key: &str,
        meta: &Meta,
        body: ReadableStream,
        keep_secs: u64,
    ) -> Result<(), StoreError> {
        let record = Self::record(meta)?;
        let until = Self::until(keep_secs);
        let put = glue::put_stream(
            &self.bucket,
            key,
            &body,
            meta.body_len as f64,
            &record,
            until.as_deref(),
        );
        JsFuture::from(put)
            .await
            .map(|_| ())
            .map_err(|e| failed(describe(&e)))
    }
}

impl Store for R2Store {
    fn open(env: &Env, _url_base: &str, _memory_budget: u64) -> Result<R2Store, StoreError> {
        env.bucket(binding())
            .map(R2Store::new)
            .map_err(|e| StoreError::Binding(format!("R2 bucket {}: {e}", binding())))
    }

    async fn read(&self, key: &str) -> Result<Option<Read>, StoreError> {
        let got = JsFuture::from(glue::get(&self.bucket, key))
            .await
            .map_err(|e| failed(describe(&e)))?;
        if got.is_null() || got.is_undefined() {
            return Ok(None);
        }
        let got: js_sys::Array = got.unchecked_into();
        let record = got.get(0).as_string().unwrap_or_default();
        let until = got.get(1).as_string().and_then(|e| e.parse::<i64>().ok());
        let response: JsResponse = got.get(2).unchecked_into();
        let expired = until.is_some_and(|until| now_ms() >= until);
        let meta = Meta::parse(record.as_bytes());
        let Some(meta) = meta.filter(|_| !expired) else {
            // Past its keep time (R2 would keep it for ever), or not a record of ours.
            if let Some(body) = response.body() {
                let _ = body.cancel();
            }
            if expired {
                self.delete(key).await?;
            }
            return Ok(None);
        };
        Ok(Some(Read {
            entry: Entry::new(meta, Vec::new()),
            unread: Some(response),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let Some(Read { entry, unread }) = self.read(key).await? else {
            return Ok(None);
        };
        match unread {
            Some(response) => read_body(entry, &response, Backend::R2).await,
            None => Ok(Some(entry)),
        }
    }

    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError> {
        let record = Self::record(&entry.meta)?;
        let until = Self::until(keep_secs);
        let body = js_sys::Uint8Array::from(&entry.body[..]);
        let put = glue::put(&self.bucket, key, &body, &record, until.as_deref());
        JsFuture::from(put)
            .await
            .map(|_| ())
            .map_err(|e| failed(describe(&e)))
    }

    /// R2's ranged `get`: only the part's bytes leave the bucket.
    async fn read_part(
        &self,
        meta: &Meta,
        first: u64,
        last: u64,
    ) -> Result<Option<ReadableStream>, StoreError> {
        let length = (last - first + 1) as f64;
        let got = JsFuture::from(glue::get_part(
            &self.bucket,
            &meta.key,
            first as f64,
            length,
        ))
        .await
        .map_err(|e| failed(describe(&e)))?;
        if got.is_null() || got.is_undefined() {
            return Ok(None);
        }
        let got: js_sys::Array = got.unchecked_into();
        let record = got.get(0).as_string().unwrap_or_default();
        let size = got.get(1).as_f64().unwrap_or(-1.0);
        let body: ReadableStream = got.get(2).unchecked_into();
        // The same record over a body of the length it says: the object was not replaced
        // since the lookup read it.
        let same = size == meta.body_len as f64
            && Meta::parse(record.as_bytes()).is_some_and(|read| read == *meta);
        if !same {
            let _ = body.cancel();
            return Ok(None);
        }
        Ok(Some(exactly(&body, length)))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        JsFuture::from(glue::delete(&self.bucket, key))
            .await
            .map(|_| ())
            .map_err(|e| failed(describe(&e)))
    }
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;
    use web_sys::ReadableStream;

    #[wasm_bindgen(inline_js = "
function metadata(record, until) {
  const m = { m: record };
  if (until != null) m.e = until;
  return { customMetadata: m };
}
export async function r2Get(bucket, key) {
  const object = await bucket.get(key);
  if (object === null) return null;
  const m = object.customMetadata || {};
  const headers = { 'content-length': String(object.size) };
  return [m.m ?? '', m.e ?? null, new Response(object.body, { headers })];
}
export async function r2GetPart(bucket, key, offset, length) {
  const object = await bucket.get(key, { range: { offset, length } });
  if (object === null) return null;
  const m = object.customMetadata || {};
  return [m.m ?? '', object.size, object.body];
}
export async function r2Put(bucket, key, body, record, until) {
  await bucket.put(key, body, metadata(record, until));
}
export async function r2PutStream(bucket, key, body, length, record, until) {
  const { readable, writable } = new FixedLengthStream(length);
  await Promise.all([bucket.put(key, readable, metadata(record, until)), body.pipeTo(writable)]);
}
export async function r2Delete(bucket, key) {
  await bucket.delete(key);
}
")]
    extern "C" {
        /// `[record, until, Response]` for the object under `key` (its body unread), or
        /// `null`.
        #[wasm_bindgen(js_name = r2Get)]
        pub fn get(bucket: &JsValue, key: &str) -> js_sys::Promise;
        /// `[record, size, body]` for bytes `offset..offset + length` of the object under
        /// `key` (`size`: the whole object's), or `null`.
        #[wasm_bindgen(js_name = r2GetPart)]
        pub fn get_part(bucket: &JsValue, key: &str, offset: f64, length: f64) -> js_sys::Promise;
        #[wasm_bindgen(js_name = r2Put)]
        pub fn put(
            bucket: &JsValue,
            key: &str,
            body: &js_sys::Uint8Array,
            record: &str,
            until: Option<&str>,
        ) -> js_sys::Promise;
        /// Pipes `body` into the object through a `FixedLengthStream` of `length` bytes (R2
        /// takes a stream only of known length).
        #[wasm_bindgen(js_name = r2PutStream)]
        pub fn put_stream(
            bucket: &JsValue,
            key: &str,
            body: &ReadableStream,
            length: f64,
            record: &str,
            until: Option<&str>,
        ) -> js_sys::Promise;
        #[wasm_bindgen(js_name = r2Delete)]
        pub fn delete(bucket: &JsValue, key: &str) -> js_sys::Promise;
    }
}
