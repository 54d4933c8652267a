//! Targeted cache-control fields (RFC 9213): `CDN-Cache-Control`, Cloudflare's
//! `Cloudflare-CDN-Cache-Control` and edgecache's own `Edgecache-Cache-Control` are Structured
//! Field Dictionaries (RFC 8941 §3.2), read here strictly. A value that is not a valid
//! dictionary, or whose known directives have the wrong type (`max-age="60"`, `max-age=1.5`, `max-age=-1`), makes the whole field invalid, and
//! RFC 9213 §2.2 then has the cache ignore it and fall back to `Cache-Control`: a typo in a
//! CDN-only policy must not turn a `no-store` page into a stored one.
//!
//! A valid value is rewritten as the `Cache-Control` text it means and read by the one
//! directive reader (`CacheControl::parse`), so every kind of field means the same thing.

/// A dictionary member's value, as far as cache directives care.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Integer(i64),
    Decimal,
    String(String),
    Token(String),
    Bytes,
    Boolean(bool),
    /// An inner list; only lists of strings and tokens (field names) are kept.
    List(Vec<String>),
    /// An inner list holding something other than strings and tokens.
    OtherList,
}

/// The `Cache-Control` text a targeted field's `value` means, or `None` if the field is
/// invalid and must be ignored (RFC 9213 §2.2).
pub fn as_cache_control(value: &str) -> Option<String> {
    let members = parse_dictionary(value)?;
    let mut text = String::new();
    for (name, value) in members {
        let Some(directive) = directive(&name, value)? else {
            continue;
        };
        if !text.is_empty() {
            text.push_str(", ");
        }
        text.push_str(&directive);
    }
    Some(text)
}

/// One member as a `Cache-Control` directive: `Some(None)` when it says nothing (a false
/// boolean, an unknown directive), `None` when a known directive has the wrong type.
fn directive(name: &str, value: Value) -> Option<Option<String>> {
    const SECONDS: &[&str] = &[
        "max-age",
        "s-maxage",
        "stale-while-revalidate",
        "stale-if-error",
    ];
    const FLAGS: &[&str] = &[
        "no-store",
        "public",
        "must-revalidate",
        "proxy-revalidate",
        "immutable",
        "no-transform",
        "must-understand",
    ];
    if SECONDS.contains(&name) {
        return match value {
            Value::Integer(n) if n >= 0 => Some(Some(format!("{name}={n}"))),
            _ => None,
        };
    }
    if FLAGS.contains(&name) {
        return match value {
            Value::Boolean(true) => Some(Some(name.to_string())),
            Value::Boolean(false) => Some(None),
            _ => None,
        };
    }
    if name == "private" || name == "no-cache" {
        // Unqualified, or qualified by field names (one string, or a list of them).
        return match value {
            Value::Boolean(true) => Some(Some(name.to_string())),
            Value::Boolean(false) => Some(None),
            Value::String(fields) | Value::Token(fields) => {
                Some(Some(format!("{name}=\"{fields}\"")))
            }
            Value::List(fields) if !fields.is_empty() => {
                Some(Some(format!("{name}=\"{}\"", fields.join(", "))))
            }
            _ => None,
        };
    }
    Some(None)
}

/// RFC 8941 §4.2.2, "Parsing a Dictionary" (parameters are read and dropped: RFC 9213 gives
/// them no meaning for the directives above). A later member replaces an earlier one of the
/// same name, in its place.
fn parse_dictionary(value: &str) -> Option<Vec<(String, Value)>> {
    let mut input = Input(value.trim_matches(' ').as_bytes());
    let mut members: Vec<(String, Value)> = Vec::new();
    if input.is_empty() {
        return Some(members);
    }
    loop {
        let name = input.key()?;
        let value = if input.eat(b'=') {
            input.item_or_inner_list()?
        } else {
            Value::Boolean(true)
        };
        input.parameters()?;
        match members.iter_mut().find(|(n, _)| *n == name) {
            Some(member) => member.1 = value,
            None => members.push((name, value)),
        }
        input.skip_ows();
        if input.is_empty() {
            return Some(members);
        }
        if !input.eat(b',') {
            return None;
        }
        input.skip_ows();
        if input.is_empty() {
            return None; // a trailing comma
        }
    }
}

/// What is left of a field value being parsed.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.0 = &self.0[1..];
        }
        found
    }

    fn skip(&mut self, byte: u8) {
        while self.eat(byte) {}
    }

    fn skip_ows(&mut self) {
        while self.eat(b' ') || self.eat(b'\t') {}
    }

    /// Bytes while `keep` holds.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &[u8] {
        let end = self
            .0
            .iter()
            .position(|&b| !keep(b))
            .unwrap_or(self.0.len());
        let (taken, rest) = self.0.split_at(end);
        self.0 = rest;
        taken
    }

    /// §4.2.3.3: `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
    fn key(&mut self) -> Option<String> {
        let first = self.peek()?;
        if !(first.is_ascii_lowercase() || first == b'*') {
            return None;
        }
        let key = self
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b));
        Some(String::from_utf8_lossy(key).into_owned())
    }

    /// §4.2.3.2: `;key[=item]` repeated.
    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip(b' ');
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }

    fn item_or_inner_list(&mut self) -> Option<Value> {
        if self.peek() == Some(b'(') {
            return self.inner_list();
        }
        let item = self.bare_item()?;
        Some(item)
    }

    /// §4.2.1.2: `( item *( SP item ) )` with parameters after each item and the list.
    fn inner_list(&mut self) -> Option<Value> {
        self.next();
        let mut names = Vec::new();
        let mut only_names = true;
        loop {
            self.skip(b' ');
            if self.eat(b')') {
                self.parameters()?;
                return Some(if only_names {
                    Value::List(names)
                } else {
                    Value::OtherList
                });
            }
            match self.bare_item()? {
                Value::String(s) | Value::Token(s) => names.push(s),
                _ => only_names = false,
            }
            self.parameters()?;
            if !matches!(self.peek(), Some(b' ') | Some(b')')) {
                return None;
            }
        }
    }

    /// §4.2.3.1: the bare item types of RFC 8941.
    fn bare_item(&mut self) -> Option<Value> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => self.string().map(Value::String),
            b'*' | b'A'..=b'Z' | b'a'..=b'z' => Some(Value::Token(self.token())),
            b':' => self.byte_sequence(),
            b'?' => self.boolean(),
            _ => None,
        }
    }

    /// §4.2.4: an integer of at most 15 digits, or a decimal of at most 12 + 3.
    fn number(&mut self) -> Option<Value> {
        let negative = self.eat(b'-');
        let whole = self.take_while(|b| b.is_ascii_digit()).to_vec();
        if whole.is_empty() {
            return None;
        }
        if self.eat(b'.') {
            let fraction = self.take_while(|b| b.is_ascii_digit());
            let valid = whole.len() <= 12 && (1..=3).contains(&fraction.len());
            return valid.then_some(Value::Decimal);
        }
        if whole.len() > 15 {
            return None;
        }
        let magnitude: i64 = std::str::from_utf8(&whole).ok()?.parse().ok()?;
        Some(Value::Integer(if negative {
            -magnitude
        } else {
            magnitude
        }))
    }

    /// §4.2.5: printable ASCII between quotes; `\` escapes only `"` and `\`.
    fn string(&mut self) -> Option<String> {
        self.next();
        let mut text = String::new();
        loop {
            match self.next()? {
                b'"' => return Some(text),
                b'\\' => match self.next()? {
                    c @ (b'"' | b'\\') => text.push(char::from(c)),
                    _ => return None,
                },
                c @ 0x20..=0x7e => text.push(char::from(c)),
                _ => return None,
            }
        }
    }

    /// §4.2.6: tchar, `:` and `/` after a leading alpha or `*`.
    fn token(&mut self) -> String {
        let token =
            self.take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b));
        String::from_utf8_lossy(token).into_owned()
    }

    /// §4.2.7: base64 between colons (its content is not needed here, only its shape).
    fn byte_sequence(&mut self) -> Option<Value> {
        self.next();
        self.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        self.eat(b':').then_some(Value::Bytes)
    }

    /// §4.2.8: `?0` or `?1`.
    fn boolean(&mut self) -> Option<Value> {
        self.next();
        match self.next()? {
            b'0' => Some(Value::Boolean(false)),
            b'1' => Some(Value::Boolean(true)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::as_cache_control;

    #[test]
    fn valid_dictionaries_read_as_cache_control() {
        assert_eq!(
            as_cache_control("max-age=3600").as_deref(),
            Some("max-age=3600")
        );
        assert_eq!(
            as_cache_control("foobar, max-age=3600").as_deref(),
            Some("max-age=3600"),
            "unknown directives are ignored"
        );
        assert_eq!(
            as_cache_control("no-store, max-age=0;x=1, public=?0").as_deref(),
            Some("no-store, max-age=0"),
            "parameters are dropped, a false boolean says nothing"
        );
        assert_eq!(
            as_cache_control(r#"private="set-cookie", no-cache=("a" b)"#).as_deref(),
            Some(r#"private="set-cookie", no-cache="a, b""#)
        );
        assert_eq!(
            as_cache_control("max-age=5, max-age=9").as_deref(),
            Some("max-age=9"),
            "a later member replaces an earlier one"
        );
        assert_eq!(as_cache_control("none").as_deref(), Some(""));
        assert_eq!(
            as_cache_control("  max-age=1  ").as_deref(),
            Some("max-age=1")
        );
    }

    #[test]
    fn invalid_dictionaries_are_refused_whole() {
        for value in [
            "max-age=10000, &&&&&",
            "max-age =100",
            "max-age= 100",
            "MaX-aGe=3600",
            "max-age=3600,",
            "max-age=\"unterminated",
            "max-age=1234567890123456",
            "max-age=1.2345",
            "a=?2",
            "a=:abc",
            "a=(1 2",
        ] {
            assert_eq!(as_cache_control(value), None, "{value:?}");
        }
    }

    #[test]
    fn known_directives_of_the_wrong_type_refuse_the_field() {
        for value in [
            "max-age=\"10000\"",
            "max-age=1.5",
            "max-age=-1",
            "s-maxage=?1",
            "no-store=5",
            "private=(1 2)",
            "max-age=abc",
        ] {
            assert_eq!(as_cache_control(value), None, "{value:?}");
        }
    }
}
