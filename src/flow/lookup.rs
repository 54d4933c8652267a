//! Finding a request's entry in its tiers, and copying entries between tiers.

use crate::flow::markers;
use crate::flow::reply::Unread;
use crate::runtime::now_ms;
use crate::store::{read_body, read_part, unread_body, Entry, Read, StoreError, Tier};
use edgecache_core::control::registry::{Registry, Standing};
use edgecache_core::http::range::RangeAnswer;
use edgecache_core::http::Fields;
use edgecache_core::request::plan::Plan;
use edgecache_core::storage::backend::Purge;
use edgecache_core::storage::record::Kind;

/// A stored response for the request, fresh or not.
pub struct Found {
    /// Index of the tier that held it.
    pub tier: usize,
    /// Its body is empty while `unread` holds it (Cache API): `complete` reads it,
    /// `take_unread` leaves it in the runtime.
    pub entry: Entry,
    pub unread: Option<web_sys::Response>,
    /// The `Vary` marker it was found through, if the response varies.
    pub marker: Option<Entry>,
    /// Soft-purged since it was stored: usable only stale, while it is refreshed.
    pub soft_purged: bool,
}

/// The stored body is not as long as when it was stored, or could not be read: the entry
/// must not be used.
pub struct Unusable;

impl Found {
    /// The unread body as this request sends it, left in the runtime rather than copied into
    /// Wasm: the whole stream when the runtime vouches for its length, or the part `range`
    /// asks for, cut in the runtime. `Ok(None)`: nothing was taken; `complete` reads it.
    pub async fn take_unread(
        &mut self,
        range: RangeAnswer,
        errors: &mut Vec<String>,
    ) -> Result<Option<Unread>, Unusable> {
        let length = self.entry.meta.body_len;
        let RangeAnswer::Partial { first, last } = range else {
            let whole = self.unread.as_ref().and_then(|r| unread_body(r, length));
            if whole.is_some() {
                self.unread = None;
            }
            return Ok(whole.map(Unread::Whole));
        };
        let Some(response) = self.unread.take() else {
            return Ok(None);
        };
        match read_part(&response, length, first, last).await {
            Ok(Some(part)) => Ok(Some(Unread::Part(part))),
            Ok(None) => Err(Unusable),
            Err(e) => {
                errors.push(e.to_string());
                Err(Unusable)
            }
        }
    }

    /// Reads the body if it was left unread. `false` (with the reason in `errors`) if it
    /// could not be read or is not as long as when it was stored: the entry is then unusable.
    pub async fn complete(&mut self, errors: &mut Vec<String>) -> bool {
        let Some(response) = self.unread.take() else {
            return true;
        };
        match read_body(self.entry.clone(), &response).await {
            Ok(Some(entry)) => {
                self.entry = entry;
                true
            }
            Ok(None) => false,
            Err(e) => {
                errors.push(e.to_string());
                false
            }
        }
    }
}

pub struct Lookup {
    pub found: Option<Found>,
    /// Some tier knew the URL's variants but not this request's.
    pub vary_miss: bool,
    /// The fields the URL's responses vary on, as a tier's marker names them: the origin is
    /// sent them, so the answer can be stored under this request's variant.
    pub vary: Vec<String>,
    /// The registry is unknown (the control plane could not be asked for too long): no
    /// tier was read, as no entry is known not to be purged.
    pub standing_unknown: bool,
}

/// Reads the tiers in order; the first entry for the request that no purge has removed
/// wins, whatever its age (the caller decides whether it may be used). A failing tier is
/// reported and skipped.
pub async fn lookup(
    tiers: &[Tier],
    plan: &Plan,
    headers: &impl Fields,
    registry: &Registry,
    errors: &mut Vec<String>,
) -> Lookup {
    if registry.unknown {
        return Lookup {
            found: None,
            vary_miss: false,
            vary: Vec::new(),
            standing_unknown: true,
        };
    }
    let mut vary_miss = false;
    let mut vary = Vec::new();
    for (index, tier) in tiers.iter().enumerate() {
        let (Read { entry, unread }, marker) = match find(tier, plan, headers, errors).await {
            InTier::Found(read, marker) => (read, marker),
            InTier::VaryMiss(names) => {
                vary_miss = true;
                vary = names;
                continue;
            }
            InTier::Nothing => continue,
        };
        let meta = &entry.meta;
        let standing = registry.standing_under(&meta.url, &meta.tags, &plan.tags, meta.stored_at);
        let soft_purged = match standing {
            Standing::Purged if tier.backend().describe().purge == Purge::DeleteKeyAndOnRead => {
                // A backend that would keep it for ever: deleted now (the registry refuses
                // it everywhere, whatever becomes of the delete).
                if let Some(body) = unread.as_ref().and_then(|r| r.body()) {
                    let _ = body.cancel();
                }
                log_failure(tier.delete(&meta.key).await);
                continue;
            }
            Standing::Purged | Standing::Unknown => continue,
            Standing::Stale => true,
            Standing::Valid => false,
        };
        return Lookup {
            found: Some(Found {
                tier: index,
                entry,
                unread,
                marker,
                soft_purged,
            }),
            vary_miss,
            vary,
            standing_unknown: false,
        };
    }
    Lookup {
        found: None,
        vary_miss,
        vary,
        standing_unknown: false,
    }
}

/// What one tier holds for a request.
enum InTier {
    /// A response, and the `Vary` marker it was found through.
    Found(Read, Option<Entry>),
    /// The URL's variants are known (these fields), but not this request's.
    VaryMiss(Vec<String>),
    Nothing,
}

/// A tier's response for the request: under the primary key, or under the variant key its
/// `Vary` marker names. A shared tier's marker may come from this isolate's recent copy
/// (`markers`), saving a read; when the remembered variant is missing the marker is read
/// afresh, in case it changed.
async fn find(tier: &Tier, plan: &Plan, headers: &impl Fields, errors: &mut Vec<String>) -> InTier {
    let backend = tier.backend();
    if let Some(marker) = markers::recall(backend, &plan.primary, now_ms()) {
        if let Some(variant) =
            read_response(tier, &plan.variant_key(&marker.meta.vary, headers), errors).await
        {
            return InTier::Found(variant, Some(marker));
        }
    }
    let Some(primary) = read(tier, &plan.primary, errors).await else {
        return InTier::Nothing;
    };
    let entry = &primary.entry;
    match entry.meta.kind {
        // Parts answer only the Range requests they hold; the caller tells them apart.
        Kind::Response | Kind::Parts => InTier::Found(primary, None),
        // A low-level API value (`edgecache::lowlevel`) whose key happens to look like this
        // URL's is not a response, nor a marker: a miss in this tier.
        Kind::Value => InTier::Nothing,
        Kind::Variants => {
            markers::remember(backend, entry, now_ms());
            let variant_key = plan.variant_key(&entry.meta.vary, headers);
            match read_response(tier, &variant_key, errors).await {
                Some(variant) => InTier::Found(variant, Some(primary.entry)),
                None => InTier::VaryMiss(entry.meta.vary.clone()),
            }
        }
    }
}

/// A tier's stored response (or parts of one) under `key`, if that is what the key holds.
async fn read_response(tier: &Tier, key: &str, errors: &mut Vec<String>) -> Option<Read> {
    read(tier, key, errors)
        .await
        .filter(|read| matches!(read.entry.meta.kind, Kind::Response | Kind::Parts))
}

/// One tier's entry under `key`. The stored key is checked, so a hashed key can never
/// answer for another.
async fn read(tier: &Tier, key: &str, errors: &mut Vec<String>) -> Option<Read> {
    match tier.read(key).await {
        Ok(Some(read)) if read.entry.meta.key == key => Some(read),
        Ok(_) => None,
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    }
}

/// Writes an entry (and its `Vary` marker) to `tiers`, to be kept `keep_secs`, and logs
/// one line saying where it went.
pub async fn write_all(
    tiers: impl IntoIterator<Item = &Tier>,
    entry: &Entry,
    marker: Option<&Entry>,
    keep_secs: u64,
) {
    let mut written = Vec::new();
    for tier in tiers {
        if let Some(marker) = marker {
            if log_failure(tier.put(&marker.meta.key, marker, keep_secs).await) {
                markers::remember(tier.backend(), marker, now_ms());
            }
        }
        if log_failure(tier.put(&entry.meta.key, entry, keep_secs).await) {
            written.push(tier.backend().as_str());
        }
    }
    // Keys and URLs without their values (`redact`): the id matches lines about one entry.
    worker::console_log!(
        "{}",
        serde_json::json!({
            "edgecache": "stored",
            "key": edgecache_core::redact::key(&entry.meta.key),
            "id": edgecache_core::redact::id(&entry.meta.key),
            "url": truncated(&edgecache_core::redact::url(&entry.meta.url), 512),
            "tiers": written,
            "bytes": entry.body.len(),
            "keep": keep_secs,
        })
    );
}

/// Removes `key` (an entry, or a `Vary` marker, which makes every variant unreachable).
pub async fn delete_all(tiers: &[Tier], key: &str) {
    markers::forget(key);
    for tier in tiers {
        log_failure(tier.delete(key).await);
    }
}

/// Copies an entry found in a lower tier into the faster tiers above it.
pub async fn backfill(tiers: &[Tier], found: Found, keep_secs: u64) {
    write_all(
        &tiers[..found.tier],
        &found.entry,
        found.marker.as_ref(),
        keep_secs,
    )
    .await;
}

/// At most `max` bytes of `text`, cut at a character boundary: log lines stay short.
fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Logs a failed storage operation; true when it succeeded.
pub fn log_failure(result: Result<(), StoreError>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            worker::console_error!(
                "{}",
                serde_json::json!({ "edgecache": "store-failed", "error": edgecache_core::redact::text(&e.to_string()) })
            );
            false
        }
    }
}
