//! The request's target URI in one canonical form, which routing, the key and the origin
//! request all read, so that no two of them can disagree about which resource is meant.
//!
//! RFC 3986 §6.2.2 normalisation: percent-encoded unreserved characters are decoded
//! (`/%61pi` is `/api`), other percent-encodings get upper-case hex (`%2f` is `%2F`), dot
//! segments are removed, the host is lower-case without a trailing dot (`example.com.` is
//! `example.com`). With `case_insensitive_paths`, the path is lower-cased too.
//!
//! Origins read paths and queries in more ways than RFC 3986 does: many decode `%2F` and
//! `%5C` into separators, drop `;parameters` from segments, merge empty segments, ignore case,
//! or split queries on `;` as well as `&`. `readings` lists the paths such an origin could
//! see, so that a bypass rule matches all of them; `ambiguous` says the path has a part an
//! origin could read otherwise, so that no route `ttl` applies to it; a query is kept in the
//! key piece by piece as the client sent it, and a piece leaves the key (and the origin
//! request) only when every way of splitting it names an ignored parameter.

use url::form_urlencoded;
use url::Url;

use crate::config::QueryRule;
use crate::request::glob::matches_any;

/// One request's target, canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case, Punycode, without a trailing dot.
    pub host: String,
    /// A port other than the scheme's default.
    pub port: Option<u16>,
    /// Canonical: see the module's documentation.
    pub path: String,
    /// The query's `&`-separated pieces, each normalised, in the client's order.
    pub query: Vec<QueryPiece>,
    /// An origin could read the path as another one: it holds an encoded `/`, `\` or `%`,
    /// a `;`, or an empty segment.
    pub ambiguous: bool,
}

/// One `&`-separated piece of a query, `name=value` (or `name`, or `a=1;b=2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPiece {
    /// As the client sent it, percent-encodings normalised.
    pub text: String,
    /// The decoded parameter names an origin could read in it: the name before the first
    /// `=`, and, for an origin that also splits on `;`, the name of each `;`-separated part.
    pub names: Vec<String>,
}

impl QueryPiece {
    fn parse(text: &str) -> QueryPiece {
        let text = normalize_percent(text);
        let mut names = vec![decoded_name(&text)];
        if text.contains(';') {
            for part in text.split(';').filter(|p| !p.is_empty()) {
                let name = decoded_name(part);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        QueryPiece { text, names }
    }

    /// The name the key sorts by: the one an origin splitting on `&` alone reads.
    pub fn name(&self) -> &str {
        &self.names[0]
    }

    /// Whether `rule` keeps this piece. It leaves only when every name an origin could read
    /// in it is left out: `utm_x=1;callback=evil` stays with `query_ignore = ["utm_*"]`.
    pub fn kept_by(&self, rule: &QueryRule) -> bool {
        match rule {
            QueryRule::All => true,
            QueryRule::Ignore(globs) => !self.names.iter().all(|n| matches_any(globs, n)),
            QueryRule::Allow(globs) => self.names.iter().any(|n| matches_any(globs, n)),
        }
    }
}

/// The parameter name of `name=value`, form-decoded.
fn decoded_name(piece: &str) -> String {
    let raw = piece.split('=').next().unwrap_or(piece);
    form_urlencoded::parse(raw.as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
        .unwrap_or_default()
}

impl Target {
    /// The canonical target of `url`, as the runtime's URL parser gave it.
    pub fn of(url: &Url, case_insensitive_paths: bool) -> Target {
        let host = canonical_host(url);
        let mut path = remove_dot_segments(&normalize_percent(url.path()));
        if case_insensitive_paths {
            path = lowercase_outside_escapes(&path);
        }
        if path.is_empty() {
            path.push('/');
        }
        let query = url
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(QueryPiece::parse)
            .collect();
        Target {
            scheme: url.scheme().to_string(),
            ambiguous: is_ambiguous(&path),
            host,
            port: url.port(),
            path,
            query,
        }
    }

    /// `host` with `:port` when the port is not the scheme's default: what the key holds.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// The query as the key and the origin request carry it: the pieces `rule` keeps, sorted
    /// by name (stably, so repeated names keep their order), joined by `&`.
    pub fn query_for(&self, rule: &QueryRule) -> String {
        let mut kept: Vec<&QueryPiece> = self.query.iter().filter(|p| p.kept_by(rule)).collect();
        kept.sort_by(|a, b| a.name().cmp(b.name()));
        let mut query = String::new();
        for piece in kept {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&piece.text);
        }
        query
    }

    /// The other paths an origin could read this one as (the canonical path left out):
    /// with `%2F`, `%5C` (and, for origins that decode twice, `%25`) decoded into
    /// separators and everything else decoded, `;parameters` dropped, empty segments
    /// merged, dot segments resolved again, and lower-cased. Empty for an ordinary path.
    pub fn readings(&self) -> Vec<String> {
        let path = &self.path;
        let odd = path.contains(['%', ';'])
            || path.contains("//")
            || path.split('/').any(has_windows_tail);
        let upper = path.bytes().any(|b| b.is_ascii_uppercase());
        if !odd && !upper {
            return Vec::new();
        }
        let mut readings: Vec<String> = Vec::new();
        let mut add = |candidate: String| {
            if candidate != *path && !readings.contains(&candidate) {
                readings.push(candidate);
            }
        };
        if !odd {
            add(path.to_ascii_lowercase());
            return readings;
        }
        let once = percent_decode_lossy(path);
        let twice = percent_decode_lossy(&once);
        for decoded in [path.clone(), once, twice] {
            let decoded = decoded.replace('\\', "/");
            for strip in [false, true] {
                let stripped = if strip {
                    strip_segments(&decoded)
                } else {
                    decoded.clone()
                };
                for merge in [false, true] {
                    let merged = if merge {
                        merge_slashes(&stripped)
                    } else {
                        stripped.clone()
                    };
                    let resolved = remove_dot_segments(&merged);
                    add(resolved.to_ascii_lowercase());
                    add(resolved);
                }
            }
        }
        readings
    }
}

/// `url`'s host as `Target` holds it: lower-case, without a trailing dot. What the control
/// plane's per-host stats and a location's shared registry copy are named by.
pub fn canonical_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// A purge prefix in the form keys hold: a URL prefix (`https://Example.com./%7Eblog/`) with
/// its host and path canonical (`https://example.com/~blog/`), or a path prefix on any host
/// (`/blog/`) with its path canonical. Dot segments are left alone: a prefix is not a path.
pub fn canonical_prefix(prefix: &str, case_insensitive_paths: bool) -> String {
    let path = |path: &str| {
        let path = normalize_percent(path);
        if case_insensitive_paths {
            lowercase_outside_escapes(&path)
        } else {
            path
        }
    };
    if prefix.starts_with('/') {
        return path(prefix);
    }
    let Ok(url) = Url::parse(prefix) else {
        return prefix.to_string();
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let mut canonical = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        canonical.push_str(&format!(":{port}"));
    }
    // The URL parser gives `/` for a prefix without a path: `https://example.com` covers
    // the whole host, as `https://example.com/` does.
    canonical.push_str(&path(url.path()));
    if let Some(query) = url.query() {
        canonical.push('?');
        canonical.push_str(&normalize_percent(query));
    }
    canonical
}

/// An origin could read the path otherwise: an encoded separator or percent sign, a
/// `;parameter`, or an empty segment.
fn is_ambiguous(path: &str) -> bool {
    path.contains("%2F")
        || path.contains("%5C")
        || path.contains("%25")
        || path.contains("%00")
        || path.contains(';')
        || path.contains("//")
        || path.split('/').any(has_windows_tail)
}

/// A segment Windows servers read without its trailing dots and spaces (`api.` is `api`).
fn has_windows_tail(segment: &str) -> bool {
    let dots_only = segment.bytes().all(|b| b == b'.');
    !dots_only && (segment.ends_with('.') || segment.ends_with("%20"))
}

/// RFC 3986 §2.3 unreserved characters.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|d| d as u8)
}

/// RFC 3986 §6.2.2.1–2: percent-encoded unreserved characters decoded, other encodings with
/// upper-case hex; a `%` not followed by two hex digits is a literal one, `%25` (else
/// `%%33` would read `%3` after one pass and `3` after two).
pub fn normalize_percent(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' && at + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex_value(bytes[at + 1]), hex_value(bytes[at + 2])) {
                let byte = high * 16 + low;
                if is_unreserved(byte) {
                    out.push(char::from(byte));
                } else {
                    out.push('%');
                    out.push(char::from(bytes[at + 1]).to_ascii_uppercase());
                    out.push(char::from(bytes[at + 2]).to_ascii_uppercase());
                }
                at += 3;
                continue;
            }
        }
        if bytes[at] == b'%' {
            out.push_str("%25");
            at += 1;
            continue;
        }
        // Copy one character (the text is UTF-8; only ASCII is ever changed).
        let len = utf8_len(bytes[at]);
        out.push_str(&text[at..at + len]);
        at += len;
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Every percent-encoding decoded, as an origin that decodes before matching would; bytes
/// that are not UTF-8 become U+FFFD (route patterns are ASCII, so matching is unaffected).
fn percent_decode_lossy(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' && at + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex_value(bytes[at + 1]), hex_value(bytes[at + 2])) {
                out.push(high * 16 + low);
                at += 3;
                continue;
            }
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// ASCII letters lower-cased, except inside `%XX` escapes (whose hex stays upper-case).
fn lowercase_outside_escapes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut escape = 0;
    for c in path.chars() {
        if escape > 0 {
            escape -= 1;
            out.push(c);
        } else if c == '%' {
            escape = 2;
            out.push(c);
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The path as servers that trim it read it: cut at a NUL (C-string handlers), and each
/// segment without its `;parameters` (servlet containers: `/a;x=1/b;.css` is `/a/b`) and its
/// trailing dots and spaces (Windows: `/api./me ` is `/api/me`).
fn strip_segments(path: &str) -> String {
    let path = path.split('\0').next().unwrap_or_default();
    path.split('/')
        .map(|segment| {
            let segment = segment.split(';').next().unwrap_or_default();
            if segment.bytes().all(|b| b == b'.') {
                segment
            } else {
                segment.trim_end_matches(['.', ' '])
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Runs of `/` as one, as `merge_slashes` in nginx and many frameworks do.
fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// RFC 3986 §5.2.4 remove_dot_segments, for an absolute path.
pub fn remove_dot_segments(path: &str) -> String {
    if !path.contains('.') {
        return path.to_string();
    }
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    // The first segment is the empty one before the leading `/`.
    for (index, segment) in segments.iter().enumerate().skip(1) {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    output.pop();
                }
                // A trailing dot segment leaves a trailing slash: `/a/b/..` is `/a/`.
                if index == last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &output {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests;
