//! Edge Side Includes (ESI 1.0, the subset edge caches use): a page's template is split into
//! literal text and `<esi:include>` directives, so the edge can cache the page shell and its
//! fragments apart and assemble them per request, like Django's `{% cache %}` fragments.
//!
//! Supported: `<esi:include src alt onerror/>`, `<esi:remove>…</esi:remove>` (content shown
//! only when ESI is not processed), `<esi:comment/>` and `<!--esi … -->` (the markers go, the
//! content stays and is processed). Two attributes are edgecache's own: `vary-cookies` and
//! `vary-headers` name request cookies and headers that the fragment's key carries (and that
//! alone are sent with the fragment's request), so a per-user fragment can never be served to
//! another user. Anything else, including other `esi:` elements, passes through as text.
//!
//! The scanner works on bytes: templates need not be UTF-8, and ESI markup is ASCII.

use crate::policy::Fields;

/// One piece of a template, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A byte range of the template, copied as is.
    Text(std::ops::Range<usize>),
    Include(Include),
    /// A directive that cannot be processed (no `src`, unterminated, …): it produces nothing,
    /// and the reason is reported.
    Invalid(String),
}

/// An `<esi:include>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub src: String,
    /// Tried when `src` fails (ESI 1.0 §3.1).
    pub alt: Option<String>,
    /// `onerror="continue"`: a failed include produces nothing instead of failing the page.
    pub continue_on_error: bool,
    /// Cookie names whose values join the fragment's key.
    pub vary_cookies: Vec<String>,
    /// Request header names (lowercase) whose values join the fragment's key.
    pub vary_headers: Vec<String>,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    pub fn includes(&self) -> impl Iterator<Item = &Include> {
        self.parts.iter().filter_map(|p| match p {
            Part::Include(include) => Some(include),
            _ => None,
        })
    }
}

/// `Surrogate-Control: content="ESI/1.0"` (Edge Architecture Specification §2.2): the origin
/// asks for this response to be processed.
pub fn requested_by(fields: &(impl Fields + ?Sized)) -> bool {
    fields.field("surrogate-control").is_some_and(|value| {
        value.split(',').any(|directive| {
            let directive = directive.trim();
            directive
                .split_once('=')
                .filter(|(name, _)| name.trim().eq_ignore_ascii_case("content"))
                .is_some_and(|(_, v)| {
                    v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|c| c.eq_ignore_ascii_case("ESI/1.0"))
                })
        })
    })
}

/// A route with `esi = true` processes textual responses only: a binary body that happens to
/// contain `<esi:` must not be rewritten.
pub fn is_textual(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/") || essence == "application/xhtml+xml"
}

/// Fields of the shell that stop being true once fragments are put into its body.
pub const SHELL_ONLY_FIELDS: &[&str] = &[
    "etag",
    "last-modified",
    "content-length",
    "content-md5",
    "digest",
    "content-digest",
    "repr-digest",
    "accept-ranges",
];

pub fn parse(template: &[u8]) -> Template {
    let mut parts = Vec::new();
    scan(template, 0, template.len(), &mut parts);
    parts.retain(|part| !matches!(part, Part::Text(range) if range.is_empty()));
    Template { parts }
}

const INCLUDE: &[u8] = b"<esi:include";
const REMOVE_OPEN: &[u8] = b"<esi:remove>";
const REMOVE_CLOSE: &[u8] = b"</esi:remove>";
const COMMENT: &[u8] = b"<esi:comment";
const CODE_OPEN: &[u8] = b"<!--esi";
const CODE_CLOSE: &[u8] = b"-->";
const INCLUDE_CLOSE: &[u8] = b"</esi:include>";

/// Scans `doc[start..end]`, appending its parts. `<!--esi … -->` recurses once per block; a
/// block never nests (its end is the first `-->`), so the depth is bounded.
fn scan(doc: &[u8], start: usize, end: usize, parts: &mut Vec<Part>) {
    let mut text_from = start;
    let mut at = start;
    while let Some(found) = find(&doc[..end], b"<", at) {
        let rest = &doc[found..end];
        let directive = if rest.starts_with(INCLUDE) && is_tag_boundary(rest, INCLUDE.len()) {
            Some(include_directive(doc, found, end))
        } else if rest.starts_with(REMOVE_OPEN) {
            Some(match find(&doc[..end], REMOVE_CLOSE, found) {
                Some(close) => (None, close + REMOVE_CLOSE.len()),
                None => (Some(invalid("<esi:remove> is not closed")), end),
            })
        } else if rest.starts_with(COMMENT) && is_tag_boundary(rest, COMMENT.len()) {
            Some(match find(&doc[..end], b">", found) {
                Some(close) => (None, close + 1),
                None => (Some(invalid("<esi:comment> is not closed")), end),
            })
        } else if rest.starts_with(CODE_OPEN) && is_code_boundary(rest) {
            parts.push(Part::Text(text_from..found));
            let inner_start = found + CODE_OPEN.len();
            match find(&doc[..end], CODE_CLOSE, inner_start) {
                Some(close) => {
                    scan(doc, inner_start, close, parts);
                    at = close + CODE_CLOSE.len();
                }
                None => {
                    parts.push(invalid("<!--esi is not closed by -->"));
                    at = end;
                }
            }
            text_from = at;
            continue;
        } else {
            None
        };
        match directive {
            Some((part, next)) => {
                parts.push(Part::Text(text_from..found));
                parts.extend(part);
                text_from = next;
                at = next;
            }
            None => at = found + 1,
        }
    }
    parts.push(Part::Text(text_from..end));
}

fn invalid(reason: &str) -> Part {
    Part::Invalid(reason.to_string())
}

/// `<esi:include` must be followed by whitespace, `/` or `>`: `<esi:includes>` is not one.
fn is_tag_boundary(rest: &[u8], len: usize) -> bool {
    rest.get(len)
        .is_some_and(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
}

fn is_code_boundary(rest: &[u8]) -> bool {
    rest.get(CODE_OPEN.len())
        .is_some_and(|&b| b.is_ascii_whitespace() || b == b'<' || b == b'-')
}

/// Parses the include tag at `start`; returns the part and where scanning resumes.
fn include_directive(doc: &[u8], start: usize, end: usize) -> (Option<Part>, usize) {
    let Some(close) = tag_end(doc, start + INCLUDE.len(), end) else {
        return (Some(invalid("<esi:include> is not closed")), end);
    };
    let self_closing = close > start && doc[close - 1] == b'/';
    let attrs_end = if self_closing { close - 1 } else { close };
    let mut next = close + 1;
    if !self_closing {
        // `<esi:include …></esi:include>`: the closing tag goes too.
        let after = skip_whitespace(doc, next, end);
        if doc[after..end].starts_with(INCLUDE_CLOSE) {
            next = after + INCLUDE_CLOSE.len();
        }
    }
    let attributes = match attributes(&doc[start + INCLUDE.len()..attrs_end]) {
        Ok(attributes) => attributes,
        Err(reason) => return (Some(Part::Invalid(reason)), next),
    };
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let Some(src) = get("src").filter(|s| !s.trim().is_empty()) else {
        return (Some(invalid("<esi:include> has no src")), next);
    };
    let names = |value: Option<String>| -> Vec<String> {
        let mut names: Vec<String> = value
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        names.dedup();
        names
    };
    let include = Include {
        src: src.trim().to_string(),
        alt: get("alt").filter(|s| !s.trim().is_empty()),
        continue_on_error: get("onerror").is_some_and(|v| v.eq_ignore_ascii_case("continue")),
        vary_cookies: names(get("vary-cookies")),
        vary_headers: names(get("vary-headers"))
            .into_iter()
            .map(|n| n.to_ascii_lowercase())
            .collect(),
    };
    (Some(Part::Include(include)), next)
}

/// The `>` closing a tag, skipping any inside quoted attribute values.
fn tag_end(doc: &[u8], from: usize, end: usize) -> Option<usize> {
    let mut quote = None;
    for (offset, &b) in doc[from..end].iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Some(from + offset),
            _ => {}
        }
    }
    None
}

fn skip_whitespace(doc: &[u8], mut at: usize, end: usize) -> usize {
    while at < end && doc[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

/// `name="value"` pairs (single or double quotes; XML entities decoded).
fn attributes(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = String::from_utf8_lossy(raw);
    let mut rest = text.trim_start();
    let mut attributes = Vec::new();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let Some(after_eq) = rest.strip_prefix('=') else {
            return Err(format!("<esi:include> attribute {name:?} has no value"));
        };
        let after_eq = after_eq.trim_start();
        let quote = after_eq.chars().next().filter(|c| *c == '"' || *c == '\'');
        let Some(quote) = quote else {
            return Err(format!("<esi:include> attribute {name:?} is not quoted"));
        };
        let body = &after_eq[1..];
        let Some(close) = body.find(quote) else {
            return Err(format!("<esi:include> attribute {name:?} is not closed"));
        };
        attributes.push((name.to_string(), decode_entities(&body[..close])));
        rest = body[close + 1..].trim_start();
    }
    Ok(attributes)
}

fn decode_entities(value: &str) -> String {
    value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// One fragment's line in the page's `Edgecache-Fragments` field: an RFC 8941 list of the
/// fragments' paths, each with the `Cache-Status` parameters of its own lookup.
pub fn fragment_member(src: &str, params: &str) -> String {
    let quoted: String = src
        .chars()
        .filter(|c| (' '..='~').contains(c))
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    if params.is_empty() {
        format!("\"{quoted}\"")
    } else {
        format!("\"{quoted}\"; {params}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(doc: &str) -> Vec<String> {
        let template = parse(doc.as_bytes());
        template
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(r) => format!("T:{}", &doc[r.clone()]),
                Part::Include(i) => format!("I:{}", i.src),
                Part::Invalid(reason) => format!("X:{reason}"),
            })
            .collect()
    }

    #[test]
    fn a_page_without_esi_is_one_text() {
        assert_eq!(
            texts("<p>hello <b>world</b></p>"),
            ["T:<p>hello <b>world</b></p>"]
        );
        assert!(parse(b"").parts.is_empty());
    }

    #[test]
    fn includes_split_the_text() {
        assert_eq!(
            texts(
                r#"<nav><esi:include src="/nav"/></nav><main><esi:include src='/user' /></main>"#
            ),
            [
                "T:<nav>",
                "I:/nav",
                "T:</nav><main>",
                "I:/user",
                "T:</main>"
            ]
        );
    }

    #[test]
    fn include_attributes_are_read() {
        let template = parse(
            br#"<esi:include src="/a?x=1&amp;y=2" alt="/b" onerror="continue" vary-cookies="sessionid, lang" vary-headers="Accept-Language"></esi:include>after"#,
        );
        assert_eq!(
            template.parts[0],
            Part::Include(Include {
                src: "/a?x=1&y=2".into(),
                alt: Some("/b".into()),
                continue_on_error: true,
                vary_cookies: vec!["sessionid".into(), "lang".into()],
                vary_headers: vec!["accept-language".into()],
            })
        );
        assert_eq!(template.parts.len(), 2, "the closing tag is consumed");
    }

    #[test]
    fn remove_comment_and_code_blocks() {
        assert_eq!(
            texts("a<esi:remove><a href=/nav>nav</a></esi:remove>b<esi:comment text=\"x\"/>c"),
            ["T:a", "T:b", "T:c"]
        );
        assert_eq!(
            texts("a<!--esi <esi:include src=\"/x\"/> inner -->b"),
            ["T:a", "T: ", "I:/x", "T: inner ", "T:b"]
        );
    }

    #[test]
    fn ordinary_comments_and_lookalikes_are_text() {
        let doc = "<!-- esi --><!--esiX--><esi:includes src=\"/x\"/><esi:choose></esi:choose>";
        assert_eq!(texts(doc), [format!("T:{doc}")]);
    }

    #[test]
    fn broken_directives_are_reported_not_guessed() {
        assert_eq!(
            texts("a<esi:include src=\"/x\""),
            ["T:a", "X:<esi:include> is not closed"]
        );
        assert_eq!(
            texts("a<esi:include/>b"),
            ["T:a", "X:<esi:include> has no src", "T:b"]
        );
        assert_eq!(
            texts("a<esi:include src=/x />b"),
            [
                "T:a",
                "X:<esi:include> attribute \"src\" is not quoted",
                "T:b"
            ]
        );
        assert_eq!(
            texts("a<esi:remove>b"),
            ["T:a", "X:<esi:remove> is not closed"]
        );
        assert_eq!(
            texts("a<!--esi b"),
            ["T:a", "X:<!--esi is not closed by -->"]
        );
    }

    #[test]
    fn a_quoted_greater_than_does_not_end_the_tag() {
        assert_eq!(texts("<esi:include src=\"/x?a=>\"/>!"), ["I:/x?a=>", "T:!"]);
    }

    #[test]
    fn non_utf8_text_passes_through_by_range() {
        let doc = b"\xff\xfe<esi:include src=\"/x\"/>\xc3";
        let template = parse(doc);
        assert_eq!(template.parts[0], Part::Text(0..2));
        assert_eq!(template.parts[2], Part::Text(doc.len() - 1..doc.len()));
    }

    #[test]
    fn surrogate_control_content_enables_processing() {
        let fields = |v: &str| vec![("surrogate-control".to_string(), v.to_string())];
        assert!(requested_by(&fields(r#"content="ESI/1.0""#)));
        assert!(requested_by(&fields(
            r#"max-age=60, content="ESI/1.0 ESI-Inline/1.0""#
        )));
        assert!(!requested_by(&fields("max-age=60")));
        assert!(!requested_by(&fields(r#"content="other/1.0""#)));
        assert!(!requested_by(&Vec::<(String, String)>::new()));
    }

    #[test]
    fn only_text_is_processed_by_route() {
        assert!(is_textual(Some("text/html; charset=utf-8")));
        assert!(is_textual(Some("application/xhtml+xml")));
        assert!(!is_textual(Some("image/png")));
        assert!(!is_textual(None));
    }

    #[test]
    fn fragment_members_are_structured_field_strings() {
        assert_eq!(fragment_member("/a\"b", "hit"), "\"/a\\\"b\"; hit");
        assert_eq!(fragment_member("/x\r\n", ""), "\"/x\"");
    }
}
