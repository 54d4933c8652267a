//! The control plane's rules (`control.rs`) as functions the Durable Object class
//! (`control_object.mjs`) calls: JSON text in, JSON text out, nothing kept between calls.
//! The object stores what they return.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use edgecache_core::control::rules::{apply_purge, import_legacy, PurgeCommand};
use edgecache_core::control::stats_store::{handle, Report, Store, StoreError};

/// Records a purge: `registry` as stored (absent before the first), the worker's command,
/// and the object's clock. Returns `control::Applied` as JSON, or `{"error": …}`.
#[wasm_bindgen(js_name = controlApplyPurge)]
pub fn control_apply_purge(registry: Option<String>, command: &str, now: f64) -> String {
    let command: PurgeCommand = match serde_json::from_str(command) {
        Ok(command) => command,
        Err(e) => return serde_json::json!({ "error": e.to_string() }).to_string(),
    };
    let applied = apply_purge(registry.as_deref(), &command, now as i64);
    serde_json::to_string(&applied)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

/// An older deployment's KV registry and purge log, as the object's first state
/// (`control::Imported` as JSON).
#[wasm_bindgen(js_name = controlImportLegacy)]
pub fn control_import_legacy(registry: Option<String>, log: Option<String>) -> String {
    let imported = import_legacy(registry.as_deref(), log.as_deref());
    serde_json::to_string(&imported)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

/// The object's stats table as `stats_store::Store`: `table` has `scan(kind, span, from, to)`
/// (an array of `[start, body]`), `put(kind, span, start, body)` and
/// `remove(kind, span, from, to)`, and for the notes of keys not stored `remember(id, at,
/// body)`, `recall(id)` (the body or `undefined`) and `forgetNotes(keep, before)`, each
/// synchronous SQLite statements.
struct Table<'a>(&'a JsValue);

impl Table<'_> {
    fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue, StoreError> {
        let function = js_sys::Reflect::get(self.0, &JsValue::from_str(method))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| StoreError(format!("no {method} on the stats table")))?;
        let args: js_sys::Array = args.iter().collect();
        function
            .apply(self.0, &args)
            .map_err(|e| StoreError(crate::runtime::describe(&e)))
    }
}

fn at(kind: &str, span: i64, from: i64, to: i64) -> [JsValue; 4] {
    [
        JsValue::from_str(kind),
        JsValue::from_f64(span as f64),
        JsValue::from_f64(from as f64),
        JsValue::from_f64(to as f64),
    ]
}

impl Store for Table<'_> {
    fn scan(
        &mut self,
        kind: &str,
        span: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = self.call("scan", &at(kind, span, from, to))?;
        let rows: js_sys::Array = rows
            .dyn_into()
            .map_err(|_| StoreError("scan gave no array".into()))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let row: js_sys::Array = row.dyn_into().ok()?;
                Some((row.get(0).as_f64()? as i64, row.get(1).as_string()?))
            })
            .collect())
    }

    fn put(&mut self, kind: &str, span: i64, start: i64, body: &str) -> Result<(), StoreError> {
        let [kind, span, start, _] = at(kind, span, start, 0);
        self.call("put", &[kind, span, start, JsValue::from_str(body)])
            .map(drop)
    }

    fn delete(&mut self, kind: &str, span: i64, from: i64, to: i64) -> Result<(), StoreError> {
        self.call("remove", &at(kind, span, from, to)).map(drop)
    }

    fn remember(&mut self, id: i64, at: i64, body: &str) -> Result<(), StoreError> {
        let args = [
            JsValue::from_f64(id as f64),
            JsValue::from_f64(at as f64),
            JsValue::from_str(body),
        ];
        self.call("remember", &args).map(drop)
    }

    fn recall(&mut self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .call("recall", &[JsValue::from_f64(id as f64)])?
            .as_string())
    }

    fn forget_notes(&mut self, keep: usize, before: i64) -> Result<(), StoreError> {
        let args = [
            JsValue::from_f64(keep as f64),
            JsValue::from_f64(before as f64),
        ];
        self.call("forgetNotes", &args).map(drop)
    }
}

/// Takes an isolate's stats report (`stats_store::Report` as JSON) on the object's clock,
/// reading and writing through `table`; answers `{}`, the sums when the report asks to read,
/// or `{"error": …}` (the object then rolls its transaction back).
#[wasm_bindgen(js_name = controlStats)]
pub fn control_stats(report: &str, now: f64, table: &JsValue) -> String {
    let report: Report = match serde_json::from_str(report) {
        Ok(report) => report,
        Err(e) => return serde_json::json!({ "error": e.to_string() }).to_string(),
    };
    handle(&mut Table(table), &report, now as i64)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}
