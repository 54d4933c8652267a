//! The low-level cache API (`edgecache::lowlevel`) on every backend, run inside workerd by
//! `scripts/wasm-test-runner.mjs` with a real local KV namespace (`TEST_KV`), R2 bucket
//! (`TEST_R2`) and Cache API:
//! no mocks. Each test runs once per backend (the `on_every_backend!` macro) under a prefix
//! of its own, so tests sharing the isolate's memory tier or the KV namespace never meet.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::collections::HashMap;

use edgecache::lowlevel::{Cache, Error};
use edgecache::store::StoreError;
use edgecache_core::config::Backend;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;
}

/// Waits `ms` of wall time (the Workers clock moves across I/O, and a timer is I/O).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// The worker's `env`, which the runner hands over before any test runs.
fn env() -> worker::Env {
    js_sys::Reflect::get(&js_sys::global(), &"__edgecache_test_env".into())
        .expect("the runner sets __edgecache_test_env")
        .unchecked_into()
}

fn open(backend: Backend, prefix: &str) -> Cache {
    let cache = match backend {
        Backend::Memory => Cache::memory(),
        Backend::CacheApi => Cache::cache_api(),
        Backend::Kv => Cache::kv(&env(), "TEST_KV").expect("TEST_KV is bound"),
        Backend::R2 => Cache::r2(&env(), "TEST_R2").expect("TEST_R2 is bound"),
    };
    cache.with_prefix(&format!("{}-{prefix}", backend.as_str()))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    langs: Vec<String>,
    visits: u32,
}

fn profile() -> Profile {
    Profile {
        name: "Ada".into(),
        langs: vec!["en".into(), "fr".into()],
        visits: 3,
    }
}

/// One `#[wasm_bindgen_test]` per backend for each `async fn name(backend)` listed.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[wasm_bindgen_test::wasm_bindgen_test] async fn $name() { super::$name(edgecache_core::config::Backend::Memory).await } )* }
        mod cache_api { $( #[wasm_bindgen_test::wasm_bindgen_test] async fn $name() { super::$name(edgecache_core::config::Backend::CacheApi).await } )* }
        mod kv { $( #[wasm_bindgen_test::wasm_bindgen_test] async fn $name() { super::$name(edgecache_core::config::Backend::Kv).await } )* }
        mod r2 { $( #[wasm_bindgen_test::wasm_bindgen_test] async fn $name() { super::$name(edgecache_core::config::Backend::R2).await } )* }
    };
}

on_every_backend!(
    values_round_trip_and_absent_keys_are_none,
    a_value_expires_at_its_exact_timeout,
    no_timeout_keeps_and_zero_deletes,
    add_stores_only_when_absent,
    get_or_set_produces_once,
    a_failed_production_lets_waiting_calls_produce,
    get_or_set_passes_producer_errors_and_stores_nothing,
    many_keys_at_once,
    touch_gives_a_new_timeout,
    incr_and_decr_keep_the_expiry,
    incr_errors_are_typed,
    versions_separate_values,
    incr_version_moves_a_value,
    clear_makes_every_value_unreachable,
    a_key_function_and_long_keys,
    bad_keys_prefixes_and_values_are_typed_errors,
);

async fn values_round_trip_and_absent_keys_are_none(backend: Backend) {
    let cache = open(backend, "round-trip");
    cache.set("profile", &profile(), Some(60)).await.unwrap();
    assert_eq!(
        cache.get::<Profile>("profile").await.unwrap(),
        Some(profile())
    );
    cache.set("n", &7u64, None).await.unwrap();
    assert_eq!(cache.get::<u64>("n").await.unwrap(), Some(7));
    assert_eq!(cache.get::<u64>("absent").await.unwrap(), None);
    assert_eq!(cache.get_or("absent", 42u64).await.unwrap(), 42);
    assert_eq!(cache.get_or("n", 42u64).await.unwrap(), 7);
    assert!(cache.has_key("profile").await.unwrap());
    cache.delete("profile").await.unwrap();
    assert!(!cache.has_key("profile").await.unwrap());
    assert_eq!(cache.get::<Profile>("profile").await.unwrap(), None);
    cache.delete("never-set").await.unwrap();
}

async fn a_value_expires_at_its_exact_timeout(backend: Backend) {
    // KV keeps the record its 60 s minimum; the record's own expiry decides.
    let cache = open(backend, "expiry");
    cache.set("short", "soon gone", Some(1)).await.unwrap();
    cache.set("long", "stays", Some(60)).await.unwrap();
    assert_eq!(
        cache.get::<String>("short").await.unwrap().as_deref(),
        Some("soon gone")
    );
    sleep(1100).await;
    assert_eq!(cache.get::<String>("short").await.unwrap(), None);
    assert!(!cache.has_key("short").await.unwrap());
    assert_eq!(
        cache.get::<String>("long").await.unwrap().as_deref(),
        Some("stays")
    );
}

async fn no_timeout_keeps_and_zero_deletes(backend: Backend) {
    let cache = open(backend, "timeouts");
    cache.set("forever", &1, None).await.unwrap();
    assert_eq!(cache.get::<i32>("forever").await.unwrap(), Some(1));
    cache.set("forever", &2, Some(0)).await.unwrap();
    assert_eq!(
        cache.get::<i32>("forever").await.unwrap(),
        None,
        "timeout 0 stores nothing and deletes what was there"
    );
    cache.set("zero", &3, Some(0)).await.unwrap();
    assert!(!cache.has_key("zero").await.unwrap());
    assert_eq!(cache.default_timeout(), Some(300));
    let cache = cache.with_default_timeout(None);
    cache
        .set("default", &4, cache.default_timeout())
        .await
        .unwrap();
    assert_eq!(cache.get::<i32>("default").await.unwrap(), Some(4));
}

async fn add_stores_only_when_absent(backend: Backend) {
    let cache = open(backend, "add");
    assert!(cache.add("k", "first", Some(1)).await.unwrap());
    assert!(!cache.add("k", "second", Some(60)).await.unwrap());
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("first")
    );
    sleep(1100).await;
    assert!(
        cache.add("k", "third", Some(60)).await.unwrap(),
        "an expired value counts as absent"
    );
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("third")
    );
}

async fn get_or_set_produces_once(backend: Backend) {
    let cache = open(backend, "get-or-set");
    let calls = Cell::new(0);
    let produce = || async {
        calls.set(calls.get() + 1);
        sleep(5).await;
        Ok::<_, Error>(vec![1u32, 2, 3])
    };
    let first: Vec<u32> = cache.get_or_set("seq", Some(60), produce).await.unwrap();
    let second: Vec<u32> = cache.get_or_set("seq", Some(60), produce).await.unwrap();
    assert_eq!(first, vec![1, 2, 3]);
    assert_eq!(second, first);
    assert_eq!(
        calls.get(),
        1,
        "the second call was answered from the cache"
    );

    let zero: Vec<u32> = cache.get_or_set("zero", Some(0), produce).await.unwrap();
    assert_eq!(zero, vec![1, 2, 3]);
    assert_eq!(calls.get(), 2);
    assert!(
        !cache.has_key("zero").await.unwrap(),
        "timeout 0 is not stored"
    );

    // Concurrent misses share one production.
    let slow = || async {
        calls.set(calls.get() + 1);
        sleep(50).await;
        Ok::<_, Error>(format!("made {}", calls.get()))
    };
    let (a, b, c) = futures_util::future::join3(
        cache.get_or_set::<String, _, _, _>("shared", Some(60), slow),
        cache.get_or_set::<String, _, _, _>("shared", Some(60), slow),
        cache.get_or_set::<String, _, _, _>("shared", Some(60), slow),
    )
    .await;
    assert_eq!(
        calls.get(),
        3,
        "one more production for three concurrent calls"
    );
    assert_eq!(a.unwrap(), "made 3");
    assert_eq!(b.unwrap(), "made 3");
    assert_eq!(c.unwrap(), "made 3");
}

async fn a_failed_production_lets_waiting_calls_produce(backend: Backend) {
    let cache = open(backend, "get-or-set-fallback");
    let calls = Cell::new(0);
    let flaky = || async {
        calls.set(calls.get() + 1);
        let n = calls.get();
        sleep(20).await;
        if n == 1 {
            Err(Error::Missing("upstream".into()))
        } else {
            Ok(n)
        }
    };
    let (first, second) = futures_util::future::join(
        cache.get_or_set::<u32, _, _, _>("k", Some(60), flaky),
        cache.get_or_set::<u32, _, _, _>("k", Some(60), flaky),
    )
    .await;
    assert_eq!(first, Err(Error::Missing("upstream".into())));
    assert_eq!(second, Ok(2), "the waiting call produced for itself");
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(2));
}

#[derive(Debug, PartialEq)]
enum AppError {
    Upstream,
    Cache(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> AppError {
        AppError::Cache(e)
    }
}

async fn get_or_set_passes_producer_errors_and_stores_nothing(backend: Backend) {
    let cache = open(backend, "get-or-set-error");
    let failed: Result<u32, AppError> = cache
        .get_or_set("k", Some(60), || async { Err(AppError::Upstream) })
        .await;
    assert_eq!(failed, Err(AppError::Upstream));
    assert!(!cache.has_key("k").await.unwrap());
    // A cache error reaches the caller's own error type.
    let bad = cache.clone().with_prefix("bad:prefix");
    let failed: Result<u32, AppError> = bad.get_or_set("k", None, || async { Ok(1) }).await;
    assert!(matches!(
        failed,
        Err(AppError::Cache(Error::InvalidPrefix(_)))
    ));
    // So does a stored value of another type.
    cache.set("typed", "text", None).await.unwrap();
    let failed: Result<u32, Error> = cache.get_or_set("typed", None, || async { Ok(1) }).await;
    assert!(matches!(failed, Err(Error::Deserialize { .. })));
}

async fn many_keys_at_once(backend: Backend) {
    let cache = open(backend, "many");
    cache
        .set_many(&[("a", 1), ("b", 2), ("c", 3)], Some(60))
        .await
        .unwrap();
    let found: HashMap<String, i32> = cache.get_many(&["a", "b", "missing"]).await.unwrap();
    assert_eq!(
        found,
        HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)])
    );
    cache.delete_many(&["a", "c"]).await.unwrap();
    let found: HashMap<String, i32> = cache.get_many(&["a", "b", "c"]).await.unwrap();
    assert_eq!(found, HashMap::from([("b".to_string(), 2)]));
    let failed = cache.set_many(&[("ok", "x"), ("", "y")], Some(60)).await;
    assert!(
        failed.is_ok(),
        "an empty user key still makes a prefixed key"
    );
}

async fn touch_gives_a_new_timeout(backend: Backend) {
    let cache = open(backend, "touch");
    assert!(!cache.touch("missing", Some(60)).await.unwrap());
    cache.set("k", "v", Some(1)).await.unwrap();
    assert!(cache.touch("k", Some(60)).await.unwrap());
    sleep(1100).await;
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("v"),
        "touched to 60 s, it outlived its first 1 s"
    );
    assert!(cache.touch("k", Some(0)).await.unwrap());
    assert!(
        !cache.has_key("k").await.unwrap(),
        "touch with 0 expires it"
    );
}

async fn incr_and_decr_keep_the_expiry(backend: Backend) {
    let cache = open(backend, "incr");
    cache.set("views", &10, Some(1)).await.unwrap();
    assert_eq!(cache.incr("views", 1).await.unwrap(), 11);
    assert_eq!(cache.incr("views", 5).await.unwrap(), 16);
    assert_eq!(cache.decr("views", 6).await.unwrap(), 10);
    assert_eq!(cache.get::<i64>("views").await.unwrap(), Some(10));
    sleep(1100).await;
    assert_eq!(
        cache.get::<i64>("views").await.unwrap(),
        None,
        "incr kept the 1 s timeout"
    );
    cache.set("forever", &0, None).await.unwrap();
    assert_eq!(cache.decr("forever", 1).await.unwrap(), -1);
}

async fn incr_errors_are_typed(backend: Backend) {
    let cache = open(backend, "incr-errors");
    assert_eq!(
        cache.incr("missing", 1).await,
        Err(Error::Missing("missing".into()))
    );
    cache.set("text", "ten", None).await.unwrap();
    assert_eq!(
        cache.incr("text", 1).await,
        Err(Error::NotAnInteger("text".into()))
    );
    cache.set("max", &i64::MAX, None).await.unwrap();
    assert_eq!(
        cache.incr("max", 1).await,
        Err(Error::Overflow("max".into()))
    );
    assert_eq!(cache.get::<i64>("max").await.unwrap(), Some(i64::MAX));
    assert_eq!(
        cache.decr("max", i64::MIN).await,
        Err(Error::Overflow("max".into()))
    );
}

async fn versions_separate_values(backend: Backend) {
    let cache = open(backend, "versions");
    cache.set("k", "v1", None).await.unwrap();
    let v2 = cache.clone().with_version(2);
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.get::<String>("k").await.unwrap(), None);
    v2.set("k", "v2", None).await.unwrap();
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("v1")
    );
    assert_eq!(v2.get::<String>("k").await.unwrap().as_deref(), Some("v2"));
    assert!(cache.make_key("k").await.unwrap().ends_with(":1:k"));
    assert!(v2.make_key("k").await.unwrap().ends_with(":2:k"));
}

async fn incr_version_moves_a_value(backend: Backend) {
    let cache = open(backend, "incr-version");
    cache.set("k", "moved", Some(60)).await.unwrap();
    assert_eq!(cache.incr_version("k", 1).await.unwrap(), 2);
    assert_eq!(cache.get::<String>("k").await.unwrap(), None);
    let v2 = cache.clone().with_version(2);
    assert_eq!(
        v2.get::<String>("k").await.unwrap().as_deref(),
        Some("moved")
    );
    assert_eq!(v2.decr_version("k", 1).await.unwrap(), 1);
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("moved")
    );
    assert_eq!(
        cache.incr_version("missing", 1).await,
        Err(Error::Missing("missing".into()))
    );
    assert_eq!(
        cache.incr_version("k", -2).await,
        Err(Error::Overflow("k".into())),
        "no version below 0"
    );
}

async fn clear_makes_every_value_unreachable(backend: Backend) {
    let cache = open(backend, "clear");
    let other = open(backend, "clear-other");
    cache.set_many(&[("a", 1), ("b", 2)], None).await.unwrap();
    cache
        .clone()
        .with_version(7)
        .set("c", &3, None)
        .await
        .unwrap();
    other.set("a", &10, None).await.unwrap();
    let before = cache.make_key("a").await.unwrap();

    cache.clear().await.unwrap();
    assert_ne!(cache.make_key("a").await.unwrap(), before);
    assert_eq!(cache.get::<i32>("a").await.unwrap(), None);
    assert_eq!(cache.get::<i32>("b").await.unwrap(), None);
    assert_eq!(
        cache.clone().with_version(7).get::<i32>("c").await.unwrap(),
        None,
        "every version is cleared"
    );
    assert_eq!(
        other.get::<i32>("a").await.unwrap(),
        Some(10),
        "another prefix is untouched"
    );
    // A new handle (the next request) reads the generation from the backend.
    let fresh = open(backend, "clear");
    assert_eq!(fresh.get::<i32>("a").await.unwrap(), None);
    fresh.set("a", &4, None).await.unwrap();
    assert_eq!(cache.get::<i32>("a").await.unwrap(), Some(4));
}

async fn a_key_function_and_long_keys(backend: Backend) {
    let cache = open(backend, "key-function").with_key_function(|prefix, version, key| {
        format!("{prefix}/v{version}/{}", key.to_uppercase())
    });
    cache.set("k", "v", None).await.unwrap();
    assert!(cache
        .make_key("k")
        .await
        .unwrap()
        .ends_with("key-function/v1/K"));
    assert_eq!(
        cache.get::<String>("K").await.unwrap().as_deref(),
        Some("v"),
        "the key function decides which keys are the same"
    );

    let cache = open(backend, "long-keys");
    let long_a = format!("a{}", "x".repeat(700));
    let long_b = format!("b{}", "x".repeat(700));
    cache.set(&long_a, "A", None).await.unwrap();
    cache.set(&long_b, "B", None).await.unwrap();
    let stored = cache.make_key(&long_a).await.unwrap();
    assert!(
        stored.len() <= 512 && stored.contains(":1:sha256:"),
        "{stored}"
    );
    assert_eq!(
        cache.get::<String>(&long_a).await.unwrap().as_deref(),
        Some("A")
    );
    assert_eq!(
        cache.get::<String>(&long_b).await.unwrap().as_deref(),
        Some("B")
    );
    // A short key spelled as a long key's hashed form overwrites its record, but never
    // answers for it: the record says which key it was stored for.
    let verbatim = cache.clone().with_key_function(|_, _, key| key.to_string());
    verbatim.set(&stored, "forged", None).await.unwrap();
    assert_eq!(
        verbatim.get::<String>(&stored).await.unwrap().as_deref(),
        Some("forged")
    );
    assert_eq!(cache.get::<String>(&long_a).await.unwrap(), None);
}

async fn bad_keys_prefixes_and_values_are_typed_errors(backend: Backend) {
    let cache = open(backend, "errors");
    let dot = cache.clone().with_key_function(|_, _, _| ".".to_string());
    assert!(matches!(
        dot.set("k", "v", None).await,
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        cache
            .clone()
            .with_prefix(&"p".repeat(65))
            .get::<u8>("k")
            .await,
        Err(Error::InvalidPrefix(_))
    ));
    let unserializable: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
    assert!(matches!(
        cache.set("map", &unserializable, None).await,
        Err(Error::Serialize(_))
    ));
    cache.set("text", "not a number", None).await.unwrap();
    assert!(matches!(
        cache.get::<u64>("text").await,
        Err(Error::Deserialize { .. })
    ));
    // Over the backend's size limit: KV 25 MiB, the 16 MiB memory tier a quarter of it.
    // (The Cache API's 512 MiB and R2's 5 GiB are not tried here.)
    let size = match backend {
        Backend::Kv => 25 * 1024 * 1024,
        Backend::Memory => 4 * 1024 * 1024,
        Backend::CacheApi | Backend::R2 => return,
    };
    let big = "x".repeat(size);
    match cache.set("big", &big, None).await {
        Err(Error::ValueTooLarge {
            backend: refused,
            bytes,
            limit,
            ..
        }) => {
            assert_eq!(refused, backend);
            assert!(bytes > limit);
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    assert!(!cache.has_key("big").await.unwrap());
}

#[wasm_bindgen_test]
async fn a_missing_or_wrong_kv_binding_is_a_typed_error() {
    match Cache::kv(&env(), "NO_SUCH_KV") {
        Err(Error::Store(StoreError::Binding(reason))) => assert!(reason.contains("NO_SUCH_KV")),
        other => panic!("expected a binding error, got {other:?}"),
    }
    // A binding that is not a KV namespace fails on open or on first use, as a value.
    match Cache::kv(&env(), "NOT_KV") {
        Err(Error::Store(_)) => {}
        Ok(cache) => assert!(matches!(
            cache.set("k", "v", None).await,
            Err(Error::Store(_))
        )),
        Err(other) => panic!("expected a storage error, got {other:?}"),
    }
}

#[wasm_bindgen_test]
async fn a_proxy_response_under_the_same_key_reads_as_absent() {
    use edgecache::store::{Entry, KvBackend, Store};
    use edgecache_core::storage::record::{Kind, Meta, FORMAT};
    let cache = Cache::kv(&env(), "TEST_KV").unwrap().with_prefix("foreign");
    let key = cache.make_key("k").await.unwrap();
    let meta = Meta {
        v: FORMAT,
        kind: Kind::Response,
        key: key.clone(),
        url: String::new(),
        status: 200,
        headers: vec![],
        stored_at: js_sys::Date::now() as i64,
        asked_at: None,
        initial_age: 0,
        lifetime: 60,
        tags: vec![],
        vary: vec![],
        body_len: 2,
        reuse: Default::default(),
        parts: None,
    };
    let kv = KvBackend::new(env().kv("TEST_KV").unwrap());
    kv.put(&key, &Entry::new(meta, b"42".to_vec()), 60)
        .await
        .unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), None);
    assert!(!cache.has_key("k").await.unwrap());
}

#[wasm_bindgen_test]
async fn a_backend_failure_is_a_typed_store_error() {
    // The Cache API refuses a key that is not a URL: a bad base is reported, not thrown.
    let cache = Cache::cache_api_at("not a url").with_prefix("bad-base");
    match cache.set("k", "v", None).await {
        Err(Error::Store(StoreError::Backend { backend, reason })) => {
            assert_eq!(backend, Backend::CacheApi);
            assert!(!reason.is_empty());
        }
        other => panic!("expected a Cache API failure, got {other:?}"),
    }
    assert!(matches!(
        cache.get::<String>("k").await,
        Err(Error::Store(StoreError::Backend { .. }))
    ));
}

#[wasm_bindgen_test]
async fn cache_api_bases_keep_values_apart() {
    let internal = Cache::cache_api().with_prefix("bases");
    let zone = Cache::cache_api_at("https://example.com/").with_prefix("bases");
    internal.set("k", "internal", None).await.unwrap();
    assert_eq!(zone.get::<String>("k").await.unwrap(), None);
    zone.set("k", "zone", None).await.unwrap();
    assert_eq!(
        internal.get::<String>("k").await.unwrap().as_deref(),
        Some("internal")
    );
}
