//! `make check`: validates the cache policy in `wrangler.toml` on the host, with the same
//! parser and messages as the worker, so a broken rule is caught before `wrangler deploy`.
//!
//! Checks `[vars]` and every `[env.NAME.vars]`. Exits 1 naming each problem.

use std::process::ExitCode;

use edgecache::config::Config;
use edgecache::control_plane::{BINDING, CLASS};
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

    let mut sections = vec![("[vars]".to_string(), manifest.get("vars"), Some(&manifest))];
    if let Some(envs) = manifest.get("env").and_then(|e| e.as_table()) {
        for (name, env) in envs {
            sections.push((
                format!("[env.{name}.vars]"),
                env.get("vars"),
                env.as_table(),
            ));
        }
    }

    let mut failed = false;
    for (section, vars, table) in sections {
        match check_vars(vars)
            .and_then(|summary| check_control_plane(table, &manifest).map(|()| summary))
        {
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

/// The control plane's Durable Object must be bound in every environment (bindings are not
/// inherited) and created by a `new_sqlite_classes` migration (the environment's own, or the
/// top level's when it has none).
fn check_control_plane(env: Option<&toml::Table>, top: &toml::Table) -> Result<(), String> {
    let bound = env
        .and_then(|e| e.get("durable_objects"))
        .and_then(|d| d.get("bindings"))
        .and_then(|b| b.as_array())
        .is_some_and(|bindings| {
            bindings.iter().any(|b| {
                b.get("name").and_then(|n| n.as_str()) == Some(BINDING)
                    && b.get("class_name").and_then(|c| c.as_str()) == Some(CLASS)
            })
        });
    if !bound {
        return Err(format!(
            "no Durable Object binding {BINDING} of class {CLASS} ([[durable_objects.bindings]]): purges, the purge log and stats need it"
        ));
    }
    let migrations = env
        .and_then(|e| e.get("migrations"))
        .or_else(|| top.get("migrations"))
        .and_then(|m| m.as_array());
    let created = migrations.is_some_and(|list| {
        list.iter().any(|m| {
            m.get("new_sqlite_classes")
                .and_then(|c| c.as_array())
                .is_some_and(|classes| classes.iter().any(|c| c.as_str() == Some(CLASS)))
        })
    });
    if !created {
        return Err(format!(
            "no migration creates {CLASS} with SQLite storage ([[migrations]] new_sqlite_classes = [\"{CLASS}\"])"
        ));
    }
    Ok(())
}
