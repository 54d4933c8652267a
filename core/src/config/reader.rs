//! Reading one table of the raw configuration (the top level, or one route) field by field,
//! in the user's terms: each value is checked for its kind (`takes seconds, a whole number;
//! got the string "1h" (write 3600)`), every problem is kept rather than the first alone, and
//! the fields left over at the end are unknown, reported with the nearest known name.

use serde_json::{Map, Value};

use super::suggest::nearest;

/// What a number counts, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Seconds,
    Milliseconds,
    Bytes,
    Count,
}

impl Unit {
    fn takes(self) -> &'static str {
        match self {
            Unit::Seconds => "takes seconds, a whole number",
            Unit::Milliseconds => "takes milliseconds, a whole number",
            Unit::Bytes => "takes bytes, a whole number",
            Unit::Count => "takes a whole number",
        }
    }

    /// What to write instead of `text` (`"1h"`: 3600), when it reads as a quantity.
    fn instead(self, text: &str) -> Option<u64> {
        let text = text.trim().to_ascii_lowercase();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let number: u64 = text[..digits].parse().ok()?;
        let suffix = text[digits..].trim();
        let factor: u64 = match (self, suffix) {
            (_, "") => 1,
            (Unit::Seconds, "s" | "sec" | "secs" | "second" | "seconds") => 1,
            (Unit::Seconds, "m" | "min" | "mins" | "minute" | "minutes") => 60,
            (Unit::Seconds, "h" | "hr" | "hour" | "hours") => 3600,
            (Unit::Seconds, "d" | "day" | "days") => 86_400,
            (Unit::Seconds, "w" | "week" | "weeks") => 604_800,
            (Unit::Milliseconds, "ms") => 1,
            (Unit::Milliseconds, "s") => 1000,
            (Unit::Bytes, "b") => 1,
            (Unit::Bytes, "k" | "kb" | "kib") => 1 << 10,
            (Unit::Bytes, "m" | "mb" | "mib") => 1 << 20,
            (Unit::Bytes, "g" | "gb" | "gib") => 1 << 30,
            _ => return None,
        };
        number.checked_mul(factor)
    }
}

/// A value as the user wrote it: `the string "1h"`, `the number 1.5`, `a list`.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a table".into(),
        Value::Null => "nothing".into(),
    }
}

/// One table's fields, read once each; what is wrong is kept as (field, reason).
pub(super) struct Table {
    map: Map<String, Value>,
    known: &'static [&'static str],
    /// What the table is (`a route`), and the other table's name and fields, so that a field
    /// written in the wrong table is named as such.
    what: &'static str,
    elsewhere: (&'static str, &'static [&'static str]),
    pub problems: Vec<(String, String)>,
}

impl Table {
    pub fn new(
        map: Map<String, Value>,
        known: &'static [&'static str],
        what: &'static str,
        elsewhere: (&'static str, &'static [&'static str]),
    ) -> Table {
        Table {
            map,
            known,
            what,
            elsewhere,
            problems: Vec::new(),
        }
    }

    pub fn problem(&mut self, field: &str, reason: impl Into<String>) {
        self.problems.push((field.to_string(), reason.into()));
    }

    /// The field's value; `null` is absent.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        debug_assert!(
            self.known.contains(&name),
            "{name} is not in the known fields"
        );
        self.map.remove(name).filter(|v| !v.is_null())
    }

    pub fn number(&mut self, name: &str, unit: Unit) -> Option<i64> {
        let value = self.take(name)?;
        if let Some(n) = value.as_i64() {
            return Some(n);
        }
        let reason = match &value {
            Value::Number(n) if n.is_u64() => format!("{n} is too large"),
            Value::String(text) => match unit.instead(text) {
                Some(n) => format!(
                    "{}; got {} (write {n}, no quotes)",
                    unit.takes(),
                    describe(&value)
                ),
                None => format!("{}; got {}", unit.takes(), describe(&value)),
            },
            other => format!("{}; got {}", unit.takes(), describe(other)),
        };
        self.problem(name, reason);
        None
    }

    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.take(name)? {
            Value::Bool(b) => Some(b),
            Value::String(text) if matches!(text.as_str(), "true" | "false") => {
                self.problem(
                    name,
                    format!(
                        "takes true or false; got the string {text:?} (write {text}, no quotes)"
                    ),
                );
                None
            }
            other => {
                self.problem(
                    name,
                    format!("takes true or false; got {}", describe(&other)),
                );
                None
            }
        }
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.take(name)? {
            Value::String(s) => Some(s),
            other => {
                self.problem(name, format!("takes a string; got {}", describe(&other)));
                None
            }
        }
    }

    /// A list of strings (`e.g.` shows one).
    pub fn strings(&mut self, name: &str, example: &str) -> Option<Vec<String>> {
        match self.take(name)? {
            Value::Array(items) => self.string_items(name, items),
            Value::String(s) => {
                self.problem(
                    name,
                    format!("takes a list, e.g. {example}; got the string {s:?} (write [{s:?}])"),
                );
                None
            }
            other => {
                self.problem(
                    name,
                    format!("takes a list, e.g. {example}; got {}", describe(&other)),
                );
                None
            }
        }
    }

    /// A string or a list of strings (`backends = "kv"` or `["memory", "kv"]`).
    pub fn one_or_many(&mut self, name: &str) -> Option<Vec<String>> {
        match self.take(name)? {
            Value::String(s) => Some(vec![s]),
            Value::Array(items) => self.string_items(name, items),
            other => {
                self.problem(
                    name,
                    format!("takes a name or a list of names; got {}", describe(&other)),
                );
                None
            }
        }
    }

    fn string_items(&mut self, name: &str, items: Vec<Value>) -> Option<Vec<String>> {
        let mut strings = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) => strings.push(s),
                other => {
                    ok = false;
                    self.problem(
                        name,
                        format!("item {} must be a string; got {}", i + 1, describe(&other)),
                    );
                }
            }
        }
        ok.then_some(strings)
    }

    pub fn table(&mut self, name: &str, example: &str) -> Option<Map<String, Value>> {
        match self.take(name)? {
            Value::Object(map) => Some(map),
            other => {
                self.problem(
                    name,
                    format!("takes a table, e.g. {example}; got {}", describe(&other)),
                );
                None
            }
        }
    }

    pub fn list(&mut self, name: &str) -> Option<Vec<Value>> {
        match self.take(name)? {
            Value::Array(items) => Some(items),
            other => {
                self.problem(
                    name,
                    format!(
                        "takes a list of tables ([[vars.EDGECACHE.{name}]]); got {}",
                        describe(&other)
                    ),
                );
                None
            }
        }
    }

    /// The problems, with one for each field left unread: an unknown name, with the known
    /// one it most likely meant.
    pub fn finish(mut self) -> Vec<(String, String)> {
        let left: Vec<String> = self.map.keys().cloned().collect();
        for name in left {
            let reason = if let Some(meant) = nearest(&name, self.known) {
                format!("unknown field; did you mean `{meant}`?")
            } else if self.elsewhere.1.contains(&name.as_str()) {
                format!("is a field of {}, not of {}", self.elsewhere.0, self.what)
            } else {
                format!(
                    "unknown field of {}; the fields are {}",
                    self.what,
                    self.known.join(", ")
                )
            };
            self.problems.push((name, reason));
        }
        self.problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str, f: impl FnOnce(&mut Table)) -> Vec<(String, String)> {
        let Value::Object(map) = serde_json::from_str(json).unwrap() else {
            panic!()
        };
        let mut table = Table::new(
            map,
            &["ttl", "bypass", "tags", "backends"],
            "a route",
            ("the top level", &["default_ttl"]),
        );
        f(&mut table);
        table.finish()
    }

    #[test]
    fn wrong_kinds_are_said_in_the_users_terms() {
        for (json, expected) in [
            (
                r#"{"ttl": "1h"}"#,
                r#"takes seconds, a whole number; got the string "1h" (write 3600, no quotes)"#,
            ),
            (
                r#"{"ttl": "600"}"#,
                r#"takes seconds, a whole number; got the string "600" (write 600, no quotes)"#,
            ),
            (
                r#"{"ttl": "soon"}"#,
                r#"takes seconds, a whole number; got the string "soon""#,
            ),
            (
                r#"{"ttl": 1.5}"#,
                "takes seconds, a whole number; got the number 1.5",
            ),
            (
                r#"{"ttl": true}"#,
                "takes seconds, a whole number; got true",
            ),
            (
                r#"{"ttl": [1]}"#,
                "takes seconds, a whole number; got a list",
            ),
            (
                r#"{"ttl": 18446744073709551615}"#,
                "18446744073709551615 is too large",
            ),
        ] {
            let problems = read(json, |t| {
                assert_eq!(t.number("ttl", Unit::Seconds), None);
            });
            assert_eq!(
                problems,
                vec![("ttl".to_string(), expected.to_string())],
                "{json}"
            );
        }
        let problems = read(r#"{"bypass": "true", "tags": "a", "backends": 3}"#, |t| {
            t.boolean("bypass");
            t.strings("tags", r#"["blog"]"#);
            t.one_or_many("backends");
        });
        assert_eq!(
            problems,
            vec![
                (
                    "bypass".into(),
                    r#"takes true or false; got the string "true" (write true, no quotes)"#.into()
                ),
                (
                    "tags".into(),
                    r#"takes a list, e.g. ["blog"]; got the string "a" (write ["a"])"#.into()
                ),
                (
                    "backends".into(),
                    "takes a name or a list of names; got the number 3".into()
                ),
            ]
        );
    }

    #[test]
    fn unknown_fields_are_named_with_what_was_meant() {
        let problems = read(r#"{"ttls": 5, "default_ttl": 5, "colour": 1}"#, |_| {});
        assert_eq!(
            problems,
            vec![
                (
                    "colour".to_string(),
                    "unknown field of a route; the fields are ttl, bypass, tags, backends"
                        .to_string()
                ),
                (
                    "default_ttl".to_string(),
                    "is a field of the top level, not of a route".to_string()
                ),
                (
                    "ttls".to_string(),
                    "unknown field; did you mean `ttl`?".to_string()
                ),
            ]
        );
    }

    #[test]
    fn sizes_and_milliseconds_are_suggested_in_their_units() {
        assert_eq!(Unit::Bytes.instead("16MiB"), Some(16 << 20));
        assert_eq!(Unit::Milliseconds.instead("5s"), Some(5000));
        assert_eq!(Unit::Seconds.instead("2 days"), Some(172_800));
        assert_eq!(Unit::Seconds.instead("1y"), None);
    }
}
