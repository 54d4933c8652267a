//! The control plane's Durable Object class, `ControlPlane` (bound as `EDGECACHE_CONTROL`,
//! SQLite storage: wrangler.toml's migration `control-plane-v1`), one instance per deployment
//! (the worker names it by `key_prefix`). It is the single writer of purges, keeps the purge
//! log and the stats, and takes over an older deployment's KV registry and purge log once.
//!
//! The rules are the core's (`edgecache_core::control::rules`, `stats_store`); this class
//! stores what they return in its tables (`tables.rs`) and reads it back. Each purge is one
//! SQLite transaction: registry, sequence number and log entry are written together or not
//! at all. `entry.mjs` exports the class under its wrangler name and builds it again after a
//! Wasm crash.

use std::rc::Rc;

use serde_json::json;
use url::Url;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use edgecache_core::control::rules::{apply_purge, import_legacy, Page, PurgeCommand};
use edgecache_core::control::stats_store::{handle, StatsReport, StatsStorageError};

use super::tables::{StorageError, Tables};
use crate::runtime::now_ms;

/// The header naming the deployment's `key_prefix`, under which an older deployment kept its
/// registry and purge log in KV.
pub const PREFIX_FIELD: &str = "x-edgecache-prefix";
/// The KV binding an older deployment kept them in.
const LEGACY_KV: &str = "EDGECACHE_KV";

/// Why a request to the object failed.
#[derive(Debug)]
enum ObjectError {
    /// What the worker sent could not be read (400).
    BadRequest(String),
    /// No such route (404).
    NoRoute(String),
    /// Storage, KV or the runtime failed (500): nothing of the request was kept.
    Storage(StorageError),
}

impl From<StorageError> for ObjectError {
    fn from(e: StorageError) -> Self {
        ObjectError::Storage(e)
    }
}

impl From<StatsStorageError> for ObjectError {
    fn from(e: StatsStorageError) -> Self {
        ObjectError::Storage(StorageError(e.0))
    }
}

impl ObjectError {
    fn status(&self) -> u16 {
        match self {
            ObjectError::BadRequest(_) => 400,
            ObjectError::NoRoute(_) => 404,
            ObjectError::Storage(_) => 500,
        }
    }

    fn message(&self) -> String {
        match self {
            ObjectError::BadRequest(m) | ObjectError::NoRoute(m) => m.clone(),
            ObjectError::Storage(e) => e.to_string(),
        }
    }
}

#[durable_object(fetch)]
pub struct ControlPlane {
    state: State,
    env: Env,
    /// The tables, or why they could not be opened (every request is then answered 500).
    tables: Result<Rc<Tables>, StorageError>,
}

impl DurableObject for ControlPlane {
    fn new(state: State, env: Env) -> Self {
        let tables = Tables::open(state.storage()).map(Rc::new);
        ControlPlane { state, env, tables }
    }

    async fn fetch(&self, mut request: Request) -> worker::Result<Response> {
        let (status, body) = match self.answer(&mut request).await {
            Ok(body) => (200, body),
            Err(e) => (e.status(), json!({ "error": e.message() }).to_string()),
        };
        let mut response = Response::ok(body)?.with_status(status);
        response
            .headers_mut()
            .set("content-type", "application/json")?;
        Ok(response)
    }
}

impl ControlPlane {
    async fn answer(&self, request: &mut Request) -> Result<String, ObjectError> {
        let tables = self.tables.clone()?;
        if tables.state("imported")?.is_none() {
            let prefix = request.headers().get(PREFIX_FIELD).ok().flatten();
            let importing = import_once(tables.clone(), self.env.clone(), prefix);
            self.state
                .block_concurrency_while(async move { importing.await.map_err(into_worker) })
                .await
                .map_err(|e| StorageError(e.to_string()))?;
        }
        let url: Url = request
            .url()
            .map_err(|e| ObjectError::BadRequest(e.to_string()))?;
        let query = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let method = request.method().to_string();
        match (method.as_str(), url.path()) {
            ("POST", "/purge") => purge(&tables, &body(request).await?),
            ("GET", "/registry") => registry(&tables, query("known").as_deref()),
            ("GET", "/purges") => {
                let page = Page::parse(query("before").as_deref(), query("limit").as_deref())
                    .map_err(ObjectError::BadRequest)?;
                Ok(format!(
                    r#"{{"purges":[{}]}}"#,
                    tables.page(page)?.join(",")
                ))
            }
            ("POST", "/stats") => stats(&tables, &body(request).await?),
            (method, path) => Err(ObjectError::NoRoute(format!("no route {method} {path}"))),
        }
    }
}

async fn body(request: &mut Request) -> Result<String, ObjectError> {
    request
        .text()
        .await
        .map_err(|e| ObjectError::BadRequest(e.to_string()))
}

fn into_worker(e: StorageError) -> worker::Error {
    worker::Error::RustError(e.to_string())
}

/// An older deployment kept its registry and purge log in KV: they become this object's
/// first state, once. A KV read that fails leaves the import for the next request.
async fn import_once(
    tables: Rc<Tables>,
    env: Env,
    prefix: Option<String>,
) -> Result<(), StorageError> {
    if tables.state("imported")?.is_some() {
        return Ok(());
    }
    let prefix = prefix.unwrap_or_default();
    let (registry, log) = match legacy_kv(&env) {
        Some(kv) => {
            let read = |key: String| {
                let kv = &kv;
                async move { kv.get(&key).text().await }
            };
            let (registry, log) = futures_util::future::join(
                read(format!("{prefix}:__edgecache:registry")),
                read(format!("{prefix}:__edgecache:purges")),
            )
            .await;
            let kv_error = |e: worker::kv::KvError| StorageError(format!("KV: {e}"));
            (registry.map_err(kv_error)?, log.map_err(kv_error)?)
        }
        None => (None, None),
    };
    let imported = import_legacy(registry.as_deref(), log.as_deref());
    let summary = json!({ "at": now_ms(), "purges": imported.entries.len() }).to_string();
    tables.transaction(|| {
        if tables.state("registry")?.is_none() {
            tables.set_state("registry", &to_json(&imported.registry)?)?;
            tables.set_state("seq", &imported.registry.seq.to_string())?;
            for entry in &imported.entries {
                tables.append(entry, &to_json(entry)?)?;
            }
        }
        tables.set_state("imported", &summary)
    })
}

/// The KV namespace an older deployment may have left its state in, if the binding is one: a
/// binding of another type (a configuration mistake the storage tiers survive by failing
/// over, call by call) holds no older state and must not keep the control plane from starting.
/// A real namespace whose reads fail is not skipped: its purges must be imported first.
fn legacy_kv(env: &Env) -> Option<worker::kv::KvStore> {
    let binding = js_sys::Reflect::get(env, &LEGACY_KV.into()).ok()?;
    let get = js_sys::Reflect::get(&binding, &"get".into()).ok()?;
    if !get.is_function() {
        return None;
    }
    env.kv(LEGACY_KV).ok()
}

fn to_json(value: &impl serde::Serialize) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError(e.to_string()))
}

/// Records one purge: the next sequence number, the registry and the log entry, in one
/// transaction.
fn purge(tables: &Tables, command: &str) -> Result<String, ObjectError> {
    let command: PurgeCommand =
        serde_json::from_str(command).map_err(|e| ObjectError::BadRequest(e.to_string()))?;
    tables.transaction(|| {
        let stored = tables.state("registry")?;
        let applied = apply_purge(stored.as_deref(), &command, now_ms());
        let registry = to_json(&applied.registry)?;
        let entry = to_json(&applied.entry)?;
        tables.set_state("registry", &registry)?;
        tables.set_state("seq", &applied.registry.seq.to_string())?;
        tables.append(&applied.entry, &entry)?;
        if applied.prune_through > 0 {
            tables.prune(applied.prune_through)?;
        }
        Ok(format!(r#"{{"registry":{registry},"entry":{entry}}}"#))
    })
}

/// The sequence number alone when the asker knows it (`known`), else the registry too.
fn registry(tables: &Tables, known: Option<&str>) -> Result<String, ObjectError> {
    let seq: u64 = tables
        .state("seq")?
        .and_then(|seq| seq.parse().ok())
        .unwrap_or(0);
    if known.and_then(|known| known.parse::<u64>().ok()) == Some(seq) {
        return Ok(json!({ "seq": seq }).to_string());
    }
    let registry = tables
        .state("registry")?
        .unwrap_or_else(|| r#"{"v":1}"#.into());
    Ok(format!(r#"{{"seq":{seq},"registry":{registry}}}"#))
}

/// Adds an isolate's counts; with `read`, answers the sums of the last hour and day
/// (`stats_store`): all of one report in one transaction.
fn stats(tables: &Tables, report: &str) -> Result<String, ObjectError> {
    let report: StatsReport =
        serde_json::from_str(report).map_err(|e| ObjectError::BadRequest(e.to_string()))?;
    tables.transaction(|| Ok(handle(&mut tables.stats(), &report, now_ms())?))
}
