//! The Cache API (`caches.default`): per data center, honours the stored response's
//! own `Cache-Control` for expiry, refuses `206`, `Vary: *` and non-GET keys.
//!
//! So that none of the origin's caching headers can make it refuse or vary an entry, the
//! stored response carries only our `Cache-Control` and the entry's metadata (origin headers
//! included) as one ASCII header; the body is stored as is. Keys are URLs in the request's
//! own zone, named by the SHA-256 of the rendered key.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Response as JsResponse, ResponseInit};

use super::{read_body, Entry, Read, Store, StoreError};
use crate::runtime::{cut, describe, exactly, headers_from};
use edgecache_core::config::Backend;
use edgecache_core::request::key::digest;
use edgecache_core::storage::lru::Lru;
use edgecache_core::storage::record::Meta;

const META_HEADER: &str = "x-edgecache-meta";
const MAX_DELTA_SECONDS: u64 = 1 << 31;

/// `caches.default`, read and written through `glue`: the `worker` crate's `Cache` builds a
/// second `Response` around each one it reads (and each one it writes), copying its fields.
pub struct CacheApiStore {
    url_base: String,
}

fn failed(reason: String) -> StoreError {
    StoreError::Backend {
        backend: Backend::CacheApi,
        reason,
    }
}

impl CacheApiStore {
    pub fn new(url_base: &str) -> CacheApiStore {
        CacheApiStore {
            url_base: format!("{url_base}/__edgecache/"),
        }
    }

    fn url(&self, key: &str) -> String {
        format!("{}{}", self.url_base, digest(key))
    }

    /// The stored response under `key` as an entry whose body is left unread in the runtime
    /// (`read_body` reads it; `unread_body` pipes it).
    pub async fn get_unread(&self, key: &str) -> Result<Option<(Entry, JsResponse)>, StoreError> {
        let found = glue::cache_match(&self.url(key)).map_err(|e| failed(describe(&e)))?;
        let found = JsFuture::from(found)
            .await
            .map_err(|e| failed(describe(&e)))?;
        // `match` answers `undefined` when nothing is stored.
        let Ok(raw) = found.dyn_into::<JsResponse>() else {
            return Ok(None);
        };
        let Some(entry) = raw
            .headers()
            .get(META_HEADER)
            .ok()
            .flatten()
            .and_then(parsed)
        else {
            return Ok(None);
        };
        Ok(Some((entry, raw)))
    }
}

/// Bytes of metadata text an isolate keeps parsed (its entries hold about as much again).
const PARSED_BUDGET: u64 = 256 * 1024;

thread_local! {
    /// Entries (without their bodies) parsed from metadata text lately read from the Cache
    /// API, by that text: a hit on an entry seen before skips the JSON parse and reuses the
    /// client fields built for it. The text is the whole record, so equal text means an equal
    /// entry, and nothing kept here can go stale.
    static PARSED: RefCell<Lru<Entry>> = RefCell::new(Lru::new(PARSED_BUDGET));
}

/// The entry (body empty) that metadata `text` describes; `None` if it is not ours.
fn parsed(text: String) -> Option<Entry> {
    if let Some(entry) = PARSED.with(|p| p.borrow_mut().get(&text, 0)) {
        return Some(entry);
    }
    let entry = Entry::new(Meta::parse(text.as_bytes())?, Vec::new());
    let bytes = 2 * text.len() as u64;
    PARSED.with(|p| p.borrow_mut().insert(text, entry.clone(), bytes, i64::MAX));
    Some(entry)
}

impl Store for CacheApiStore {
    fn open(_env: &worker::Env, url_base: &str, _budget: u64) -> Result<CacheApiStore, StoreError> {
        Ok(CacheApiStore::new(url_base))
    }

    async fn read(&self, key: &str) -> Result<Option<Read>, StoreError> {
        Ok(self.get_unread(key).await?.map(|(entry, response)| Read {
            entry,
            unread: Some(response),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        match self.get_unread(key).await? {
            Some((entry, response)) => read_body(entry, &response, Backend::CacheApi).await,
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, entry: &Entry, keep_secs: u64) -> Result<(), StoreError> {
        let headers = headers_from(&[
            (
                "cache-control".to_string(),
                // RFC 9111 §1.2.2: delta-seconds beyond 2^31 mean 2^31 (`KEEP_FOREVER` too).
                format!("max-age={}", keep_secs.clamp(1, MAX_DELTA_SECONDS)),
            ),
            (META_HEADER.to_string(), entry.meta.to_header()),
        ]);
        let init = ResponseInit::new();
        init.set_status(200);
        init.set_headers(&headers);
        let body = js_sys::Uint8Array::from(&entry.body[..]);
        let response =
            JsResponse::new_with_opt_buffer_source_and_init(Some(body.unchecked_ref()), &init)
                .map_err(|e| failed(describe(&e)))?;
        let put = glue::cache_put(&self.url(key), &response).map_err(|e| failed(describe(&e)))?;
        JsFuture::from(put)
            .await
            .map(|_| ())
            .map_err(|e| failed(describe(&e)))
    }

    /// The runtime cuts the part (`match` with a `Range` field answers `206`); a runtime that
    /// answers the whole body instead has it cut as it passes.
    async fn read_part(
        &self,
        meta: &Meta,
        first: u64,
        last: u64,
    ) -> Result<Option<ReadableStream>, StoreError> {
        let range = format!("bytes={first}-{last}");
        let found = glue::cache_match_range(&self.url(&meta.key), &range)
            .map_err(|e| failed(describe(&e)))?;
        let found = JsFuture::from(found)
            .await
            .map_err(|e| failed(describe(&e)))?;
        let Ok(raw) = found.dyn_into::<JsResponse>() else {
            return Ok(None);
        };
        let Some(body) = raw.body() else {
            return Ok(None);
        };
        let headers = raw.headers();
        let field = |name: &str| headers.get(name).ok().flatten();
        // The same record: the entry was not replaced since the lookup read it.
        let same = field(META_HEADER)
            .and_then(parsed)
            .is_some_and(|entry| *entry.meta == *meta);
        let length = (last - first + 1) as f64;
        let whole_range = format!("bytes {first}-{last}/{}", meta.body_len);
        match raw.status() {
            206 if same && field("content-range").as_deref() == Some(whole_range.as_str()) => {
                Ok(Some(exactly(&body, length)))
            }
            200 if same && last < meta.body_len => Ok(Some(cut(&body, first as f64, last as f64))),
            _ => {
                let _ = body.cancel();
                Ok(None)
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let deleted = glue::cache_delete(&self.url(key)).map_err(|e| failed(describe(&e)))?;
        JsFuture::from(deleted)
            .await
            .map(|_| ())
            .map_err(|e| failed(describe(&e)))
    }
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;
    use web_sys::Response;

    // Entries are stored as GET responses; a HEAD or any method reads the same one.
    #[wasm_bindgen(inline_js = "
export function cacheMatch(url) {
  return caches.default.match(url, { ignoreMethod: true });
}
export function cachePut(url, response) {
  return caches.default.put(url, response);
}
export function cacheMatchRange(url, range) {
  return caches.default.match(new Request(url, { headers: { range } }), { ignoreMethod: true });
}
export function cacheDelete(url) {
  return caches.default.delete(url, { ignoreMethod: true });
}
")]
    extern "C" {
        /// The stored response for `url`, or `undefined`.
        #[wasm_bindgen(js_name = cacheMatch, catch)]
        pub fn cache_match(url: &str) -> Result<js_sys::Promise, JsValue>;
        /// The stored response for `url` as the runtime answers a `Range` request for it
        /// (`range`, `bytes=first-last`): a `206` of those bytes, or `undefined`.
        #[wasm_bindgen(js_name = cacheMatchRange, catch)]
        pub fn cache_match_range(url: &str, range: &str) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_name = cachePut, catch)]
        pub fn cache_put(url: &str, response: &Response) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_name = cacheDelete, catch)]
        pub fn cache_delete(url: &str) -> Result<js_sys::Promise, JsValue>;
    }
}
