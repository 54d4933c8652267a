//! `ttl_by_status`: lifetimes by status, status range or class.

use serde_json::Value;

use super::checks::{check_ttl, seconds};
use super::reader::describe;
use super::{Backend, StatusTtl};

/// `ttl_by_status`: `{"200": 3600, "404": 60, "500-599": 0, "5xx": 0}`. Statuses 100 to 599,
/// ranges that do not overlap, durations in seconds (0: never stored; otherwise at least the
/// minimum of each of `backends`, e.g. KV's 60 s). The rules read, and a problem for each
/// one that could not be.
pub(super) fn status_ttls(
    map: serde_json::Map<String, Value>,
    backends: &[Backend],
) -> (Vec<StatusTtl>, Vec<String>) {
    let mut rules: Vec<StatusTtl> = Vec::with_capacity(map.len());
    let mut problems = Vec::new();
    for (range, value) in map {
        match status_ttl(&range, &value, backends, &rules) {
            Ok(rule) => rules.push(rule),
            Err(problem) => problems.push(problem),
        }
    }
    rules.sort_by_key(|r| r.first);
    (rules, problems)
}

fn status_ttl(
    range: &str,
    value: &Value,
    backends: &[Backend],
    rules: &[StatusTtl],
) -> Result<StatusTtl, String> {
    let (first, last) = status_range(range)?;
    let ttl = value.as_i64().ok_or_else(|| {
        format!(
            "{range:?}: takes seconds, a whole number; got {}",
            describe(value)
        )
    })?;
    let ttl = seconds(Some(ttl), 0).map_err(|r| format!("{range:?}: {r}"))?;
    if ttl > 0 {
        check_ttl(backends, ttl).map_err(|r| format!("{range:?}: {r}"))?;
    }
    let rule = StatusTtl { first, last, ttl };
    if let Some(other) = rules
        .iter()
        .find(|o| o.first <= rule.last && rule.first <= o.last)
    {
        return Err(format!("{range:?} overlaps {}-{}", other.first, other.last));
    }
    Ok(rule)
}

/// `"404"`, `"500-599"` or `"5xx"`.
fn status_range(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{text:?} is not a status (404), a range (500-599) or a class (5xx)");
    let status = |s: &str| -> Result<u16, String> {
        let s = s.trim();
        if s.len() != 3 {
            return Err(bad());
        }
        s.parse::<u16>()
            .ok()
            .filter(|n| (100..=599).contains(n))
            .ok_or_else(bad)
    };
    let text_trimmed = text.trim();
    if let Some(class) = text_trimmed
        .strip_suffix("xx")
        .or_else(|| text_trimmed.strip_suffix("XX"))
    {
        let digit = class.parse::<u16>().ok().filter(|d| (1..=5).contains(d));
        return digit.map(|d| (d * 100, d * 100 + 99)).ok_or_else(bad);
    }
    match text_trimmed.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (status(first)?, status(last)?);
            if first > last {
                return Err(bad());
            }
            Ok((first, last))
        }
        None => status(text_trimmed).map(|s| (s, s)),
    }
}
