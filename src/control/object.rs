//! The control plane's rules (`control.rs`) as functions the Durable Object class
//! (`control_object.mjs`) calls: JSON text in, JSON text out, nothing kept between calls.
//! The object stores what they return.

use wasm_bindgen::prelude::wasm_bindgen;

use edgecache_core::control::rules::{apply_purge, import_legacy, PurgeCommand};

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
