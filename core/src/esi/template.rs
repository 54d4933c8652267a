//! Edge Side Includes (ESI 1.0, the subset edge caches use): a page's template is split into
//! literal text and `<esi:include>` directives, so the edge can cache the page shell and its
//! fragments apart and assemble them per request, like Django's `{% cache %}` fragments.
//!
//! Supported: `<esi:include src alt onerror/>`, `<esi:remove>…</esi:remove>` (content shown
//! only when ESI is not processed), `<esi:comment/>` and `<!--esi … -->` (the markers go, the
//! content stays and is processed). Two attributes are edgecache's own: `vary-cookies` and
//! `vary-headers` narrow the cookies and headers the fragment's route configuration grants it
//! (`grant`); markup never widens them. Anything else, including other `esi:` elements,
//! passes through as text.
//!
//! Broken markup never takes page content with it: a directive that is not closed (or whose
//! tag is cut by a `<`, which XML forbids in attribute values) is kept as literal text, and
//! scanning goes on right after its opening marker, so the rest of the page is processed as
//! if the broken marker were not there; an unclosed `<!--esi` loses only its marker, its
//! content is kept as a closed block's would be. Each case is reported (`Part::Malformed`).
//!
//! ESI is not HTML-aware, like every ESI processor: directives inside an HTML comment, a
//! `<script>` or a `<style>` are processed too. What an include can reach and carry is
//! bounded by configuration (`grant`), not by where it stands.
//!
//! The scanner works on bytes: templates need not be UTF-8, and ESI markup is ASCII.

use std::cell::Cell;

use crate::http::{media_type, Fields};

/// One piece of a template, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A byte range of the template, copied as is.
    Text(std::ops::Range<usize>),
    Include(Include),
    /// A closed `<esi:include>` that cannot be processed (no `src`, a bad attribute): it
    /// produces nothing, and the reason is reported.
    Invalid(String),
    /// Broken markup at byte `at` (a directive not closed, a stray closing tag): the bytes stay
    /// in the surrounding `Text` (all but an unclosed `<!--esi` marker), and the reason is
    /// reported.
    Malformed {
        at: usize,
        reason: String,
    },
}

/// An `<esi:include>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub src: String,
    /// Tried when `src` fails (ESI 1.0 §3.1).
    pub alt: Option<String>,
    /// `onerror="continue"`: a failed include produces nothing instead of failing the page.
    pub continue_on_error: bool,
    /// `vary-cookies`: the only cookies, of those configuration grants the fragment, that
    /// its request carries. `None` without the attribute: all of them.
    pub vary_cookies: Option<Vec<String>>,
    /// `vary-headers` (lowercase), likewise for request headers.
    pub vary_headers: Option<Vec<String>>,
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
    let essence = media_type(content_type);
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

/// The includes one client request may make, shared by its page and every fragment in it at
/// every depth (`esi_max_includes`): the page's includes, theirs, and so on, together. An
/// `alt` tried after its `src` failed takes one more, as it costs a request of its own.
#[derive(Debug)]
pub struct IncludeBudget {
    limit: u64,
    used: Cell<u64>,
}

impl IncludeBudget {
    pub fn new(limit: u64) -> IncludeBudget {
        IncludeBudget {
            limit,
            used: Cell::new(0),
        }
    }

    /// Takes one include: `false`, and nothing taken, once the budget is spent.
    pub fn take(&self) -> bool {
        let used = self.used.get();
        if used >= self.limit {
            return false;
        }
        self.used.set(used + 1);
        true
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn used(&self) -> u64 {
        self.used.get()
    }
}

pub fn parse(template: &[u8]) -> Template {
    let mut parts = Vec::new();
    scan(template, 0, template.len(), &mut parts);
    parts.retain(|part| !matches!(part, Part::Text(range) if range.is_empty()));
    Template { parts }
}

const INCLUDE: &[u8] = b"<esi:include";
const INCLUDE_CLOSE: &[u8] = b"</esi:include>";
const REMOVE_OPEN: &[u8] = b"<esi:remove>";
const REMOVE_CLOSE: &[u8] = b"</esi:remove>";
const COMMENT: &[u8] = b"<esi:comment";
const CODE_OPEN: &[u8] = b"<!--esi";
const CODE_CLOSE: &[u8] = b"-->";

/// What the markup at a `<` turned out to be.
enum Step {
    /// A directive: `part` (when it produces anything) replaces the bytes up to `next`.
    Directive(Option<Part>, usize),
    /// Broken markup: kept as text; scanning resumes `len` bytes on, after its opening marker.
    Broken { reason: String, len: usize },
    /// Not ESI markup.
    Text,
}

/// Scans `doc[start..end]`, appending its parts. `<!--esi … -->` recurses once per block; a
/// block never nests (its end is the first `-->`), so the depth is bounded.
fn scan(doc: &[u8], start: usize, end: usize, parts: &mut Vec<Part>) {
    let mut text_from = start;
    let mut at = start;
    let mut code_close = Next::new(CODE_CLOSE);
    let mut remove_close = Next::new(REMOVE_CLOSE);
    while let Some(found) = find(&doc[..end], b"<", at) {
        let rest = &doc[found..end];
        let step = if rest.starts_with(INCLUDE) && is_tag_boundary(rest, INCLUDE.len()) {
            include_directive(doc, found, end)
        } else if rest.starts_with(REMOVE_OPEN) {
            remove_block(doc, found, end, &mut remove_close)
        } else if rest.starts_with(REMOVE_CLOSE) {
            Step::Broken {
                reason: "</esi:remove> closes no <esi:remove>; kept as text".into(),
                len: REMOVE_CLOSE.len(),
            }
        } else if rest.starts_with(COMMENT) && is_tag_boundary(rest, COMMENT.len()) {
            match tag_end(doc, found + COMMENT.len(), end) {
                Ok(close) => Step::Directive(None, close + 1),
                Err(reason) => Step::Broken {
                    reason: format!("<esi:comment {reason}; kept as text"),
                    len: COMMENT.len(),
                },
            }
        } else if rest.starts_with(CODE_OPEN) && is_code_boundary(rest) {
            parts.push(Part::Text(text_from..found));
            let inner_start = found + CODE_OPEN.len();
            match code_close.find(doc, end, inner_start) {
                Some(close) => {
                    scan(doc, inner_start, close, parts);
                    at = close + CODE_CLOSE.len();
                }
                None => {
                    // The marker goes; what follows is kept and processed, as the content
                    // of a closed block would be (kept as text, the marker would open an
                    // HTML comment that hides the rest of the page in browsers).
                    parts.push(Part::Malformed {
                        at: found,
                        reason: "<!--esi is not closed by -->; its content is kept".into(),
                    });
                    at = inner_start;
                }
            }
            text_from = at;
            continue;
        } else {
            Step::Text
        };
        match step {
            Step::Directive(part, next) => {
                parts.push(Part::Text(text_from..found));
                parts.extend(part);
                text_from = next;
                at = next;
            }
            Step::Broken { reason, len } => {
                parts.push(Part::Text(text_from..found));
                parts.push(Part::Malformed { at: found, reason });
                text_from = found;
                at = found + len;
            }
            Step::Text => at = found + 1,
        }
    }
    parts.push(Part::Text(text_from..end));
}

/// `<esi:remove>…</esi:remove>` goes whole. Removes do not nest: one that holds another
/// `<esi:remove>` before its close is broken (an opening marker reflected into a page would
/// otherwise pair with the page's own close and take what lies between), so its marker is
/// kept as text and the inner one pairs with the close.
fn remove_block(doc: &[u8], start: usize, end: usize, remove_close: &mut Next) -> Step {
    let inner = start + REMOVE_OPEN.len();
    let broken = |reason: &str| Step::Broken {
        reason: reason.to_string(),
        len: REMOVE_OPEN.len(),
    };
    match remove_close.find(doc, end, inner) {
        None => broken("<esi:remove> is not closed by </esi:remove>; kept as text"),
        Some(close) if find(&doc[..close], REMOVE_OPEN, inner).is_some() => {
            broken("<esi:remove> holds another <esi:remove>; the outer one is kept as text")
        }
        Some(close) => Step::Directive(None, close + REMOVE_CLOSE.len()),
    }
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

/// Parses the include tag at `start`.
fn include_directive(doc: &[u8], start: usize, end: usize) -> Step {
    let close = match tag_end(doc, start + INCLUDE.len(), end) {
        Ok(close) => close,
        Err(reason) => {
            return Step::Broken {
                reason: format!("<esi:include {reason}; kept as text"),
                len: INCLUDE.len(),
            }
        }
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
    let invalid = |reason: String| Step::Directive(Some(Part::Invalid(reason)), next);
    let attributes = match attributes(&doc[start + INCLUDE.len()..attrs_end]) {
        Ok(attributes) => attributes,
        Err(reason) => return invalid(reason),
    };
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let Some(src) = get("src").filter(|s| !s.trim().is_empty()) else {
        return invalid("<esi:include> has no src".into());
    };
    let names = |value: String| -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in value.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        names
    };
    let include = Include {
        src: src.trim().to_string(),
        alt: get("alt").filter(|s| !s.trim().is_empty()),
        continue_on_error: get("onerror").is_some_and(|v| v.eq_ignore_ascii_case("continue")),
        vary_cookies: get("vary-cookies").map(names),
        vary_headers: get("vary-headers").map(|v| names(v.to_ascii_lowercase())),
    };
    Step::Directive(Some(Part::Include(include)), next)
}

/// The `>` closing a tag whose attributes start at `from`, skipping any inside quoted values.
/// A `<` before it, quoted or not, cuts the tag: XML allows none in attribute values, so what
/// would be its rest is the page's own markup.
fn tag_end(doc: &[u8], from: usize, end: usize) -> Result<usize, &'static str> {
    let mut quote = None;
    for (offset, &b) in doc[from..end].iter().enumerate() {
        match (quote, b) {
            (_, b'<') => return Err("is cut by a '<' before its '>'"),
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Ok(from + offset),
            _ => {}
        }
    }
    Err("is not closed by '>'")
}

fn skip_whitespace(doc: &[u8], mut at: usize, end: usize) -> usize {
    while at < end && doc[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

/// `name="value"` pairs (single or double quotes; XML entities decoded). A name given twice
/// is an error, as in XML: neither value would be sure to be the one meant.
fn attributes(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = String::from_utf8_lossy(raw);
    let mut rest = text.trim_start();
    let mut attributes: Vec<(String, String)> = Vec::new();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() {
            return Err("<esi:include> has a value without an attribute name".into());
        }
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
        if attributes.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(format!("<esi:include> attribute {name:?} is given twice"));
        }
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

/// The next `needle` in `doc[..end]` at or after a position, remembered across the markers of
/// one scan (one `end`): a template of many unclosed `<!--esi` or `<esi:remove>` markers would
/// otherwise be searched to its end once per marker, in time quadratic in its length (a 1 MB
/// one took minutes of CPU, on every request assembled from it).
struct Next {
    needle: &'static [u8],
    /// The last search: where it started and what it found.
    last: Option<(usize, Option<usize>)>,
}

impl Next {
    fn new(needle: &'static [u8]) -> Next {
        Next { needle, last: None }
    }

    /// `find(&doc[..end], needle, from)`, `end` the same at every call.
    fn find(&mut self, doc: &[u8], end: usize, from: usize) -> Option<usize> {
        if let Some((searched_from, found)) = self.last {
            // No `needle` starts between the last search's start and what it found.
            if from >= searched_from && found.is_none_or(|at| from <= at) {
                return found;
            }
        }
        let found = find(&doc[..end], self.needle, from);
        self.last = Some((from, found));
        found
    }
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
mod tests;
