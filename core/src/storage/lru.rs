//! A least-recently-used map bounded by bytes, for the in-isolate memory tier.
//!
//! Bounded by the bytes its values hold rather than by count, because an isolate's memory
//! (128 MB on Workers) is what runs out. Entries also carry an expiry so stale ones are
//! dropped when met instead of occupying the budget.

use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;

use crate::storage::heap;

pub struct Lru<V> {
    budget: u64,
    used: u64,
    tick: u64,
    slots: HashMap<String, Slot<V>>,
    /// Recency order: tick of last use → key. The smallest tick is evicted first.
    order: BTreeMap<u64, String>,
}

struct Slot<V> {
    value: V,
    bytes: u64,
    tick: u64,
    expires_ms: i64,
}

impl<V> Lru<V> {
    /// What holding a value under `key` costs beyond the value itself: the key's two copies
    /// (the map's and the recency index's), the map's slot and the index's entry, with the
    /// room each leaves empty (a hash table at least 7/16 full after it grows, B-tree nodes
    /// at least 5/11 full): two and a half slots per entry.
    pub fn key_cost(key: &str) -> u64 {
        let copies = 2 * heap::allocation(key.len());
        let map_slot = (size_of::<(String, Slot<V>)>() + 1) * 5 / 2;
        let index_entry = size_of::<(u64, String)>() * 5 / 2 + size_of::<usize>();
        (copies + map_slot + index_entry) as u64
    }
}

impl<V: Clone> Lru<V> {
    pub fn new(budget: u64) -> Lru<V> {
        Lru {
            budget,
            used: 0,
            tick: 0,
            slots: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// The value under `key` if present and not expired at `now_ms`; marks it recently used.
    pub fn get(&mut self, key: &str, now_ms: i64) -> Option<V> {
        let slot = self.slots.get(key)?;
        if slot.expires_ms <= now_ms {
            self.remove(key);
            return None;
        }
        self.tick += 1;
        let tick = self.tick;
        let slot = self.slots.get_mut(key)?;
        self.order.remove(&slot.tick);
        slot.tick = tick;
        self.order.insert(tick, key.to_string());
        Some(slot.value.clone())
    }

    /// Stores `value`, evicting the least recently used entries until it fits. A value larger
    /// than a quarter of the budget is refused, so one response cannot flush the whole tier.
    pub fn insert(&mut self, key: String, value: V, bytes: u64, expires_ms: i64) -> bool {
        self.remove(&key);
        if bytes > self.budget / 4 {
            return false;
        }
        while self.used + bytes > self.budget {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.remove(&oldest) {
                self.used -= slot.bytes;
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.used += bytes;
        self.slots.insert(
            key,
            Slot {
                value,
                bytes,
                tick: self.tick,
                expires_ms,
            },
        );
        true
    }

    pub fn remove(&mut self, key: &str) -> bool {
        match self.slots.remove(key) {
            Some(slot) => {
                self.order.remove(&slot.tick);
                self.used -= slot.bytes;
                true
            }
            None => false,
        }
    }

    /// Removes every entry for which `keep` is false; returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &V) -> bool) -> usize {
        let doomed: Vec<String> = self
            .slots
            .iter()
            .filter(|(key, slot)| !keep(key, &slot.value))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &doomed {
            self.remove(key);
        }
        doomed.len()
    }

    /// The most bytes it holds.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Bytes held now; never more than the budget.
    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_until_they_expire() {
        let mut lru = Lru::new(100);
        assert!(lru.insert("a".into(), 1, 10, 1_000));
        assert_eq!(lru.get("a", 999), Some(1));
        assert_eq!(lru.get("a", 1_000), None);
        assert_eq!(lru.used(), 0, "an expired entry frees its bytes");
    }

    #[test]
    fn the_least_recently_used_entry_is_evicted_first() {
        let mut lru = Lru::new(100);
        lru.insert("a".into(), 1, 25, i64::MAX);
        lru.insert("b".into(), 2, 25, i64::MAX);
        lru.insert("c".into(), 3, 25, i64::MAX);
        lru.insert("d".into(), 4, 25, i64::MAX);
        assert_eq!(lru.get("a", 0), Some(1)); // a is now the most recent
        lru.insert("e".into(), 5, 25, i64::MAX);
        assert_eq!(lru.get("b", 0), None, "b was the least recently used");
        assert_eq!(lru.get("a", 0), Some(1));
        assert_eq!(lru.used(), 100);
    }

    #[test]
    fn the_budget_is_never_exceeded() {
        let mut lru = Lru::new(1000);
        for i in 0..10_000u64 {
            lru.insert(format!("k{i}"), i, 1 + i % 200, i64::MAX);
            assert!(lru.used() <= 1000);
        }
        assert!(lru.len() < 100);
    }

    #[test]
    fn oversized_values_are_refused() {
        let mut lru = Lru::new(100);
        lru.insert("small".into(), 1, 10, i64::MAX);
        assert!(!lru.insert("big".into(), 2, 26, i64::MAX));
        assert_eq!(
            lru.get("small", 0),
            Some(1),
            "a refused value evicts nothing"
        );
    }

    #[test]
    fn retain_removes_what_it_is_told_and_frees_the_bytes() {
        let mut lru = Lru::new(100);
        lru.insert("a1".into(), 1, 10, i64::MAX);
        lru.insert("b1".into(), 2, 10, i64::MAX);
        lru.insert("a2".into(), 3, 10, i64::MAX);
        assert_eq!(lru.retain(|key, _| !key.starts_with('a')), 2);
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.used(), 10);
    }

    #[test]
    fn holding_a_key_costs_its_two_copies_and_more_for_a_longer_key() {
        let short = Lru::<u64>::key_cost("k");
        let long = Lru::<u64>::key_cost(&"k".repeat(1001));
        assert_eq!(
            long - short,
            2 * 1000,
            "the map and the index each keep a copy"
        );
        assert!(
            short > 2 * size_of::<String>() as u64,
            "the slots count too"
        );
        assert!(
            Lru::<[u8; 256]>::key_cost("k") > short,
            "a larger value makes a larger slot"
        );
    }

    #[test]
    fn replacing_a_key_releases_its_old_bytes() {
        let mut lru = Lru::new(100);
        lru.insert("a".into(), 1, 20, i64::MAX);
        lru.insert("a".into(), 2, 5, i64::MAX);
        assert_eq!(lru.used(), 5);
        assert_eq!(lru.get("a", 0), Some(2));
        assert!(lru.remove("a"));
        assert!(lru.is_empty());
    }
}
