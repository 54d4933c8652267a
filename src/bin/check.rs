//! `make check`: validates the cache policy in `wrangler.toml` on the host, with the same
//! parser and messages as the worker, so a broken rule is caught before `wrangler deploy`.
//!
//! Checks `[vars]` and every `[env.NAME.vars]` of the file named (`make check CONFIG=file`;
//! `wrangler.toml` by default). Exits 1 naming every problem, one a line, each field by its
//! path and each route by its `path`. Warns (and exits 0) where `[cache] enabled` (Workers Cache in front of the worker) and
//! `EDGECACHE.workers_cache` disagree: the worker cannot read `wrangler.toml` at run time, so
//! `workers_cache` is how it learns that Workers Cache is there; and where a route rule can
//! never apply (`Config::unreachable_rules`: a pattern no path matches, or an earlier rule
//! that always comes first), naming both rules.

use std::process::ExitCode;

use edgecache::admin::limit;
use edgecache::control::plane::{BINDING, CLASS};
use edgecache::flow::shield::SHIELD_BINDING;
use edgecache::{parse_origin, CONFIG_VAR, ORIGIN_VAR};
use edgecache_core::config::{shown, Backend, Config, ConfigError, ConfigErrors};

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

    let top_cache = cache_enabled(manifest.get("cache"));
    let mut sections = vec![(
        "[vars]".to_string(),
        manifest.get("vars"),
        manifest.get("ratelimits"),
        ("[cache]".to_string(), top_cache.unwrap_or(false)),
        Some(&manifest),
    )];
    if let Some(envs) = manifest.get("env").and_then(|e| e.as_table()) {
        for (name, env) in envs {
            // `cache` is inherited from the top level unless the environment sets its own;
            // `vars` are not.
            let cache = match cache_enabled(env.get("cache")) {
                Some(enabled) => (format!("[env.{name}.cache]"), enabled),
                None => ("[cache]".to_string(), top_cache.unwrap_or(false)),
            };
            sections.push((
                format!("[env.{name}.vars]"),
                env.get("vars"),
                env.get("ratelimits"),
                cache,
                env.as_table(),
            ));
        }
    }

    let mut failed = false;
    for (section, vars, ratelimits, (cache_section, enabled), table) in sections {
        if !has_admin_limiter(ratelimits) {
            eprintln!("{path} {section}: note: no [[ratelimits]] binding {}: each isolate limits failed admin logins itself", limit::BINDING);
        }
        let checked = check_vars(vars);
        let control = check_control_plane(table, &manifest);
        match (checked, control) {
            (Ok(checked), Ok(())) => {
                let (summary, site, used, unreachable, shielded) = checked;
                println!("{path} {section}: ok ({summary})");
                for warning in rule_warnings(&unreachable, shielded, table) {
                    eprintln!("{path} {section}: warning: {warning}");
                }
                for warning in unbound_backends(&used, table) {
                    eprintln!("{path} {section}: warning: {warning}");
                }
                if let Some(warning) =
                    workers_cache_warning(&section, &cache_section, enabled, site.as_deref())
                {
                    eprintln!("{path} {section}: warning: {warning}");
                }
            }
            (checked, control) => {
                let failed_vars = checked.err();
                let problems = failed_vars.as_ref().map_or(&[][..], |f| &f.problems[..]);
                for problem in problems.iter().chain(control.as_ref().err()) {
                    eprintln!("{path} {section}: {problem}");
                }
                if let Some(Failed {
                    unreachable,
                    shielded,
                    ..
                }) = failed_vars
                {
                    for warning in rule_warnings(&unreachable, shielded, table) {
                        eprintln!("{path} {section}: warning: {warning}");
                    }
                }
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
            .any(|b| b.get("name").and_then(|n| n.as_str()) == Some(limit::BINDING))
    })
}

/// `enabled` of a `[cache]` table, if there is one.
fn cache_enabled(cache: Option<&toml::Value>) -> Option<bool> {
    cache?.get("enabled")?.as_bool()
}

/// What is wrong when Workers Cache is `enabled` (by `cache_section`) and edgecache is told
/// `site` for it, or the other way round.
fn workers_cache_warning(
    section: &str,
    cache_section: &str,
    enabled: bool,
    site: Option<&str>,
) -> Option<String> {
    match (enabled, site) {
        (true, None) => Some(format!(
            "{cache_section} enabled = true puts Workers Cache in front of the worker, but {section} \
             {CONFIG_VAR}.workers_cache is not set, so edgecache does not tell it what it may keep: \
             it would keep responses by the origin's own Cache-Control under their path and query \
             alone (not the host, cookies, vary_cookies or vary_headers), and URL purges would \
             reach it only as path prefixes. Set workers_cache to the site's URL (docs/workers-cache.md), or turn the cache off."
        )),
        (false, Some(site)) => Some(format!(
            "{CONFIG_VAR}.workers_cache = {site:?}, but {cache_section} does not enable Workers \
             Cache: clients would be sent Cloudflare-CDN-Cache-Control and Cache-Tag meant for a \
             cache that is not there. Set enabled = true under {cache_section}, or remove \
             workers_cache."
        )),
        _ => None,
    }
}

/// What `check_vars` finds in a valid section.
type Checked = (String, Option<String>, Vec<Backend>, Vec<String>, bool);

/// The section's summary, its `workers_cache` site, the backends its routes store in, its
/// route rules that can never apply, and whether any route is shielded; or every problem of
/// the section, with the warnings about what is valid of it.
fn check_vars(vars: Option<&toml::Value>) -> Result<Checked, Failed> {
    let get = |name: &str| vars.and_then(|v| v.get(name));
    let mut problems = Vec::new();
    let value = get(CONFIG_VAR).map(serde_json::to_value);
    let config = match &value {
        None => Ok(Config::default()),
        Some(Ok(value)) => Config::from_value(value.clone()),
        Some(Err(e)) => Err(ConfigErrors::one(ConfigError::Syntax(e.to_string()))),
    };
    let config = config
        .map_err(|errors| problems.extend(errors.0.iter().map(|e| e.to_string())))
        .ok();
    let origin = match get(ORIGIN_VAR) {
        None => None,
        Some(toml::Value::String(text)) => parse_origin(text)
            .map_err(|e| problems.push(e))
            .ok()
            .flatten(),
        Some(other) => {
            problems.push(format!(
                "{ORIGIN_VAR}: must be a string, not {}",
                other.type_str()
            ));
            None
        }
    };
    if get(shown::DEV_VAR).is_some() {
        problems.push(format!(
            "{}: is for make dev alone (scripts/dev.sh sets it), so that a broken configuration's errors are shown on the error page locally; it must not be in wrangler.toml",
            shown::DEV_VAR
        ));
    }
    let (Some(config), true) = (config, problems.is_empty()) else {
        // What is valid of it is still warned about: every mistake at once.
        let valid = value.and_then(Result::ok).and_then(Config::valid_part);
        return Err(Failed {
            problems,
            unreachable: valid.as_ref().map_or(Vec::new(), Config::unreachable_rules),
            shielded: valid.as_ref().is_some_and(shielded),
        });
    };
    let summary = format!(
        "{} route rule(s), backends {:?}, origin {}{}",
        config.routes.len(),
        config
            .backends
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>(),
        origin.map_or("= the request's own URL".to_string(), |o| o.to_string()),
        config
            .workers_cache
            .as_ref()
            .map_or(String::new(), |site| format!(", Workers Cache for {site}"))
    );
    let mut used: Vec<Backend> = config.backends.clone();
    for route in config.routes.iter().filter(|r| !r.bypass) {
        used.extend(route.backends.iter().copied());
    }
    used.sort_by_key(|b| b.as_str());
    used.dedup();
    let unreachable = config.unreachable_rules();
    let shielded = shielded(&config);
    Ok((summary, config.workers_cache, used, unreachable, shielded))
}

/// A section whose `vars` are in error: the errors, and the warnings about what is valid of
/// them.
#[derive(Debug)]
struct Failed {
    problems: Vec<String>,
    unreachable: Vec<String>,
    shielded: bool,
}

/// The warnings about a section's rules, whether the rest of it is valid or not: the rules
/// that can never apply, and a shield without its binding.
fn rule_warnings(unreachable: &[String], shielded: bool, env: Option<&toml::Table>) -> Vec<String> {
    let mut warnings = unreachable.to_vec();
    warnings.extend(unbound_shield(shielded, env));
    warnings
}

/// The site or one of its routes is shielded.
fn shielded(config: &Config) -> bool {
    config.shield || config.routes.iter().any(|r| r.shield == Some(true))
}

/// A warning for each backend in `used` whose binding the environment `env` does not declare
/// (bindings are not inherited): the worker would leave that tier out and log why.
fn unbound_backends(used: &[Backend], env: Option<&toml::Table>) -> Vec<String> {
    used.iter()
        .filter_map(|backend| {
            let d = backend.describe();
            let (binding, table) = (d.binding?, d.wrangler_table?);
            let declared = env
                .and_then(|e| e.get(table))
                .and_then(|t| t.as_array())
                .is_some_and(|list| {
                    list.iter()
                        .any(|b| b.get("binding").and_then(|n| n.as_str()) == Some(binding))
                });
            (!declared).then(|| {
                format!(
                    "a route uses {} but no [[{table}]] declares binding = \"{binding}\": that tier is left out at run time",
                    d.name
                )
            })
        })
        .collect()
}

/// A warning when the policy shields a route but the environment does not bind the shield's
/// Durable Object (bindings are not inherited): every location would ask the origin itself.
fn unbound_shield(shielded: bool, env: Option<&toml::Table>) -> Option<String> {
    let bound = env
        .and_then(|e| e.get("durable_objects"))
        .and_then(|d| d.get("bindings"))
        .and_then(|b| b.as_array())
        .is_some_and(|bindings| {
            bindings.iter().any(|b| {
                b.get("name").and_then(|n| n.as_str()) == Some(SHIELD_BINDING)
                    && b.get("class_name").and_then(|c| c.as_str()) == Some("Shield")
            })
        });
    (shielded && !bound).then(|| {
        format!(
            "shield = true, but no Durable Object binding {SHIELD_BINDING} of class Shield ([[durable_objects.bindings]] and a new_sqlite_classes migration): every location would ask the origin itself"
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> toml::Table {
        text.parse().expect("valid TOML")
    }

    #[test]
    fn the_cache_table_says_whether_workers_cache_is_on() {
        let m = manifest("[cache]\nenabled = true\n[env.staging.cache]\nenabled = false\n");
        assert_eq!(cache_enabled(m.get("cache")), Some(true));
        let staging = m["env"]["staging"].get("cache");
        assert_eq!(cache_enabled(staging), Some(false));
        assert_eq!(cache_enabled(manifest("").get("cache")), None);
    }

    #[test]
    fn a_disagreement_between_the_cache_table_and_workers_cache_is_a_warning() {
        let on_unknown = workers_cache_warning("[vars]", "[cache]", true, None);
        assert!(on_unknown.is_some_and(|w| w.contains("workers_cache is not set")));
        let told_off = workers_cache_warning("[vars]", "[cache]", false, Some("https://a.example"));
        assert!(told_off.is_some_and(|w| w.contains("does not enable Workers Cache")));
        assert_eq!(
            workers_cache_warning("[vars]", "[cache]", true, Some("https://a.example")),
            None
        );
        assert_eq!(
            workers_cache_warning("[vars]", "[cache]", false, None),
            None
        );
    }

    #[test]
    fn every_problem_of_a_section_is_named() {
        let vars = manifest(
            "ORIGIN = \"ftp://x\"\nEDGECACHE_DEV = \"1\"\n[EDGECACHE]\nversion = -1\n[[EDGECACHE.routes]]\npath = \"/a/**\"\nttl = \"1h\"\n",
        );
        let problems = check_vars(Some(&toml::Value::Table(vars)))
            .unwrap_err()
            .problems;
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert_eq!(problems[0], "EDGECACHE.version: -1 is negative");
        assert!(problems[1].starts_with("EDGECACHE.routes[\"/a/**\"].ttl: takes seconds"));
        assert!(problems[2].starts_with("ORIGIN: "));
        assert!(problems[3].starts_with("EDGECACHE_DEV: is for make dev alone"));
    }

    #[test]
    fn rules_that_never_apply_come_back_as_warnings() {
        let vars = manifest(
            "[EDGECACHE]\n[[EDGECACHE.routes]]\npath = \"/admin/**\"\nbypass = true\n[[EDGECACHE.routes]]\npath = \"/admin/login\"\nttl = 60\n",
        );
        let (_, _, _, warnings, _) = check_vars(Some(&toml::Value::Table(vars))).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with(
            "EDGECACHE.routes[\"/admin/login\"] never applies: routes[\"/admin/**\"] comes first"
        ));
    }

    #[test]
    fn the_site_comes_back_with_the_summary() {
        let vars = manifest("[EDGECACHE]\nworkers_cache = \"https://Example.com\"\n");
        let (summary, site, _, _, _) = check_vars(Some(&toml::Value::Table(vars))).unwrap();
        assert_eq!(site.as_deref(), Some("https://example.com"));
        assert!(summary.ends_with("Workers Cache for https://example.com"));
    }

    #[test]
    fn a_shielded_policy_without_the_shields_binding_is_a_warning() {
        let none = manifest("");
        let warning = unbound_shield(true, Some(&none)).expect("a warning");
        assert!(warning.contains("EDGECACHE_SHIELD"), "{warning}");
        let bound = manifest(
            "[[durable_objects.bindings]]\nname = \"EDGECACHE_SHIELD\"\nclass_name = \"Shield\"\n",
        );
        assert_eq!(unbound_shield(true, Some(&bound)), None);
        assert_eq!(unbound_shield(false, Some(&none)), None);
    }

    #[test]
    fn a_backend_whose_binding_is_not_declared_is_a_warning() {
        let vars = manifest(
            "[EDGECACHE]\nbackends = [\"memory\"]\n[[EDGECACHE.routes]]\npath = \"/big/**\"\nbackends = [\"r2\"]\n[[EDGECACHE.routes]]\npath = \"/api/**\"\nbackends = \"kv\"\nbypass = true\n",
        );
        let (_, _, used, _, _) = check_vars(Some(&toml::Value::Table(vars))).unwrap();
        assert_eq!(
            used,
            vec![Backend::Memory, Backend::R2],
            "a bypass route stores nothing"
        );
        let none = manifest("");
        let warnings = unbound_backends(&used, Some(&none));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("no [[r2_buckets]] declares binding = \"EDGECACHE_R2\""));
        let bound = manifest("[[r2_buckets]]\nbinding = \"EDGECACHE_R2\"\nbucket_name = \"b\"\n");
        assert!(unbound_backends(&used, Some(&bound)).is_empty());
    }
}
