//! The key renderer and its inputs: a rendered key never carries a control character (no
//! CR/LF to inject), never exceeds KV's 512 bytes, keeps its `prefix:version:` readable, and
//! keys of requests that differ in a variant value never collide. The canonical target is
//! idempotent (its path and query read back as themselves), its query only keeps pieces it
//! was given, and a bypass-free reading of its path never matches a rule its canonical path
//! escapes; a canonical field's value reads back as itself, within its length, without white
//! space, and any other field's is kept as given; `cookie_value` finds what it is given,
//! trimmed, and never more than one cookie.
#![no_main]

use arbitrary::Arbitrary;
use edgecache_core::config::QueryRule;
use edgecache_core::request::field_value::{is_canonical, keyed_value, MAX_CANONICAL_BYTES};
use edgecache_core::request::key::{cookie_value, CacheKey, Variant, KV_MAX_KEY_BYTES};
use edgecache_core::request::target::Target;
use libfuzzer_sys::fuzz_target;
use url::Url;

#[derive(Arbitrary, Debug)]
enum Rule {
    All,
    Ignore(Vec<String>),
    Allow(Vec<String>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    prefix: String,
    version: u64,
    https: bool,
    host: String,
    path_and_query: String,
    rule: Rule,
    variants: Vec<(String, Option<String>)>,
    changed: usize,
    other_value: Option<String>,
    cookie_header: String,
    cookie_name: String,
    cookie_value: String,
    case_insensitive: bool,
}


fuzz_target!(|input: Input| {
    // What the config accepts as a prefix (`check_key_prefix`).
    let prefix =
        if input.prefix.len() <= 64 && !input.prefix.chars().any(|c| c.is_control() || c == ':') {
            input.prefix.clone()
        } else {
            "site".to_string()
        };
    let scheme = if input.https { "https" } else { "http" };
    // Hosts reach the worker as the runtime hands them over: ASCII (punycode), already
    // decoded. The IDNA back end pinned for the Wasm (`idna_adapter` 1.0.0) handles no other:
    // in a debug build a host that is (or percent-decodes to) non-ASCII next to capitals trips
    // its debug assertion; a release build rejects it.
    let Ok(mut url) = Url::parse(&format!("{scheme}://example.com/")) else {
        return;
    };
    let host: String = input
        .host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    let _ = url.set_host(Some(&host));
    let (path, query) = match input.path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (input.path_and_query.as_str(), None),
    };
    url.set_path(path);
    url.set_query(query);
    let rule = match &input.rule {
        Rule::All => QueryRule::All,
        Rule::Ignore(globs) => QueryRule::Ignore(globs.clone()),
        Rule::Allow(globs) => QueryRule::Allow(globs.clone()),
    };
    let target = Target::of(&url, input.case_insensitive);
    let query = target.query_for(&rule);
    // The canonical form reads back as itself: the key and the origin request agree.
    let Ok(mut again) = Url::parse(&format!("{scheme}://{}/", target.authority())) else {
        return;
    };
    again.set_path(&target.path);
    again.set_query(Some(&query).filter(|q| !q.is_empty()).map(String::as_str));
    let reread = Target::of(&again, input.case_insensitive);
    assert_eq!(reread.path, target.path, "the canonical path is idempotent");
    assert_eq!(
        reread.query_for(&QueryRule::All),
        query,
        "the key's query reads back as itself"
    );
    let given: Vec<String> = target.query.iter().map(|p| p.text.clone()).collect();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        assert!(given.iter().any(|g| g == piece), "{piece:?} was not in {given:?}");
    }
    if matches!(rule, QueryRule::All) {
        assert_eq!(
            query.split('&').filter(|p| !p.is_empty()).count(),
            given.len(),
            "QueryRule::All keeps every piece"
        );
    }
    // No reading of the path is the canonical path itself, and each is a path.
    for reading in target.readings() {
        assert_ne!(reading, target.path);
        assert!(reading.starts_with('/'), "{reading:?}");
    }

    let variance: Vec<Variant> = input
        .variants
        .iter()
        .map(|(name, value)| Variant {
            name: name.clone(),
            value: value.as_deref().and_then(|v| keyed_value(name, v)),
        })
        .collect();
    let key = CacheKey {
        prefix: prefix.clone(),
        version: input.version,
        scheme: target.scheme.clone(),
        host: target.authority(),
        path: target.path.clone(),
        query,
        variance,
    };
    let rendered = key.render();
    assert!(
        !rendered.chars().any(char::is_control),
        "control character in {rendered:?}"
    );
    assert!(
        rendered.len() <= KV_MAX_KEY_BYTES,
        "{} bytes",
        rendered.len()
    );
    assert!(rendered.starts_with(&format!("{prefix}:{}:", input.version)));
    assert!(!key.url().chars().any(char::is_control));

    // Another value for one variant is another key.
    if !key.variance.is_empty() {
        let i = input.changed % key.variance.len();
        let other = input
            .other_value
            .as_deref()
            .and_then(|v| keyed_value(&key.variance[i].name, v));
        if other != key.variance[i].value {
            let mut changed = key.clone();
            changed.variance[i].value = other;
            assert_ne!(changed.render(), rendered, "two variants share a key");
        }
    }

    for value in input
        .variants
        .iter()
        .filter_map(|(n, v)| v.as_deref().map(|v| (n, v)))
    {
        let keyed = keyed_value(value.0, value.1);
        if !is_canonical(value.0) {
            assert_eq!(keyed.as_deref(), Some(value.1), "kept as given");
            continue;
        }
        if let Some(canonical) = keyed {
            assert!(!canonical.is_empty() && canonical.len() <= MAX_CANONICAL_BYTES);
            // White space stays only inside an `Accept` parameter's quoted string.
            let quoted = value.0 == "accept" && canonical.contains('"');
            assert!(quoted || !canonical.bytes().any(|b| b.is_ascii_whitespace()), "{canonical:?}");
            assert_eq!(keyed_value(value.0, &canonical).as_deref(), Some(canonical.as_str()));
        }
    }

    if let Some(found) = cookie_value(&input.cookie_header, &input.cookie_name) {
        assert_eq!(found.trim(), found);
        assert!(!found.contains(';'));
    }
    let name = input.cookie_name.trim();
    let value = input.cookie_value.trim();
    if !name.is_empty() && !name.contains(['=', ';']) && !value.contains(';') {
        let header = format!("a=1; {name}={value}; b=2");
        let expected = if name == "a" { "1" } else { value };
        assert_eq!(cookie_value(&header, name).as_deref(), Some(expected));
    }
});
