//! Finding a request's entry in its tiers, and copying entries between tiers.

use crate::flow::markers;
use crate::flow::reply::Unread;
use crate::runtime::cut;
use crate::store::{read_body, unread_body, Entry, Operation, Read, StoreError, Tier, TierError};
use edgecache_core::control::registry::{Registry, Standing};
use edgecache_core::http::Fields;
use edgecache_core::request::plan::Plan;
use edgecache_core::storage::backend::{Backend, Purge, Ranges};
use edgecache_core::storage::read::BodyRead;
use edgecache_core::storage::record::Kind;

/// A stored response for the request, fresh or not.
pub struct Found {
    /// Index of the tier that held it.
    pub tier: usize,
    /// That tier's backend.
    pub backend: Backend,
    /// Its body is empty while `unread` holds it (Cache API, KV, R2): `complete` reads it,
    /// `take_unread` leaves it in the runtime.
    pub entry: Entry,
    pub unread: Option<web_sys::Response>,
    /// The `Vary` marker it was found through, if the response varies.
    pub marker: Option<Entry>,
    /// Soft-purged since it was stored: usable only stale, while it is refreshed.
    pub soft_purged: bool,
}

/// The stored body is not as long as when it was stored, or could not be read (the tier's
/// error, if it failed): the entry must not be used.
pub struct Unusable(pub Option<TierError>);

impl Found {
    /// The unread body as this request sends it, left in the runtime rather than copied into
    /// Wasm: the whole stream when the runtime vouches for its length, or the part `read`
    /// names, read by `tier` itself or cut from the stream as it passes (`storage::read`
    /// chose which). `Ok(None)`: nothing was taken; `complete` reads it.
    pub async fn take_unread(
        &mut self,
        tier: &Tier,
        read: BodyRead,
    ) -> Result<Option<Unread>, Unusable> {
        let length = self.entry.meta.body_len;
        let BodyRead::Part { first, last, how } = read else {
            let whole = self.unread.as_ref().and_then(|r| unread_body(r, length));
            if whole.is_some() {
                self.unread = None;
            }
            return Ok(whole.map(Unread::Whole));
        };
        let Some(response) = self.unread.take() else {
            return Ok(None);
        };
        if last >= length {
            return Err(Unusable(None));
        }
        let part = match how {
            Ranges::ByBackend => {
                if let Some(body) = response.body() {
                    let _ = body.cancel();
                }
                match tier.read_part(&self.entry.meta, first, last).await {
                    Ok(Some(part)) => part,
                    Ok(None) => return Err(Unusable(None)),
                    Err(e) => {
                        let failed = TierError::new(tier.backend(), Operation::ReadPart, e);
                        return Err(Unusable(Some(failed)));
                    }
                }
            }
            Ranges::FromStream | Ranges::InIsolate => match response.body() {
                Some(body) => cut(&body, first as f64, last as f64),
                None => return Err(Unusable(None)),
            },
        };
        Ok(Some(Unread::Part(part)))
    }

    /// Reads the body if it was left unread. `Unusable` if it could not be read or is not
    /// as long as when it was stored.
    pub async fn complete(&mut self) -> Result<(), Unusable> {
        let Some(response) = self.unread.take() else {
            return Ok(());
        };
        match read_body(self.entry.clone(), &response, self.backend).await {
            Ok(Some(entry)) => {
                self.entry = entry;
                Ok(())
            }
            Ok(None) => Err(Unusable(None)),
            Err(e) => Err(Unusable(Some(TierError::new(
                self.backend,
                Operation::ReadBody,
                e,
            )))),
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
    /// The tiers that failed on the way (each one is then a miss).
    pub failed: Vec<TierError>,
}

/// Reads the tiers in order; the first entry for the request that no purge has removed
/// wins, whatever its age (the caller decides whether it may be used). A failing tier is
/// skipped, and reported in `failed`. `now_ms`: the request's `now`.
pub async fn lookup(
    tiers: &[Tier],
    plan: &Plan,
    headers: &impl Fields,
    registry: &Registry,
    now_ms: i64,
) -> Lookup {
    if registry.unknown {
        return Lookup {
            found: None,
            vary_miss: false,
            vary: Vec::new(),
            standing_unknown: true,
            failed: Vec::new(),
        };
    }
    let mut vary_miss = false;
    let mut vary = Vec::new();
    let mut failed = Vec::new();
    for (index, tier) in tiers.iter().enumerate() {
        let (in_tier, failures) = find(tier, plan, headers, now_ms).await;
        failed.extend(failures);
        let (Read { entry, unread }, marker) = match in_tier {
            InTier::Found(read, marker) => (read, marker),
            InTier::VaryMiss(names) => {
                vary_miss = true;
                vary = names;
                continue;
            }
            InTier::Nothing => continue,
        };
        let meta = &entry.meta;
        let standing =
            registry.standing_under(&meta.url, &meta.tags, &plan.tags, meta.purged_from());
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
                backend: tier.backend(),
                entry,
                unread,
                marker,
                soft_purged,
            }),
            vary_miss,
            vary,
            standing_unknown: false,
            failed,
        };
    }
    Lookup {
        found: None,
        vary_miss,
        vary,
        standing_unknown: false,
        failed,
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
/// afresh, in case it changed. A read that fails counts as nothing there; its error comes
/// back beside what was found.
async fn find(
    tier: &Tier,
    plan: &Plan,
    headers: &impl Fields,
    now_ms: i64,
) -> (InTier, Vec<TierError>) {
    let backend = tier.backend();
    let mut failed = Vec::new();
    if let Some(marker) = markers::recall(backend, &plan.primary, now_ms) {
        match read_response(tier, &plan.variant_key(&marker.meta.vary, headers)).await {
            Ok(Some(variant)) => return (InTier::Found(variant, Some(marker)), failed),
            Ok(None) => {}
            Err(e) => failed.push(e),
        }
    }
    let primary = match read(tier, &plan.primary).await {
        Ok(Some(primary)) => primary,
        Ok(None) => return (InTier::Nothing, failed),
        Err(e) => {
            failed.push(e);
            return (InTier::Nothing, failed);
        }
    };
    let entry = &primary.entry;
    let in_tier = match entry.meta.kind {
        // Parts answer only the Range requests they hold; the caller tells them apart.
        Kind::Response | Kind::Parts => InTier::Found(primary, None),
        // A low-level API value (`edgecache::lowlevel`) whose key happens to look like this
        // URL's is not a response, nor a marker: a miss in this tier.
        Kind::Value => InTier::Nothing,
        Kind::Variants => {
            markers::remember(backend, entry, now_ms);
            let variant_key = plan.variant_key(&entry.meta.vary, headers);
            match read_response(tier, &variant_key).await {
                Ok(Some(variant)) => InTier::Found(variant, Some(primary.entry)),
                Ok(None) => InTier::VaryMiss(entry.meta.vary.clone()),
                Err(e) => {
                    failed.push(e);
                    InTier::VaryMiss(entry.meta.vary.clone())
                }
            }
        }
    };
    (in_tier, failed)
}

/// A tier's stored response (or parts of one) under `key`, if that is what the key holds.
async fn read_response(tier: &Tier, key: &str) -> Result<Option<Read>, TierError> {
    Ok(read(tier, key)
        .await?
        .filter(|read| matches!(read.entry.meta.kind, Kind::Response | Kind::Parts)))
}

/// One tier's entry under `key`. The stored key is checked, so a hashed key can never
/// answer for another.
async fn read(tier: &Tier, key: &str) -> Result<Option<Read>, TierError> {
    match tier.read(key).await {
        Ok(Some(read)) if read.entry.meta.key == key => Ok(Some(read)),
        Ok(_) => Ok(None),
        Err(e) => Err(TierError::new(tier.backend(), Operation::Read, e)),
    }
}

/// Writes an entry (and its `Vary` marker) to `tiers`, to be kept `keep_secs`, and logs
/// one line saying where it went; `now_ms`: the request's `now`, at which a marker written
/// is remembered.
pub async fn write_all(
    tiers: impl IntoIterator<Item = &Tier>,
    (entry, marker): (&Entry, Option<&Entry>),
    keep_secs: u64,
    now_ms: i64,
) {
    let mut written = Vec::new();
    for tier in tiers {
        if let Some(marker) = marker {
            if log_failure(tier.put(&marker.meta.key, marker, keep_secs).await) {
                markers::remember(tier.backend(), marker, now_ms);
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

/// Removes `key` (an entry, or a `Vary` marker, which makes every variant unreachable) from
/// every tier; each tier that failed to is logged, and returned.
pub async fn delete_all(tiers: &[Tier], key: &str) -> Vec<TierError> {
    markers::forget(key);
    let mut failed = Vec::new();
    for tier in tiers {
        if let Err(e) = tier.delete(key).await {
            let error = TierError::new(tier.backend(), Operation::Delete, e);
            log_error(&error);
            failed.push(error);
        }
    }
    failed
}

/// Copies an entry found in a lower tier into the faster tiers above it.
pub async fn backfill(tiers: &[Tier], found: Found, keep_secs: u64, now_ms: i64) {
    let written = (&found.entry, found.marker.as_ref());
    write_all(&tiers[..found.tier], written, keep_secs, now_ms).await;
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
            log_error(&e);
            false
        }
    }
}

/// The log line of a failed storage operation.
fn log_error(error: &impl std::fmt::Display) {
    worker::console_error!(
        "{}",
        serde_json::json!({ "edgecache": "store-failed", "error": edgecache_core::redact::text(&error.to_string()) })
    );
}
