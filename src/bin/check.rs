//! `make check`: validates the cache policy in `wrangler.toml` on the host, with the same
//! parser and messages as the worker, so a broken rule is caught before `wrangler deploy`.
//!
//! Checks `[vars]` and every `[env.NAME.vars]`. Exits 1 naming each problem.

use std::process::ExitCode;

use edgecache::auth_limit;
use edgecache::config::Config;
use edgecache::{parse_origin, CONFIG_VAR, ORIGIN_VAR};

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "wrangler.toml".to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let manifest: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(e) => {
            eprintln!("{path}: not valid TOML: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut sections = vec![(
        "[vars]".to_string(),
        manifest.get("vars"),
        manifest.get("ratelimits"),
    )];
    if let Some(envs) = manifest.get("env").and_then(|e| e.as_table()) {
        for (name, env) in envs {
            sections.push((
                format!("[env.{name}.vars]"),
                env.get("vars"),
                env.get("ratelimits"),
            ));
        }
    }

    let mut failed = false;
    for (section, vars, ratelimits) in sections {
        if !has_admin_limiter(ratelimits) {
            eprintln!("{path} {section}: note: no [[ratelimits]] binding {}: each isolate limits failed admin logins itself", auth_limit::BINDING);
        }
        match check_vars(vars) {
            Ok(summary) => println!("{path} {section}: ok ({summary})"),
            Err(problem) => {
                eprintln!("{path} {section}: {problem}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether `ratelimits` (a `[[ratelimits]]` array) binds the admin rate limiter.
fn has_admin_limiter(ratelimits: Option<&toml::Value>) -> bool {
    ratelimits.and_then(|r| r.as_array()).is_some_and(|list| {
        list.iter()
            .any(|b| b.get("name").and_then(|n| n.as_str()) == Some(auth_limit::BINDING))
    })
}

fn check_vars(vars: Option<&toml::Value>) -> Result<String, String> {
    let get = |name: &str| vars.and_then(|v| v.get(name));
    let config_json = match get(CONFIG_VAR) {
        None => serde_json::Value::Null,
        Some(value) => serde_json::to_value(value).map_err(|e| e.to_string())?,
    };
    let config = Config::from_value(config_json).map_err(|e| e.to_string())?;
    let origin = match get(ORIGIN_VAR) {
        None => None,
        Some(toml::Value::String(text)) => parse_origin(text)?,
        Some(other) => {
            return Err(format!(
                "{ORIGIN_VAR}: must be a string, not {}",
                other.type_str()
            ))
        }
    };
    Ok(format!(
        "{} route rule(s), backends {:?}, origin {}",
        config.routes.len(),
        config
            .backends
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>(),
        origin.map_or("= the request's own URL".to_string(), |o| o.to_string())
    ))
}
