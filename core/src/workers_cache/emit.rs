//! What edgecache tells Workers Cache about one response: the fields it sets for that tier,
//! decided from what edgecache did with the response (stored it, served it from an entry, or
//! neither), what the request and its route were, and the response's own fields.
//!
//! Workers Cache reads `Cloudflare-CDN-Cache-Control` before `CDN-Cache-Control` and
//! `Cache-Control`, and does not pass it on to clients, so edgecache sets it on every
//! response: for an answer from an entry edgecache holds whole, the freshness that entry has
//! left (which is the route's `ttl` or `ttl_by_status` where they apply, else the origin's);
//! `no-store` for an answer still arriving from the origin, which edgecache may yet refuse or
//! lose, and for anything Workers Cache could not key or share as edgecache does. Workers Cache keys on the path and query as
//! the client spelled them, not on the host, cookies or other request fields, compares `Vary`
//! values verbatim, and has no soft purge; so it is given only what is the same for every
//! client that sends that path and query to that site.

use sha2::{Digest, Sha256};

use crate::http::Reuse;

/// The targeted field Workers Cache reads first (Cloudflare's own, RFC 9213); Cloudflare
/// consumes it, so clients never see it.
pub const CDN_FIELD: &str = "cloudflare-cdn-cache-control";
/// The field Workers Cache reads tags from, for purging by tag; Cloudflare consumes it too.
pub const TAG_FIELD: &str = "cache-tag";
/// Cloudflare: "the aggregate `Cache-Tag` HTTP header cannot exceed 16 KB after the header
/// field name", commas included; read here as 16,000 bytes, the smaller reading.
pub const MAX_TAG_FIELD_BYTES: usize = 16_000;
/// Cloudflare: a response "can carry up to 1000 tags" for purging.
pub const MAX_TAGS: usize = 1000;
/// Cloudflare: a tag in a purge call is at most 1,024 characters (and edgecache's own tags
/// are checked to the same bound, `config::check_tag`).
pub const MAX_TAG_BYTES: usize = 1024;
/// Starts the tag that names one URL (`url_tag`): Workers Cache has no purge by URL, and a
/// path prefix would also purge `/post-2` with `/post`.
pub const URL_TAG_PREFIX: &str = "edgecache-url-";

/// The entry behind a response edgecache keeps for everyone: one it served, or one it just
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Seconds of freshness the entry has left (negative once stale).
    pub fresh_secs: i64,
    pub reuse: Reuse,
    /// The entry's tags: the route's and the origin's.
    pub tags: Vec<String>,
    /// The response sent carries fields the entry leaves out (`private="f"`, `no-cache="f"`):
    /// the origin's answer as it came, on the request that stored it.
    pub withheld: bool,
    /// How much of the body edgecache holds as the fields are set.
    pub body: BodyHeld,
    /// The fields the URL's responses are known to vary on (its `Vary` marker's, or the
    /// entry's own), whether or not this response says so.
    pub url_vary: Vec<String>,
}

/// How much of a response's body edgecache holds when the fields for Workers Cache are set,
/// before the body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyHeld {
    /// All of it: the answer comes from an entry.
    Whole,
    /// It is still arriving from the origin while edgecache stores it: the store gives up on a
    /// body longer than `max_body_bytes` (which a chunked one may turn out to be) or one the
    /// origin breaks off, and the runtime sends it on without a `Content-Length` that would let
    /// a cache see the cut.
    Arriving,
}

impl Kept {
    /// The entry behind a hit (or a revalidated or collapsed answer), `now_ms` being now.
    pub fn of(meta: &crate::storage::record::Meta, now_ms: i64) -> Kept {
        Kept {
            fresh_secs: meta.ttl(now_ms),
            reuse: meta.reuse,
            tags: meta.tags.clone(),
            withheld: false,
            body: BodyHeld::Whole,
            url_vary: meta.vary.clone(),
        }
    }
}

/// What the request was, as far as Workers Cache's key is concerned. Absent for requests the
/// cache does not answer (other methods, bypass routes, loops).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheAsked {
    /// The request's scheme and host are `workers_cache`'s: Workers Cache does not key on the
    /// host, so it is given one site's answers alone.
    pub same_site: bool,
    pub head: bool,
    /// The request's path and query are spelled exactly as the key holds them: no parameter
    /// left out by `query_ignore`/`query_allow`, none reordered, no path normalised.
    pub as_keyed: bool,
    /// Any of the `credential_headers`.
    pub credentials: bool,
    /// An `Origin`, which edgecache keys on and Workers Cache does not.
    pub origin: bool,
    /// The route keys on request fields (`vary_headers`) or cookies (`vary_cookies`), or
    /// passes requests carrying named cookies (`bypass_cookies`): Workers Cache, which keys on
    /// neither, would give its copy to a request with the cookie.
    pub keyed_fields: bool,
    /// The key's path and query (`/blog/post?page=2`), for the URL's tag.
    pub path_and_query: String,
}

/// One response, as `emit` judges it.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    pub asked: Option<&'a CacheAsked>,
    /// `None` when edgecache did not store the response and did not serve it from an entry
    /// kept for everyone.
    pub kept: Option<&'a Kept>,
    /// A page assembled from ESI fragments.
    pub assembled: bool,
    pub status: u16,
    /// The response's `Vary`.
    pub vary: Option<&'a str>,
}

/// Why Workers Cache is told `no-store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a GET or HEAD on a cacheable route (another method, a bypass route, an error).
    NotCacheable,
    /// Another scheme or host than `workers_cache`'s.
    OtherSite,
    /// A HEAD: it has no body to keep.
    Head,
    /// Assembled from fragments that each have their own lifetime and purges.
    Assembled,
    /// edgecache did not store it.
    NotStored,
    /// A request with credentials.
    Credentials,
    /// A request with `Origin`.
    Origin,
    /// The route keys on `vary_headers` or `vary_cookies`.
    KeyedFields,
    /// The request's path or query is not spelled as the key holds it.
    Spelling,
    /// `Vary` names a field other than `Accept-Encoding`, on this response or on another
    /// answer for the URL (its `Vary` marker).
    Vary,
    /// Its body is still arriving from the origin: edgecache may yet refuse it (longer than
    /// `max_body_bytes`) or lose it (the origin breaks off).
    Arriving,
    /// A part (`206`) or a range it cannot satisfy (`416`).
    Partial,
    /// The response carries fields the stored entry leaves out.
    Withheld,
    /// The entry must be revalidated on every use (`no-cache`).
    Revalidate,
    /// The entry has no freshness left (served stale, or stale on arrival).
    NotFresh,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotCacheable => "not-cacheable",
            Refusal::OtherSite => "other-site",
            Refusal::Head => "head",
            Refusal::Assembled => "assembled",
            Refusal::NotStored => "not-stored",
            Refusal::Credentials => "credentials",
            Refusal::Origin => "origin",
            Refusal::KeyedFields => "keyed-fields",
            Refusal::Spelling => "spelling",
            Refusal::Vary => "vary",
            Refusal::Arriving => "arriving",
            Refusal::Partial => "partial",
            Refusal::Withheld => "withheld",
            Refusal::Revalidate => "revalidate",
            Refusal::NotFresh => "not-fresh",
        }
    }
}

/// What Workers Cache may do with a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheVerdict {
    /// Keep it for `max_age` seconds, serve it stale within the windows edgecache would.
    Share {
        max_age: u64,
        stale_while_revalidate: u64,
        stale_if_error: u64,
        must_revalidate: bool,
    },
    Refuse(Refusal),
}

/// The fields edgecache sets on a response for Workers Cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    pub verdict: CacheVerdict,
    /// `Cloudflare-CDN-Cache-Control`.
    pub cdn_cache_control: String,
    /// `Cache-Tag`, for a response Workers Cache may keep.
    pub cache_tag: Option<String>,
}

/// Whether Workers Cache may keep the response, and for how long.
pub fn verdict(case: &Case) -> CacheVerdict {
    let refuse = CacheVerdict::Refuse;
    let Some(asked) = case.asked else {
        return refuse(Refusal::NotCacheable);
    };
    if !asked.same_site {
        return refuse(Refusal::OtherSite);
    }
    if asked.head {
        return refuse(Refusal::Head);
    }
    if case.assembled {
        return refuse(Refusal::Assembled);
    }
    let Some(kept) = case.kept else {
        return refuse(Refusal::NotStored);
    };
    if asked.credentials {
        return refuse(Refusal::Credentials);
    }
    if asked.origin {
        return refuse(Refusal::Origin);
    }
    if asked.keyed_fields {
        return refuse(Refusal::KeyedFields);
    }
    if !asked.as_keyed {
        return refuse(Refusal::Spelling);
    }
    // Workers Cache does not key on the fields edgecache keeps variants of itself: a URL whose
    // answers vary on one is refused for every request, those without the field included (a
    // copy of their answer would be served to requests that carry it).
    let url_varies = kept
        .url_vary
        .iter()
        .any(|name| !name.eq_ignore_ascii_case("accept-encoding"));
    if url_varies || !varies_on_encoding_at_most(case.vary) {
        return refuse(Refusal::Vary);
    }
    // Workers Cache keeps no more than edgecache: the fields go out before the body, so an
    // answer still arriving, which edgecache may yet refuse or lose, is not shared; the next
    // request, answered from the entry edgecache kept whole, is.
    if kept.body == BodyHeld::Arriving {
        return refuse(Refusal::Arriving);
    }
    if matches!(case.status, 206 | 416) {
        return refuse(Refusal::Partial);
    }
    if kept.withheld {
        return refuse(Refusal::Withheld);
    }
    if kept.reuse.no_cache {
        return refuse(Refusal::Revalidate);
    }
    if kept.fresh_secs <= 0 {
        return refuse(Refusal::NotFresh);
    }
    let must_revalidate = kept.reuse.must_revalidate;
    CacheVerdict::Share {
        max_age: kept.fresh_secs as u64,
        // Workers Cache serves a stale entry on a worker error indefinitely unless told
        // otherwise: it is always told edgecache's own window, 0 when there is none.
        stale_while_revalidate: if must_revalidate { 0 } else { kept.reuse.swr },
        stale_if_error: if must_revalidate { 0 } else { kept.reuse.sie },
        must_revalidate,
    }
}

/// The fields to set on the response for Workers Cache.
pub fn emit(case: &Case) -> Emitted {
    let verdict = verdict(case);
    let cdn_cache_control = cdn_cache_control(&verdict);
    let cache_tag = match (&verdict, case.asked, case.kept) {
        (CacheVerdict::Share { .. }, Some(asked), Some(kept)) => {
            Some(cache_tag(&url_tag(&asked.path_and_query), &kept.tags))
        }
        _ => None,
    };
    Emitted {
        verdict,
        cdn_cache_control,
        cache_tag,
    }
}

/// `Cloudflare-CDN-Cache-Control`'s value: a valid Structured Field dictionary (RFC 9213).
pub fn cdn_cache_control(verdict: &CacheVerdict) -> String {
    match verdict {
        CacheVerdict::Refuse(_) => "no-store".to_string(),
        CacheVerdict::Share {
            max_age,
            stale_while_revalidate,
            stale_if_error,
            must_revalidate,
        } => {
            let mut value = format!("max-age={max_age}");
            if *stale_while_revalidate > 0 {
                value.push_str(&format!(
                    ", stale-while-revalidate={stale_while_revalidate}"
                ));
            }
            value.push_str(&format!(", stale-if-error={stale_if_error}"));
            if *must_revalidate {
                value.push_str(", must-revalidate");
            }
            value
        }
    }
}

/// `Cache-Tag`'s value: the URL's tag first, then the entry's tags, within Cloudflare's
/// limits (at most `MAX_TAGS` tags of at most `MAX_TAG_BYTES`, printable ASCII without
/// spaces or commas, `MAX_TAG_FIELD_BYTES` in all); a tag that does not fit is left out,
/// which Cloudflare would do silently. Tags are matched without regard to case there, so
/// `Foo` and `foo` are one tag.
pub fn cache_tag(url_tag: &str, tags: &[String]) -> String {
    let mut value = String::new();
    let mut kept: Vec<String> = Vec::new();
    for tag in std::iter::once(url_tag).chain(tags.iter().map(String::as_str)) {
        let valid = !tag.is_empty()
            && tag.len() <= MAX_TAG_BYTES
            && tag.bytes().all(|b| b.is_ascii_graphic() && b != b',');
        let folded = tag.to_ascii_lowercase();
        if !valid || kept.contains(&folded) || kept.len() >= MAX_TAGS {
            continue;
        }
        let separator = usize::from(!value.is_empty());
        if value.len() + separator + tag.len() > MAX_TAG_FIELD_BYTES {
            continue;
        }
        if separator == 1 {
            value.push(',');
        }
        value.push_str(tag);
        kept.push(folded);
    }
    value
}

/// The tag that names one URL's responses in Workers Cache, from the path and query as the
/// key holds them: `edgecache-url-` and 32 hex digits of their SHA-256.
pub fn url_tag(path_and_query: &str) -> String {
    let digest = Sha256::digest(path_and_query.as_bytes());
    let mut tag = String::with_capacity(URL_TAG_PREFIX.len() + 32);
    tag.push_str(URL_TAG_PREFIX);
    for byte in &digest[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag
}

/// The path and query of a key's URL (`scheme://host/path?query`).
pub fn path_and_query(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or("/", |i| &url[after_scheme + i..])
}

/// `Vary` is absent, empty, or names `Accept-Encoding` alone: Workers Cache compares the
/// values of the fields it names verbatim and keeps a copy per spelling; edgecache keys
/// other fields on normalised values and keeps those variants itself.
fn varies_on_encoding_at_most(vary: Option<&str>) -> bool {
    vary.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .all(|name| name.eq_ignore_ascii_case("accept-encoding"))
}

#[cfg(test)]
mod tests;
