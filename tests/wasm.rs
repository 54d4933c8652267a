//! Wasm-side code run inside workerd with `wasm-bindgen-test` (see
//! `scripts/wasm-test-runner.mjs`): the adapters between JS objects and the core, and the
//! memory tier through the `Store` trait, and cutting a part of a stored body.
#![cfg(target_arch = "wasm32")]

use edgecache::runtime::{
    cut, exactly, header_list, headers_from, read_limited, Body, FieldSet, JsFields, PickedFields,
};
use edgecache::store::{Entry, MemoryStore, Store};
use edgecache_core::http::Fields;
use edgecache_core::storage::record::{Kind, Meta, FORMAT};
use wasm_bindgen_test::wasm_bindgen_test;

/// The memory tier's budget in these tests (the tier is one per isolate: the first test to
/// open it sets it).
const TIER_BUDGET: u64 = 64 * 1024;

fn entry(key: &str, lifetime: u64, body: &[u8]) -> Entry {
    Entry::new(
        Meta {
            v: FORMAT,
            kind: Kind::Response,
            key: key.into(),
            url: String::new(),
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            stored_at: js_sys::Date::now() as i64,
            asked_at: None,
            initial_age: 0,
            lifetime,
            tags: vec![],
            vary: vec![],
            body_len: body.len() as u64,
            reuse: Default::default(),
            parts: None,
        },
        body.to_vec(),
    )
}

#[wasm_bindgen_test]
fn header_lists_round_trip_through_js_headers() {
    let list = vec![
        ("cache-control".to_string(), "max-age=60".to_string()),
        ("x-latin1".to_string(), "caf\u{e9}".to_string()),
    ];
    let headers = headers_from(&list);
    assert_eq!(header_list(&headers), list);
    assert_eq!(
        JsFields(&headers).field("Cache-Control").as_deref(),
        Some("max-age=60")
    );
    assert_eq!(JsFields(&headers).field("missing"), None);
}

#[wasm_bindgen_test]
fn picked_fields_read_picked_and_other_fields_alike() {
    let headers = headers_from(&[
        ("cache-control".to_string(), "no-cache".to_string()),
        ("cookie".to_string(), "a=1; b=2".to_string()),
        ("if-none-match".to_string(), "".to_string()),
        ("x-device".to_string(), "phone".to_string()),
        ("accept-encoding".to_string(), "gzip, br".to_string()),
    ]);
    let fields = PickedFields::read(headers.clone(), FieldSet::Request);
    for name in [
        "cache-control",
        "cookie",
        "if-none-match",
        "x-device",
        "accept-encoding",
        "pragma",
        "authorization",
        "x-edgecache-hop",
        "x-missing",
    ] {
        assert_eq!(fields.field(name), JsFields(&headers).field(name), "{name}");
    }
    assert_eq!(
        fields.field("if-none-match").as_deref(),
        Some(""),
        "empty is not absent"
    );
    assert_eq!(fields.field("authorization"), None);
}

#[wasm_bindgen_test]
fn invalid_header_values_are_skipped_not_fatal() {
    let list = vec![
        ("x-good".to_string(), "1".to_string()),
        ("bad name".to_string(), "2".to_string()),
        ("x-bad-value".to_string(), "a\nb".to_string()),
    ];
    let headers = headers_from(&list);
    assert_eq!(
        header_list(&headers),
        vec![("x-good".to_string(), "1".to_string())]
    );
}

#[wasm_bindgen_test]
async fn the_memory_tier_stores_and_evicts_through_the_store_trait() {
    let store = MemoryStore::new(TIER_BUDGET);
    store
        .put("k1", &entry("k1", 60, b"hello"), 60)
        .await
        .unwrap();
    let found = store.get("k1").await.unwrap().expect("stored entry");
    assert_eq!(&found.body[..], b"hello");
    assert_eq!(found.meta.key, "k1");
    store.delete("k1").await.unwrap();
    assert!(store.get("k1").await.unwrap().is_none());

    // A budget of 64 KiB holds only a few 7,000-byte entries (each also costs its metadata,
    // its key and the client fields a hit builds): the oldest go first.
    for i in 0..20 {
        let key = format!("bulk{i}");
        store
            .put(&key, &entry(&key, 60, &[b'x'; 7000]), 60)
            .await
            .unwrap();
        assert!(MemoryStore::used() <= TIER_BUDGET);
    }
    assert!(store.get("bulk0").await.unwrap().is_none());
    assert!(store.get("bulk19").await.unwrap().is_some());
}

#[wasm_bindgen_test]
async fn an_entry_kept_for_zero_seconds_is_gone() {
    let store = MemoryStore::new(TIER_BUDGET);
    store
        .put("short", &entry("short", 0, b"x"), 0)
        .await
        .unwrap();
    assert!(store.get("short").await.unwrap().is_none());
}

fn stream_of(text: &str) -> web_sys::ReadableStream {
    let response = web_sys::Response::new_with_opt_str(Some(text)).unwrap();
    response.body().unwrap()
}

#[wasm_bindgen_test]
async fn bodies_within_the_limit_are_read_whole() {
    match read_limited(stream_of("hello world"), 100).await.unwrap() {
        Body::Complete(bytes) => assert_eq!(bytes, b"hello world"),
        Body::TooLarge => panic!("11 bytes fit in 100"),
    }
}

#[wasm_bindgen_test]
async fn bodies_over_the_limit_are_abandoned() {
    assert!(matches!(
        read_limited(stream_of("hello world"), 5).await.unwrap(),
        Body::TooLarge
    ));
}

#[wasm_bindgen_test]
async fn a_part_of_a_stream_is_cut_as_it_passes_and_a_short_stream_errors() {
    let body = || {
        web_sys::Response::new_with_opt_str(Some("0123456789"))
            .unwrap()
            .body()
            .unwrap()
    };
    match read_limited(cut(&body(), 2.0, 4.0), 100).await {
        Ok(Body::Complete(bytes)) => assert_eq!(bytes, b"234"),
        _ => panic!("the part was not read"),
    }
    assert!(
        read_limited(cut(&body(), 8.0, 11.0), 100).await.is_err(),
        "a body shorter than the range is an error, not a short part"
    );
    assert!(
        read_limited(exactly(&body(), 11.0), 100).await.is_err(),
        "a body shorter than its record says is an error"
    );
}
