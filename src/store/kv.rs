//! Workers KV: global and eventually consistent (writes reach other locations within about
//! 60 s), 512-byte keys (longer keys are hashed by `key.rs`), 25 MiB values, and an
//! `expirationTtl` of at least 60 s. Freshness is enforced on read from the entry's own
//! metadata, so an entry fresh for 10 s is not served for 60.
//!
//! A value is the record and the body in one (`record::encode`). A lookup reads it as a
//! stream (`read`): the record is read off its front, and the body is left in the runtime as
//! the rest of the stream, held to the length the record says, so a hit is sent to the client
//! (whole, or the part a Range asks for, cut as it passes) without the body ever being whole
//! in the isolate. `get` still reads a value whole, for callers that want its bytes.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Response as JsResponse, ResponseInit};
use worker::kv::KvStore;
use worker::Env;

use super::{Entry, Read, Store, StoreError, KEEP_FOREVER};
use crate::runtime::{describe, exactly, headers_from};
use edgecache_core::config::Backend;
use edgecache_core::storage::record::{decode, encode, Meta, MAX_RECORD_BYTES};

/// The KV namespace binding edgecache uses, as named in `wrangler.toml`.
pub const KV_BINDING: &str = match Backend::Kv.describe().binding {
    Some(binding) => binding,
    None => "EDGECACHE_KV",
};

/// The longest `expirationTtl` asked of KV, a year: the runtime refuses values past 2^31 - 1
/// (a lifetime saturated at 2^31, or a far-future `Expires`, would fail every write), and
/// freshness is enforced from the entry itself, so an entry dropped earlier is only a miss.
pub const KV_MAX_TTL: u64 = 365 * 24 * 3600;

pub struct KvBackend {
    kv: KvStore,
    /// The namespace's JavaScript object, for the stream reads `KvStore` does not offer;
    /// `None` (a namespace handed over as a `KvStore`): values are read whole.
    namespace: Option<JsValue>,
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        backend: Backend::Kv,
        reason: error.to_string(),
    }
}

impl KvBackend {
    /// A backend over any KV namespace, e.g. one a library user binds under another name.
    pub fn new(kv: KvStore) -> KvBackend {
        KvBackend {
            kv,
            namespace: None,
        }
    }
}

impl Store for KvBackend {
    fn open(env: &Env, _url_base: &str, _memory_budget: u64) -> Result<KvBackend, StoreError> {
        let kv = env
            .kv(KV_BINDING)
            .map_err(|e| StoreError::Binding(format!("KV namespace {KV_BINDING}: {e}")))?;
        let namespace = js_sys::Reflect::get(env, &JsValue::from_str(KV_BINDING)).ok();
        Ok(KvBackend { kv, namespace })
    }

    async fn read(&self, key: &str) -> Result<Option<Read>, StoreError> {
        let Some(namespace) = &self.namespace else {
            return Ok(self.get(key).await?.map(|entry| Read {
                entry,
                unread: None,
            }));
        };
        let got = JsFuture::from(glue::read(namespace, key, f64::from(MAX_RECORD_BYTES)))
            .await
            .map_err(|e| failed(describe(&e)))?;
        if got.is_null() || got.is_undefined() {
            return Ok(None);
        }
        let got: js_sys::Array = got.unchecked_into();
        let record = js_sys::Uint8Array::new(&got.get(0)).to_vec();
        let body: ReadableStream = got.get(1).unchecked_into();
        let Some(meta) = Meta::parse(&record) else {
            let _ = body.cancel();
            return Ok(None);
        };
        if meta.body_len == 0 {
            // A `Vary` marker, or an empty body: nothing to leave in the runtime.
            let _ = body.cancel();
            return Ok(Some(Read {
                entry: Entry::new(meta, Vec::new()),
                unread: None,
            }));
        }
        let length = meta.body_len.to_string();
        let init = ResponseInit::new();
        init.set_headers(&headers_from(&[("content-length".to_string(), length)]));
        let held = exactly(&body, meta.body_len as f64);
        let response = JsResponse::new_with_opt_readable_stream_and_init(Some(&held), &init)
            .map_err(|e| failed(describe(&e)))?;
        Ok(Some(Read {
            entry: Entry::new(meta, Vec::new()),
            unread: Some(response),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let value = self.kv.get(key).bytes().await.map_err(failed)?;
        Ok(value
            .and_then(decode)
            .map(|(meta, body)| Entry::new(meta, body)))
    }

    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError> {
        let put = self
            .kv
            .put_bytes(key, &encode(&entry.meta, &entry.body))
            .map_err(failed)?;
        let put = if keep_secs == KEEP_FOREVER {
            put
        } else {
            put.expiration_ttl(keep_secs.clamp(Backend::Kv.describe().min_ttl_secs, KV_MAX_TTL))
        };
        put.execute().await.map_err(failed)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv.delete(key).await.map_err(failed)
    }
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;

    #[wasm_bindgen(inline_js = "
export async function kvRead(kv, key, maxRecord) {
  const stream = await kv.get(key, { type: 'stream' });
  if (stream === null) return null;
  let reader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    return kvReadByChunks(stream, maxRecord);
  }
  // Exactly the record's bytes are read; the rest of the stream is the body, left to the
  // runtime as it is (piped natively, never a chunk in JavaScript).
  const exactly = async (n) => {
    let buffer = new ArrayBuffer(n);
    let at = 0;
    while (at < n) {
      const { done, value } = await reader.read(new Uint8Array(buffer, at, n - at));
      if (done) return null;
      buffer = value.buffer;
      at += value.byteLength;
    }
    return new Uint8Array(buffer, 0, n);
  };
  const miss = () => { reader.cancel().catch(() => {}); return null; };
  const prefix = await exactly(4);
  if (prefix === null) return miss();
  const length = new DataView(prefix.buffer).getUint32(0);
  if (length > maxRecord) return miss();
  const record = length === 0 ? new Uint8Array(0) : await exactly(length);
  if (record === null) return miss();
  reader.releaseLock();
  return [record, stream];
}
async function kvReadByChunks(stream, maxRecord) {
  const reader = stream.getReader();
  let held = new Uint8Array(0);
  const need = async (n) => {
    while (held.byteLength < n) {
      const { done, value } = await reader.read();
      if (done) return false;
      if (held.byteLength === 0) { held = value; continue; }
      const joined = new Uint8Array(held.byteLength + value.byteLength);
      joined.set(held);
      joined.set(value, held.byteLength);
      held = joined;
    }
    return true;
  };
  const miss = () => { reader.cancel().catch(() => {}); return null; };
  if (!(await need(4))) return miss();
  const length = new DataView(held.buffer, held.byteOffset, 4).getUint32(0);
  if (length > maxRecord || !(await need(4 + length))) return miss();
  const record = held.slice(4, 4 + length);
  let rest = held.byteLength > 4 + length ? held.slice(4 + length) : null;
  held = null;
  const body = new ReadableStream({
    async pull(controller) {
      if (rest !== null) {
        controller.enqueue(rest);
        rest = null;
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return [record, body];
}
")]
    extern "C" {
        /// `[record, body]` for the value under `key` read as a stream: the record's bytes
        /// (after the four that give its length, at most `maxRecord`) and the rest of the
        /// stream, unread; `null` when there is no value or it is not one of ours.
        #[wasm_bindgen(js_name = kvRead)]
        pub fn read(kv: &JsValue, key: &str, max_record: f64) -> js_sys::Promise;
    }
}
