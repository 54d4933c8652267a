//! Glob patterns, checked once at start-up: in a path, `*` matches within one segment (no
//! `/`) and `**` matches across segments; a `/**` that is a whole segment also matches no
//! segment at all, so `/admin/**` matches `/admin` itself and `/a/**/b` matches `/a/b`, as in
//! `.gitignore`; in a host, `*.` matches any subdomains; in a query parameter name, `*`
//! matches anything.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobError {
    MissingSlash,
    TripleStar,
    TooManyFolders,
    Forbidden(char),
    BadHost,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlobError::MissingSlash => write!(f, "must start with '/'"),
            GlobError::TripleStar => write!(f, "has more than two '*' in a row"),
            GlobError::TooManyFolders => {
                write!(f, "has more than {MAX_FOLDER_STARS} '/**' segments")
            }
            GlobError::Forbidden(c) => write!(f, "cannot contain {c:?}"),
            GlobError::BadHost => {
                write!(f, "must be a host name, optionally starting with '*.'")
            }
        }
    }
}

/// A path glob such as `/static/**` or `/blog/*/comments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    pattern: String,
    /// The pattern with some of its whole-segment `/**` left out, each way: `/admin/**` also
    /// matches `/admin` (`/admin/` it matches as it is).
    folded: Vec<String>,
}

/// Whole-segment `/**` a path pattern may hold; each doubles the patterns a path is tried
/// against.
pub const MAX_FOLDER_STARS: usize = 4;

/// Where `pattern` holds a `/**` that is a whole segment (followed by `/` or the end).
fn folder_stars(pattern: &str) -> Vec<usize> {
    let bytes = pattern.as_bytes();
    (0..bytes.len())
        .filter(|&i| {
            bytes[i..].starts_with(b"/**") && matches!(bytes.get(i + 3), None | Some(b'/'))
        })
        .collect()
}

impl PathPattern {
    pub fn parse(pattern: &str) -> Result<PathPattern, GlobError> {
        if !pattern.starts_with('/') {
            return Err(GlobError::MissingSlash);
        }
        if pattern.contains("***") {
            return Err(GlobError::TripleStar);
        }
        if let Some(c) = pattern
            .chars()
            .find(|c| matches!(c, '?' | '#' | ' ') || c.is_control())
        {
            return Err(GlobError::Forbidden(c));
        }
        let stars = folder_stars(pattern);
        if stars.len() > MAX_FOLDER_STARS {
            return Err(GlobError::TooManyFolders);
        }
        // Every non-empty subset of the `/**` left out, as a mask over `stars`.
        let folded = (1..1usize << stars.len())
            .map(|mask| {
                let mut text = String::with_capacity(pattern.len());
                let mut from = 0;
                for (bit, &at) in stars.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        text.push_str(&pattern[from..at]);
                        from = at + 3;
                    }
                }
                text.push_str(&pattern[from..]);
                // `/**` alone folds to nothing, which no path is.
                if text.is_empty() {
                    text.push('/');
                }
                text
            })
            .collect();
        Ok(PathPattern {
            pattern: pattern.to_string(),
            folded,
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        std::iter::once(&self.pattern)
            .chain(&self.folded)
            .any(|p| glob_match(p.as_bytes(), path.as_bytes(), Some(b'/')))
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

/// A host name, exact (`example.com`) or with a wildcard for subdomains (`*.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<HostPattern, GlobError> {
        let lower = pattern.to_ascii_lowercase();
        let name = lower.strip_prefix("*.").unwrap_or(&lower);
        let valid = !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']')
            });
        if !valid {
            return Err(GlobError::BadHost);
        }
        Ok(HostPattern(lower))
    }

    /// As written, lower-cased (`*.example.com`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `host` is the URL's host as the runtime gives it: already lowercase and punycoded.
    pub fn matches(&self, host: &str) -> bool {
        match self.0.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1 && host.ends_with(suffix) && {
                    host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
            }
            None => self.0 == host,
        }
    }
}

/// Matches `text` against a glob in which `*` stops at `separator` and `**` does not.
///
/// Iterative, remembering the last `*` and the last `**` to backtrack to: a `*` can only be
/// widened up to the next separator, after which the `**` before it is widened instead. That
/// keeps hostile paths to O(pattern × text) rather than exponential.
pub fn glob_match(pattern: &[u8], text: &[u8], separator: Option<u8>) -> bool {
    let (mut p, mut t) = (0, 0);
    // Each backtrack point: (pattern index after the star, text index the star has eaten to).
    let mut single: Option<(usize, usize)> = None;
    let mut double: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            let is_double = pattern.get(p + 1) == Some(&b'*') || separator.is_none();
            p += if pattern.get(p + 1) == Some(&b'*') {
                2
            } else {
                1
            };
            if is_double {
                double = Some((p, t));
                single = None;
            } else {
                single = Some((p, t));
            }
            continue;
        }
        if pattern.get(p) == Some(&text[t]) {
            p += 1;
            t += 1;
            continue;
        }
        if let Some((after, eaten)) = single {
            if Some(text[eaten]) != separator {
                single = Some((after, eaten + 1));
                (p, t) = (after, eaten + 1);
                continue;
            }
        }
        if let Some((after, eaten)) = double {
            double = Some((after, eaten + 1));
            single = None;
            (p, t) = (after, eaten + 1);
            continue;
        }
        return false;
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Whether `name` matches one of `globs` (`utm_*`), as query rules match parameter names.
pub fn matches_any(globs: &[String], name: &str) -> bool {
    globs
        .iter()
        .any(|glob| glob_match(glob.as_bytes(), name.as_bytes(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> PathPattern {
        PathPattern::parse(p).unwrap()
    }

    #[test]
    fn exact_paths_match_only_themselves() {
        assert!(path("/about").matches("/about"));
        assert!(!path("/about").matches("/about/"));
        assert!(!path("/about").matches("/aboutus"));
    }

    #[test]
    fn a_single_star_stays_within_one_segment() {
        assert!(path("/blog/*").matches("/blog/post"));
        assert!(path("/blog/*").matches("/blog/"));
        assert!(!path("/blog/*").matches("/blog/2024/post"));
        assert!(path("/*.css").matches("/site.css"));
        assert!(!path("/*.css").matches("/account/settings/x.css"));
        assert!(path("/blog/*/comments").matches("/blog/a/comments"));
    }

    #[test]
    fn a_double_star_widens_when_a_later_single_star_cannot() {
        assert!(path("/**/b/*").matches("/a/b/c/b/d"));
        assert!(!path("/**/b/*").matches("/a/b/c/d"));
        assert!(path("/**/*.css").matches("/a/b/c.css"));
    }

    #[test]
    fn a_double_star_crosses_segments() {
        assert!(path("/static/**").matches("/static/a/b/c.js"));
        assert!(path("/static/**").matches("/static/"));
        assert!(!path("/static/**").matches("/statics/x"));
        assert!(path("/**").matches("/anything/at/all"));
        assert!(path("/**.css").matches("/account/settings/x.css"));
    }

    #[test]
    fn a_whole_segment_double_star_also_matches_no_segment() {
        for (pattern, path_, expected) in [
            ("/admin/**", "/admin", true),
            ("/admin/**", "/admin/", true),
            ("/admin/**", "/admin/users/1", true),
            ("/admin/**", "/adminx", false),
            ("/admin/**", "/admi", false),
            ("/admin/**", "/", false),
            ("/a/**/b", "/a/b", true),
            ("/a/**/b", "/a/x/y/b", true),
            ("/a/**/b", "/ab", false),
            ("/**/*.css", "/x.css", true),
            ("/**/*.css", "/a/b/x.css", true),
            ("/a/**/b/**", "/a/b", true),
            ("/a/**/b/**", "/a/x/b/y", true),
            ("/**", "/", true),
            ("/**", "/x", true),
            ("/admin**", "/admin", true),
            ("/admin**", "/adminx/y", true),
            ("/admin/*", "/admin", false),
            ("/x/**.css", "/x", false),
        ] {
            assert_eq!(
                path(pattern).matches(path_),
                expected,
                "{pattern} on {path_}"
            );
        }
    }

    #[test]
    fn too_many_folder_stars_are_refused() {
        assert!(PathPattern::parse("/a/**/b/**/c/**/d/**").is_ok());
        assert_eq!(
            PathPattern::parse("/a/**/b/**/c/**/d/**/e/**"),
            Err(GlobError::TooManyFolders)
        );
    }

    #[test]
    fn encoded_slashes_are_not_segment_separators_but_do_not_match_literal_slashes() {
        assert!(!path("/a/b").matches("/a%2Fb"));
    }

    #[test]
    fn hostile_paths_match_in_linear_time() {
        let pattern = path("/*a*a*a*a*a*a*a*b");
        let text = format!("/{}", "a".repeat(10_000));
        assert!(!pattern.matches(&text));
    }

    #[test]
    fn host_patterns_match_exactly_or_subdomains() {
        let exact = HostPattern::parse("Example.com").unwrap();
        assert!(exact.matches("example.com"));
        assert!(!exact.matches("www.example.com"));
        let wild = HostPattern::parse("*.example.com").unwrap();
        assert!(wild.matches("www.example.com"));
        assert!(wild.matches("a.b.example.com"));
        assert!(!wild.matches("example.com"));
        assert!(!wild.matches("badexample.com"));
        assert!(HostPattern::parse("exa mple.com").is_err());
        assert!(HostPattern::parse("*.").is_err());
    }

    #[test]
    fn globs_without_separator_cross_everything() {
        assert!(glob_match(b"utm_*", b"utm_source", None));
        assert!(!glob_match(b"utm_*", b"xutm_source", None));
        assert!(glob_match(b"*", b"", None));
    }
}
