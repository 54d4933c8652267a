//! Reading and copying the fields of JS `Headers` with as few crossings between Wasm and
//! JavaScript as possible: each crossing (and each string decoded on the way) costs more than
//! the Rust work around it, so the hot paths read or filter many fields in one call to the
//! small JS helpers in `glue`.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, ReadableStream, Response};

use edgecache_core::http::Fields;

/// A JS `Headers` read through the core's `Fields` trait, one field per call.
pub struct JsFields<'a>(pub &'a Headers);

impl Fields for JsFields<'_> {
    fn field(&self, name: &str) -> Option<String> {
        self.0.get(name).ok().flatten()
    }
}

/// A JS `Headers` read through `Fields`, with the fields of one `FieldSet` fetched in one
/// call up front; any other is read from JavaScript when asked for, so the set only decides
/// what is fast, never what is seen.
pub struct PickedFields {
    headers: Headers,
    set: FieldSet,
    /// The set's values, in order; `None` if the runtime's answer could not be split.
    values: Option<Vec<Option<String>>>,
}

/// The fields read for nearly every request, or every origin response.
#[derive(Clone, Copy)]
pub enum FieldSet {
    /// Freshness, the default credential fields, cookies, `Origin`, conditionals, the usual
    /// `Vary`, `Range`, `Upgrade`, the loop guard.
    Request,
    /// What storability, the ESI check and conditional answers read.
    Response,
}

/// Every field a hit reads with the default configuration: one read outside the set costs
/// about as much as the set's first five.
const REQUEST_FIELDS: &[&str] = &[
    "cache-control",
    "pragma",
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "origin",
    "if-none-match",
    "if-modified-since",
    "accept-encoding",
    "range",
    "if-range",
    "upgrade",
    edgecache_core::decide::arrival::HOP_HEADER,
];

const RESPONSE_FIELDS: &[&str] = &[
    "cache-control",
    "edgecache-cache-control",
    "cloudflare-cdn-cache-control",
    "cdn-cache-control",
    "surrogate-control",
    "set-cookie",
    "vary",
    "etag",
    "last-modified",
    "expires",
    "date",
    "age",
    "content-length",
    "content-type",
];

thread_local! {
    static REQUEST_NAMES: js_sys::Array = name_list(REQUEST_FIELDS);
    static RESPONSE_NAMES: js_sys::Array = name_list(RESPONSE_FIELDS);
}

impl FieldSet {
    fn names(self) -> &'static [&'static str] {
        match self {
            FieldSet::Request => REQUEST_FIELDS,
            FieldSet::Response => RESPONSE_FIELDS,
        }
    }

    fn pick(self, headers: &Headers) -> String {
        let names = match self {
            FieldSet::Request => &REQUEST_NAMES,
            FieldSet::Response => &RESPONSE_NAMES,
        };
        names.with(|names| glue::pick_fields(headers, names))
    }
}

impl PickedFields {
    pub fn read(headers: Headers, set: FieldSet) -> PickedFields {
        let values = parse_picked(&set.pick(&headers), set.names().len());
        PickedFields {
            headers,
            set,
            values,
        }
    }

    /// The JS `Headers`, for what must copy, forward or list them.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
}

impl Fields for PickedFields {
    fn field(&self, name: &str) -> Option<String> {
        match (
            &self.values,
            self.set.names().iter().position(|n| *n == name),
        ) {
            (Some(values), Some(index)) => values[index].clone(),
            _ => self.headers.get(name).ok().flatten(),
        }
    }
}

/// The inverse of `pickFields`: one line per name, `\0` for an absent field, else `\x01`
/// and the value (field values cannot hold NUL or line breaks).
fn parse_picked(text: &str, count: usize) -> Option<Vec<Option<String>>> {
    let values: Vec<Option<String>> = text
        .split_terminator('\n')
        .map(|line| line.strip_prefix('\u{1}').map(str::to_string))
        .collect();
    (values.len() == count).then_some(values)
}

/// Every field line of a JS `Headers`, lowercase names, in order (`Set-Cookie` lines apart).
/// Read in one call (`fieldLines`): one crossing per field line and two per pair cost more
/// than the rest of a miss's bookkeeping.
pub fn header_list(headers: &Headers) -> Vec<(String, String)> {
    parse_field_lines(&glue::field_lines(headers))
}

/// The inverse of `fieldLines`: `name:value` lines. Field names cannot hold `:` and values
/// cannot hold a line break (the `Headers` class refuses both), so the split is exact.
fn parse_field_lines(text: &str) -> Vec<(String, String)> {
    text.split_terminator('\n')
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// A copy of `headers` without the fields named in `names` (lowercase), made in JavaScript
/// so the names do not cross from Wasm one call at a time. `names` is built once per list
/// (`name_list`).
pub fn copy_without(headers: &Headers, names: &js_sys::Array) -> Result<Headers, JsValue> {
    glue::copy_without(headers, names)
}

/// A new response with `response`'s status and fields, less those in `names`, carrying
/// `body`, with the Cache-Status `member` after the response's own members (as
/// `status::append_cache_status` does) and `cache_control` if given: the fields are copied
/// once, by the runtime, rather than into a `Headers` first, all in one call.
pub fn reissue(
    response: &Response,
    body: Option<&ReadableStream>,
    names: &js_sys::Array,
    member: &str,
    cache_control: Option<&str>,
) -> Result<Response, JsValue> {
    glue::reissue(response, body, names, member, cache_control)
}

/// A response with `status`, a copy of `headers` and `body` (`null`, bytes or a stream), and
/// then `age`, `cache_status`, `cache_control` and `content_range` set on it: one call
/// instead of several (the init, the constructor, the fields getter and each field set).
pub fn respond(
    status: u16,
    headers: &Headers,
    body: &JsValue,
    age: Option<u64>,
    cache_status: Option<&str>,
    cache_control: Option<&str>,
    content_range: Option<&str>,
) -> Result<Response, JsValue> {
    // Integral f64 print without a fraction; ages stay far below 2^53 (they saturate at 2^31).
    let age = age.map(|a| a as f64);
    glue::respond(
        status,
        headers,
        body,
        age,
        cache_status,
        cache_control,
        content_range,
    )
}

/// A new `Headers` holding only the fields of `headers` named in `names` (lowercase), made
/// in JavaScript in one call.
pub fn copy_only(headers: &Headers, names: &js_sys::Array) -> Result<Headers, JsValue> {
    glue::copy_only(headers, names)
}

/// `names` as a JS array, for `copy_without`, `copy_only` and `reissue`.
pub fn name_list(names: &[&str]) -> js_sys::Array {
    names.iter().map(|n| JsValue::from_str(n)).collect()
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;
    use web_sys::{Headers, ReadableStream, Response};

    #[wasm_bindgen(inline_js = "
export function fieldLines(headers) {
  let text = '';
  for (const [name, value] of headers) text += name + ':' + value + '\\n';
  return text;
}
export function pickFields(headers, names) {
  let text = '';
  for (const name of names) {
    const value = headers.get(name);
    text += value === null ? '\\0\\n' : '\\x01' + value + '\\n';
  }
  return text;
}
export function reissue(response, body, names, member, cacheControl) {
  const copy = new Response(body, response);
  const fields = copy.headers;
  for (const name of names) fields.delete(name);
  const upstream = (fields.get('cache-status') ?? '').trim();
  fields.set('cache-status', upstream ? upstream + ', ' + member : member);
  if (cacheControl !== undefined) fields.set('cache-control', cacheControl);
  return copy;
}
export function respond(status, headers, body, age, cacheStatus, cacheControl, contentRange) {
  const response = new Response(body, { status, headers });
  const fields = response.headers;
  if (age !== undefined) fields.set('age', age);
  if (cacheStatus !== undefined) fields.set('cache-status', cacheStatus);
  if (cacheControl !== undefined) fields.set('cache-control', cacheControl);
  if (contentRange !== undefined) fields.set('content-range', contentRange);
  return response;
}
export function copyOnly(headers, names) {
  const copy = new Headers();
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) copy.set(name, value);
  }
  return copy;
}
export function copyWithout(headers, names) {
  const copy = new Headers(headers);
  for (const name of names) copy.delete(name);
  return copy;
}
")]
    extern "C" {
        #[wasm_bindgen(js_name = fieldLines)]
        pub fn field_lines(headers: &Headers) -> String;
        #[wasm_bindgen(js_name = pickFields)]
        pub fn pick_fields(headers: &Headers, names: &js_sys::Array) -> String;
        #[wasm_bindgen(catch)]
        pub fn reissue(
            response: &Response,
            body: Option<&ReadableStream>,
            names: &js_sys::Array,
            member: &str,
            cache_control: Option<&str>,
        ) -> Result<Response, JsValue>;
        #[wasm_bindgen(catch)]
        pub fn respond(
            status: u16,
            headers: &Headers,
            body: &JsValue,
            age: Option<f64>,
            cache_status: Option<&str>,
            cache_control: Option<&str>,
            content_range: Option<&str>,
        ) -> Result<Response, JsValue>;
        #[wasm_bindgen(js_name = copyOnly, catch)]
        pub fn copy_only(headers: &Headers, names: &js_sys::Array) -> Result<Headers, JsValue>;
        #[wasm_bindgen(js_name = copyWithout, catch)]
        pub fn copy_without(headers: &Headers, names: &js_sys::Array) -> Result<Headers, JsValue>;
    }
}

/// A JS `Headers` holding `list`; a field the runtime refuses is skipped, not fatal.
pub fn headers_from(list: &[(String, String)]) -> Headers {
    let headers = Headers::new().unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into());
    for (name, value) in list {
        let _ = headers.append(name, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::{parse_field_lines, parse_picked};

    #[test]
    fn field_lines_split_at_the_first_colon() {
        let lines =
            parse_field_lines("content-type:text/html\nlocation:http://a/b?c:d\nx-empty:\n");
        assert_eq!(
            lines,
            [
                ("content-type".into(), "text/html".into()),
                ("location".into(), "http://a/b?c:d".into()),
                ("x-empty".into(), String::new()),
            ]
        );
        assert!(parse_field_lines("").is_empty());
    }

    #[test]
    fn picked_fields_keep_absent_and_empty_apart() {
        assert_eq!(
            parse_picked("\0\n\x01\n\x01no-cache\n", 3),
            Some(vec![None, Some(String::new()), Some("no-cache".into())])
        );
        assert_eq!(
            parse_picked("\0\n", 2),
            None,
            "a short answer is not trusted"
        );
    }
}
