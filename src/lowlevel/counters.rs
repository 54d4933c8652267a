//! Counters and versions: `incr`, `decr`, `incr_version`, `decr_version`, each keeping the
//! value's expiry.

use super::record::add_to;
use super::{Cache, Error, Result};

impl Cache {
    /// Adds `delta` to the integer under `key`, keeping its expiry, and returns the new
    /// value. `Error::Missing` if the key holds nothing (as Django), `Error::NotAnInteger`,
    /// `Error::Overflow`. Atomic only on the memory tier (see the module's documentation).
    pub async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        let stored = self.stored_key(key).await?;
        let Some(entry) = self.read(&stored).await? else {
            return Err(Error::Missing(key.to_string()));
        };
        let value = add_to(key, &entry.body, delta)?;
        let meta = &entry.meta;
        self.write(
            key,
            &stored,
            Self::to_json(&value)?,
            meta.stored_at,
            meta.lifetime,
        )
        .await?;
        Ok(value)
    }

    /// Subtracts `delta`: `incr(key, -delta)`.
    pub async fn decr(&self, key: &str, delta: i64) -> Result<i64> {
        let delta = delta
            .checked_neg()
            .ok_or_else(|| Error::Overflow(key.to_string()))?;
        self.incr(key, delta).await
    }

    /// Moves the value under `key` from this handle's version to `version + delta`, keeping
    /// its expiry, and returns the new version (Django's `incr_version`). `Error::Missing` if
    /// there is nothing to move.
    pub async fn incr_version(&self, key: &str, delta: i64) -> Result<u64> {
        let target = self
            .version
            .checked_add_signed(delta)
            .ok_or_else(|| Error::Overflow(key.to_string()))?;
        let stored = self.stored_key(key).await?;
        let Some(entry) = self.read(&stored).await? else {
            return Err(Error::Missing(key.to_string()));
        };
        let moved = self.clone().with_version(target);
        let new_key = moved.stored_key(key).await?;
        let meta = &entry.meta;
        moved
            .write(
                key,
                &new_key,
                entry.body.to_vec(),
                meta.stored_at,
                meta.lifetime,
            )
            .await?;
        if new_key.key != stored.key {
            self.backend.delete(&stored.key).await?;
        }
        Ok(target)
    }

    /// `incr_version(key, -delta)`.
    pub async fn decr_version(&self, key: &str, delta: i64) -> Result<u64> {
        let delta = delta
            .checked_neg()
            .ok_or_else(|| Error::Overflow(key.to_string()))?;
        self.incr_version(key, delta).await
    }
}
