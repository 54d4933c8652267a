//! The last reason each key was not stored, for the inspector. A location that answers a
//! request without storing it (bypassed, or its answer not kept) notes the key's id, the
//! reason, the status and the time; it sends its notes with its stats, and the control plane
//! keeps the newest note per key for the last `KEPT` keys not stored, a day at most. The
//! control plane is the one place every isolate and location reports to, so what the
//! inspector shows does not depend on which isolate answers it (an isolate's own memory would
//! know only its own requests); a note reaches it within `FLUSH_EVERY_MS` of the request, or
//! at once when the inspector's isolate made it (the inspector sends its isolate's notes
//! first).
//!
//! Keys are kept as ids (the first 53 bits of their SHA-256, a number JavaScript and SQLite
//! hold exactly), never as URLs: the control plane keeps no query value of any request. The
//! map is bounded by recency: a flood of requests to made-up URLs that are not stored pushes
//! the oldest notes out, which the per-URL counts (`stats::Dimension::Unstored`, kept by
//! traffic) do not suffer from.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Notes an isolate holds between two reports, at most: the newest stay.
pub const PER_REPORT: usize = 256;
/// Keys the control plane keeps a note for, at most: the newest stay.
pub const KEPT: usize = 10_000;

/// A key's id: the first 53 bits of the SHA-256 of the key as stored (`Plan::primary`).
pub fn key_id(key: &str) -> i64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as i64
}

/// Why a key's request was last not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotStored {
    /// The reason, as `Cache-Status`'s `detail` says it (`private`, `route-bypass`, …).
    pub reason: String,
    /// What the request was: `bypass` (never looked up) or `miss` (asked the origin, its
    /// answer not stored).
    pub how: String,
    /// The status answered, when there was one.
    #[serde(default)]
    pub status: Option<u16>,
    /// When, ms since the epoch.
    pub at: i64,
}

/// The newest note per key, for at most `PER_REPORT` keys (the newest). A list, searched
/// whole: it is short, and a map would add its code to the Wasm for nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    notes: Vec<(i64, NotStored)>,
}

impl Notes {
    /// Notes `note` for key `id`, over an older note of it; past `PER_REPORT` keys, the
    /// oldest note goes.
    pub fn note(&mut self, id: i64, note: NotStored) {
        match self.notes.iter_mut().find(|(held, _)| *held == id) {
            Some((_, held)) if held.at > note.at => {}
            Some((_, held)) => *held = note,
            None => {
                self.notes.push((id, note));
                if self.notes.len() > PER_REPORT {
                    let oldest = self
                        .notes
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (id, n))| (n.at, *id))
                        .map(|(at, _)| at);
                    if let Some(oldest) = oldest {
                        self.notes.swap_remove(oldest);
                    }
                }
            }
        }
    }

    /// Adds notes that could not be reported back in.
    pub fn merge(&mut self, other: Notes) {
        for (id, note) in other.notes {
            self.note(id, note);
        }
    }

    /// Forgets notes from before `from` (ms).
    pub fn forget_before(&mut self, from: i64) {
        self.notes.retain(|(_, n)| n.at >= from);
    }

    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.notes.len()
    }

    /// What to report, by key id.
    pub fn list(&self) -> Vec<(i64, NotStored)> {
        let mut list = self.notes.clone();
        list.sort_by_key(|(id, _)| *id);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(reason: &str, at: i64) -> NotStored {
        NotStored {
            reason: reason.into(),
            how: "miss".into(),
            status: Some(200),
            at,
        }
    }

    #[test]
    fn a_key_id_is_stable_and_fits_a_javascript_number() {
        let id = key_id("v1:default://a.test/page");
        assert_eq!(id, key_id("v1:default://a.test/page"));
        assert_ne!(id, key_id("v1:default://a.test/page2"));
        assert!((0..1i64 << 53).contains(&id));
    }

    #[test]
    fn the_newest_note_of_a_key_wins() {
        let mut notes = Notes::default();
        notes.note(1, note("private", 10));
        notes.note(1, note("set-cookie", 20));
        notes.note(1, note("no-store", 15));
        assert_eq!(notes.list(), vec![(1, note("set-cookie", 20))]);
    }

    #[test]
    fn an_isolate_holds_the_newest_notes_of_at_most_per_report_keys() {
        let mut notes = Notes::default();
        for id in 0..(PER_REPORT as i64 * 4) {
            notes.note(id, note("private", 1_000 + id));
        }
        assert_eq!(notes.len(), PER_REPORT);
        let oldest = notes.list().iter().map(|(_, n)| n.at).min().unwrap();
        assert_eq!(oldest, 1_000 + 3 * PER_REPORT as i64, "the oldest went");
        notes.forget_before(1_000 + 4 * PER_REPORT as i64 - 1);
        assert_eq!(notes.len(), 1);
    }
}
