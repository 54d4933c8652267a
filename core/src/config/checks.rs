//! Checks of single fields: durations and sizes, names, header tokens, tags, the key prefix,
//! the Workers Cache site, and the backends with their limits.

use super::Backend;
use crate::request::glob::GlobError;

/// `workers_cache`: the site Workers Cache serves, an http(s) URL without a path, in the form
/// keys hold its scheme and host (`https://example.com`, a port only when it is not the
/// scheme's default). Workers Cache keys on the path and query alone, so it is given one
/// site's answers.
pub(super) fn workers_cache_site(text: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "{text:?} must be the URL of the site Workers Cache serves, with no path, e.g. \"https://example.com\""
        )
    };
    let url = url::Url::parse(text).map_err(|_| bad())?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !plain {
        return Err(bad());
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    Ok(crate::workers_cache::site_of(url.scheme(), &authority))
}

/// Header names, lowercase: RFC 9110 tokens.
pub(super) fn header_names(names: Vec<String>) -> Result<Vec<String>, String> {
    names
        .into_iter()
        .map(|name| check_token(&name).map(|()| name.to_ascii_lowercase()))
        .collect()
}

pub(super) fn non_negative(value: Option<i64>, default: u64) -> Result<u64, String> {
    match value {
        None => Ok(default),
        Some(v) if v < 0 => Err(format!("{v} is negative")),
        Some(v) => Ok(v as u64),
    }
}

/// RFC 9111 §1.2.2 caps delta-seconds at 2^31: a longer duration is a mistake, and would
/// overflow the arithmetic of ages.
pub(super) const MAX_SECONDS: u64 = 1 << 31;

/// A duration in seconds: not negative, at most `MAX_SECONDS`.
pub(super) fn seconds(value: Option<i64>, default: u64) -> Result<u64, String> {
    let seconds = non_negative(value, default)?;
    if seconds > MAX_SECONDS {
        return Err(format!("{seconds} s is more than 2^31 s (68 years)"));
    }
    Ok(seconds)
}

/// `ttl` against the shortest keep time each of `backends` accepts (Workers KV: 60 s).
pub(super) fn check_ttl(backends: &[Backend], ttl: u64) -> Result<(), String> {
    for backend in backends {
        let d = backend.describe();
        if ttl < d.min_ttl_secs {
            return Err(format!(
                "{ttl} s is below {}'s {} s minimum TTL on a route that uses {}",
                d.title, d.min_ttl_secs, d.name
            ));
        }
    }
    Ok(())
}

/// `default_ttl` 0 stores no guessed lifetime at all, so no backend's minimum applies to it.
pub(super) fn check_default_ttl(backends: &[Backend], ttl: u64) -> Result<(), String> {
    match ttl {
        0 => Ok(()),
        ttl => check_ttl(backends, ttl),
    }
}

/// `max_body_bytes` against the largest value each of `backends` accepts (Workers KV:
/// 25 MiB; R2 takes more).
pub(super) fn check_body(backends: &[Backend], max_body_bytes: u64) -> Result<(), String> {
    for backend in backends {
        let d = backend.describe();
        if let Some(limit) = d.max_value_bytes.filter(|&limit| max_body_bytes > limit) {
            return Err(format!(
                "max_body_bytes {max_body_bytes} exceeds {}'s {limit}-byte value limit",
                d.title
            ));
        }
    }
    Ok(())
}

/// `backends = "kv"` and `backends = ["memory", "kv"]` are both accepted.
pub(super) fn parse_backends(names: Vec<String>) -> Result<Vec<Backend>, String> {
    if names.is_empty() {
        return Err(format!("must name at least one of {}", Backend::names()));
    }
    let mut backends = Vec::with_capacity(names.len());
    for name in names {
        let Some(backend) = Backend::from_name(&name) else {
            let known: Vec<&str> = Backend::ALL.iter().map(|b| b.as_str()).collect();
            return Err(match super::suggest::nearest(&name, &known) {
                Some(meant) => format!(
                    "unknown backend {name:?}; did you mean \"{meant}\"? (expected {})",
                    Backend::names()
                ),
                None => format!("unknown backend {name:?} (expected {})", Backend::names()),
            });
        };
        if backends.contains(&backend) {
            return Err(format!("backend {name:?} is listed twice"));
        }
        backends.push(backend);
    }
    Ok(backends)
}

/// The prefix is rendered into keys before a `:`; control characters would make keys
/// unreadable in KV listings and a `:` would make two prefixes ambiguous.
pub(super) fn check_key_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > 64 {
        return Err("is longer than 64 bytes".into());
    }
    if let Some(c) = prefix.chars().find(|c| c.is_control() || *c == ':') {
        return Err(format!("contains {c:?}, which keys cannot carry"));
    }
    Ok(())
}

pub(super) fn check_names(names: Vec<String>) -> Result<Vec<String>, String> {
    for name in &names {
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_control() || c == '=' || c == '&' || c == ';')
        {
            return Err(format!("{name:?} is not a valid name"));
        }
    }
    Ok(names)
}

/// `bypass_cookies`: cookie names (no `=`, `;`, `,`, spaces or control characters), kept in
/// the form requests' cookie names are compared in.
pub(super) fn bypass_cookie_names(names: Vec<String>) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let bad = name.is_empty()
            || name
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '=' | ';' | ','));
        if bad {
            return Err(format!("{name:?} is not a cookie name"));
        }
        let form = crate::request::bypass_cookie::cookie_name_form(&name);
        if !out.contains(&form) {
            out.push(form);
        }
    }
    Ok(out)
}

/// A header field name is an RFC 9110 token.
pub(super) fn check_token(name: &str) -> Result<(), String> {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_tchar) {
        return Err(format!("{name:?} is not a header name"));
    }
    Ok(())
}

/// Tags travel in `Cache-Tag` headers and purge requests: printable ASCII, no commas or spaces.
pub fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() || tag.len() > 1024 {
        return Err(format!("tag {tag:?} must be 1 to 1024 bytes"));
    }
    if !tag.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(format!(
            "tag {tag:?} must be printable ASCII without spaces or commas"
        ));
    }
    Ok(())
}

pub(super) fn glob_reason(pattern: &str, error: GlobError) -> String {
    format!("{pattern:?}: {error}")
}
