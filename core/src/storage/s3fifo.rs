//! The memory tier's map: S3-FIFO's queues (Yang et al., "FIFO queues are all you need for
//! cache eviction", SOSP 2023) with TinyLFU's admission (Einziger et al., 2017), bounded by
//! bytes.
//!
//! Most objects of a web trace are asked for once: an LRU gives each of them the whole cache's
//! lifetime before it leaves. Here a new entry goes to a small FIFO queue (a tenth of the
//! budget). When it reaches that queue's end it moves to the main queue if it was asked for
//! while there (S3-FIFO), or if a frequency sketch (`sketch`) that counts every `get`, hit or
//! miss, says it was asked for at least twice lately and more often than the main queue's next
//! victim, which then leaves in its place (TinyLFU). Otherwise it leaves, and its key is
//! remembered in a ghost list: stored again while remembered, it goes straight to the main
//! queue (S3-FIFO). So a one-hit wonder leaves after its short stay, and what is asked for
//! again and again is kept even when that is seldom next to the tier's turnover, which the
//! ghost list alone cannot see (and which is what makes LFU-like policies win on the flatter
//! Zipf traces). The main queue is a CLOCK: an entry asked for since its last turn gets
//! another (up to three).
//!
//! No list is reordered on a hit: a hit bumps a two-bit counter and four sketch counters, so
//! `get` does less than an LRU's. Every operation is constant time (eviction amortised: each
//! entry it moves was paid for by a hit or an insertion); `retain` walks every entry.
//!
//! Bounded by the bytes its values hold rather than by count, because an isolate's memory
//! (128 MB on Workers) is what runs out; the sketch's and the ghost keys' bytes count too. Entries also carry
//! an expiry so stale ones are dropped when met instead of occupying the budget.
//!
//! `make hitratio` (bench/hitratio) replays seeded traces through this map and through LRU,
//! SIEVE, S3-FIFO and W-TinyLFU; docs/storage.md has the table.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::mem::size_of;

use crate::storage::heap;
use crate::storage::sketch::Sketch;

/// The small queue's share of the budget: a tenth, as in S3-FIFO.
const SMALL_SHARE: u64 = 10;
/// A hit counter saturates here: an entry in the main queue survives at most this many turns
/// without being asked for.
const MAX_FREQ: u8 = 3;
/// The sketch has a column for every this many bytes of budget: at least three per entry, as
/// the smallest response the worker stores costs 3 to 5 KB (docs/storage.md, "What the
/// memory tier costs"), so that keys seldom share all their counters. It costs 4 bytes a KiB: 0.4 %.
const BYTES_PER_COLUMN: u64 = 1024;
/// No slot: the end of a queue.
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Queue {
    Small,
    Main,
}

struct Slot<V> {
    key: String,
    hash: u64,
    value: V,
    bytes: u64,
    expires_ms: i64,
    freq: u8,
    queue: Queue,
    /// Towards the queue's head (older), and towards its tail (newer).
    older: u32,
    newer: u32,
}

/// A FIFO queue threaded through the slots: `head` is the next to leave.
#[derive(Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
    bytes: u64,
    len: usize,
}

impl Ends {
    const EMPTY: Ends = Ends {
        head: NIL,
        tail: NIL,
        bytes: 0,
        len: 0,
    };
}

/// Keys recently evicted from the small queue, as hashes, oldest first; at most as many as the
/// map holds entries (the paper's ghost queue holds as many as the main queue).
struct Ghost {
    order: VecDeque<u64>,
    members: HashSet<u64>,
}

pub struct S3Fifo<V> {
    budget: u64,
    /// Every entry's bytes and the sketch's.
    used: u64,
    index: HashMap<String, u32>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<u32>,
    small: Ends,
    main: Ends,
    sketch: Sketch,
    ghost: Ghost,
    hasher: RandomState,
    /// Entries moved within or between the queues by evictions so far (each is paid for by a
    /// hit or an insertion: the bound that makes eviction constant time, amortised).
    moves: u64,
}

impl<V> S3Fifo<V> {
    /// What holding a value under `key` costs beyond the value itself: the key's two copies
    /// (the index's and the slot's), the index's entry and the slot, with the room each leaves
    /// empty (a hash table at least 7/16 full after it grows, the slot vector at least half
    /// full, its free list) — two and a half index entries, two slots and two free-list places.
    pub fn key_cost(key: &str) -> u64 {
        let copies = 2 * heap::allocation(key.len());
        let index_entry = (size_of::<(String, u32)>() + 1) * 5 / 2;
        let slot = size_of::<Option<Slot<V>>>() * 2 + size_of::<u32>() * 2;
        (copies + index_entry + slot) as u64
    }

    /// What one remembered ghost key costs: its hash in the queue (at least half full) and in
    /// the set (two and a half places, as the index).
    pub const GHOST_COST: u64 = (2 * size_of::<u64>() + (size_of::<u64>() + 1) * 5 / 2) as u64;

    /// How many evicted keys the ghost list remembers.
    pub fn ghosts(&self) -> usize {
        self.ghost.order.len()
    }

    /// An empty map of `budget` bytes, of which its sketch takes four bytes per KiB.
    pub fn new(budget: u64) -> S3Fifo<V> {
        let columns = (budget / BYTES_PER_COLUMN).min(1 << 24) as usize;
        let sketch = Sketch::new(columns);
        S3Fifo {
            budget,
            used: sketch.bytes(),
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            small: Ends::EMPTY,
            main: Ends::EMPTY,
            sketch,
            ghost: Ghost {
                order: VecDeque::new(),
                members: HashSet::new(),
            },
            hasher: RandomState::new(),
            moves: 0,
        }
    }

    /// The value under `key` if present and not expired at `now_ms`. Hit or miss, the request
    /// is counted in the sketch.
    pub fn get(&mut self, key: &str, now_ms: i64) -> Option<V>
    where
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        self.sketch.record(hash);
        let at = *self.index.get(key)?;
        let slot = self.slots[at as usize].as_mut()?;
        if slot.expires_ms <= now_ms {
            self.remove(key);
            return None;
        }
        slot.freq = (slot.freq + 1).min(MAX_FREQ);
        Some(slot.value.clone())
    }

    /// Whether `key` is held (expired or not), without counting a request.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Stores `value`, evicting until it fits. A value larger than a quarter of the budget is
    /// refused, so one response cannot flush the whole tier. A key held already in the main
    /// queue, or one the ghost list remembers, goes to the main queue; any other to the small
    /// one.
    pub fn insert(&mut self, key: String, value: V, bytes: u64, expires_ms: i64) -> bool {
        let was_main = self.take(&key).is_some_and(|q| q == Queue::Main);
        if bytes > self.budget / 4 {
            return false;
        }
        let hash = self.hasher.hash_one(&key);
        let remembered = self.ghost.members.remove(&hash);
        while self.used + bytes > self.budget {
            if !self.evict() {
                break;
            }
        }
        if self.used + bytes > self.budget {
            return false;
        }
        let slot = Slot {
            hash,
            key: key.clone(),
            value,
            bytes,
            expires_ms,
            freq: 0,
            queue: if was_main || remembered {
                Queue::Main
            } else {
                Queue::Small
            },
            older: NIL,
            newer: NIL,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at as usize] = Some(slot);
                at
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.push(at);
        self.used += bytes;
        self.index.insert(key, at);
        true
    }

    pub fn remove(&mut self, key: &str) -> bool {
        self.take(key).is_some()
    }

    /// Removes every entry for which `keep` is false; returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &V) -> bool) -> usize {
        let doomed: Vec<String> = self
            .slots
            .iter()
            .flatten()
            .filter(|slot| !keep(&slot.key, &slot.value))
            .map(|slot| slot.key.clone())
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

    /// Bytes held now, entries and sketch; never more than the budget.
    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Removes `key`'s entry if held; returns the queue it was in.
    fn take(&mut self, key: &str) -> Option<Queue> {
        let at = self.index.remove(key)?;
        self.unlink(at);
        let slot = self.slots[at as usize].take()?;
        self.free.push(at);
        self.used -= slot.bytes;
        Some(slot.queue)
    }

    /// Frees slot `at`, already unlinked.
    fn drop_slot(&mut self, at: u32) {
        if let Some(slot) = self.slots[at as usize].take() {
            self.free.push(at);
            self.index.remove(&slot.key);
            self.used -= slot.bytes;
        }
    }

    /// The main queue's next victim, brought to its head: entries asked for since their last
    /// turn are given another (their counter spent) on the way.
    fn main_victim(&mut self) -> Option<u32> {
        loop {
            let at = self.main.head;
            let slot = self.slots.get_mut(at as usize)?.as_mut()?;
            if slot.freq == 0 {
                return Some(at);
            }
            slot.freq -= 1;
            self.moves += 1;
            self.unlink(at);
            self.push(at);
        }
    }

    /// Evicts one entry, or forgets one ghost key when no entry is left; false when there is
    /// nothing to let go. While the small queue is over its share (or the main queue is
    /// empty), its oldest entry moves to the main queue if it was asked for while in the small
    /// one, or if the sketch says it was asked for at least twice lately and more often than
    /// the main queue's victim (which then leaves instead); otherwise it leaves and its key is
    /// remembered. Else the main queue's victim leaves.
    fn evict(&mut self) -> bool {
        loop {
            let share = self.budget / SMALL_SHARE;
            if self.small.len > 0 && (self.small.bytes > share || self.main.len == 0) {
                let at = self.small.head;
                let Some(candidate) = self.slots[at as usize].as_ref() else {
                    return false;
                };
                if candidate.freq > 0 {
                    self.promote(at);
                    continue;
                }
                let hash = candidate.hash;
                let asked = self.sketch.estimate(hash);
                if asked >= 2 {
                    if let Some(victim) = self.main_victim() {
                        let victim_hash =
                            self.slots[victim as usize].as_ref().map_or(0, |s| s.hash);
                        if asked > self.sketch.estimate(victim_hash) {
                            self.unlink(victim);
                            self.drop_slot(victim);
                            self.promote(at);
                            return true;
                        }
                    }
                }
                self.unlink(at);
                self.drop_slot(at);
                self.remember(hash);
                return true;
            }
            return match self.main_victim() {
                Some(victim) => {
                    self.unlink(victim);
                    self.drop_slot(victim);
                    true
                }
                None => self.forget_one(),
            };
        }
    }

    /// Remembers an evicted key, forgetting the oldest ones beyond one per entry held.
    fn remember(&mut self, hash: u64) {
        if self.ghost.members.insert(hash) {
            self.ghost.order.push_back(hash);
            self.used += Self::GHOST_COST;
        }
        while self.ghost.order.len() > self.index.len().max(1) {
            self.forget_one();
        }
    }

    fn forget_one(&mut self) -> bool {
        match self.ghost.order.pop_front() {
            Some(hash) => {
                self.ghost.members.remove(&hash);
                self.used -= Self::GHOST_COST;
                true
            }
            None => false,
        }
    }

    /// Moves slot `at` from the small queue to the main queue's tail.
    fn promote(&mut self, at: u32) {
        self.unlink(at);
        if let Some(slot) = self.slots[at as usize].as_mut() {
            slot.queue = Queue::Main;
            slot.freq = 0;
        }
        self.moves += 1;
        self.push(at);
    }

    /// Appends slot `at` to its queue's tail.
    fn push(&mut self, at: u32) {
        let Some(slot) = self.slots[at as usize].as_mut() else {
            return;
        };
        let bytes = slot.bytes;
        let ends = match slot.queue {
            Queue::Small => &mut self.small,
            Queue::Main => &mut self.main,
        };
        slot.older = ends.tail;
        slot.newer = NIL;
        let old_tail = ends.tail;
        ends.tail = at;
        if ends.head == NIL {
            ends.head = at;
        }
        ends.bytes += bytes;
        ends.len += 1;
        if old_tail != NIL {
            if let Some(prev) = self.slots[old_tail as usize].as_mut() {
                prev.newer = at;
            }
        }
    }

    /// Takes slot `at` out of its queue, leaving it in place.
    fn unlink(&mut self, at: u32) {
        let Some(slot) = self.slots[at as usize].as_ref() else {
            return;
        };
        let (older, newer, bytes, queue) = (slot.older, slot.newer, slot.bytes, slot.queue);
        if older != NIL {
            if let Some(s) = self.slots[older as usize].as_mut() {
                s.newer = newer;
            }
        }
        if newer != NIL {
            if let Some(s) = self.slots[newer as usize].as_mut() {
                s.older = older;
            }
        }
        let ends = match queue {
            Queue::Small => &mut self.small,
            Queue::Main => &mut self.main,
        };
        if ends.head == at {
            ends.head = newer;
        }
        if ends.tail == at {
            ends.tail = older;
        }
        ends.bytes -= bytes;
        ends.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: u64 = 1000;
    const G: u64 = S3Fifo::<u64>::GHOST_COST;

    /// A map with room for `n` entries of `E` bytes, as many ghost keys and its sketch.
    fn room(n: u64) -> S3Fifo<u64> {
        let map = S3Fifo::new(n * (E + G) + 64);
        assert_eq!(map.used(), 64, "the smallest sketch");
        map
    }

    fn queue_of(map: &S3Fifo<u64>, key: &str) -> Option<Queue> {
        let at = *map.index.get(key)?;
        map.slots[at as usize].as_ref().map(|s| s.queue)
    }

    #[test]
    fn values_are_found_until_they_expire() {
        let mut map = room(10);
        assert!(map.insert("a".into(), 1, E, 1_000));
        assert_eq!(map.get("a", 999), Some(1));
        assert_eq!(map.get("a", 1_000), None);
        assert_eq!(
            map.used(),
            64,
            "an expired entry frees its bytes; the sketch stays"
        );
        assert!(map.is_empty());
    }

    #[test]
    fn the_budget_is_never_exceeded_and_every_entry_and_ghost_key_is_counted() {
        let mut map = S3Fifo::new(100_000);
        for i in 0..20_000u64 {
            map.insert(format!("k{}", i % 3_000), i, 100 + i % 2_000, i64::MAX);
            let _ = map.get(&format!("k{}", (i * 7) % 3_000), 0);
            let entries: u64 = map.slots.iter().flatten().map(|s| s.bytes).sum();
            let sketch = map.sketch.bytes();
            assert_eq!(map.used(), entries + map.ghosts() as u64 * G + sketch);
            assert!(map.used() <= 100_000);
            assert_eq!(map.small.bytes + map.main.bytes, entries);
            assert_eq!(map.small.len + map.main.len, map.len());
        }
        assert!(map.ghosts() > 0, "evicted keys were remembered");
        assert!(map.ghosts() <= map.len().max(1));
    }

    #[test]
    fn a_new_entry_not_asked_for_again_leaves_before_one_that_was() {
        let mut map = room(10);
        for i in 0..10 {
            map.insert(format!("k{i}"), i, E, i64::MAX);
        }
        assert_eq!(map.get("k0", 0), Some(0));
        map.insert("new".into(), 10, E, i64::MAX);
        assert_eq!(
            queue_of(&map, "k0"),
            Some(Queue::Main),
            "asked for again: moved to main"
        );
        assert!(
            !map.contains("k1"),
            "the oldest entry not asked for again left"
        );
        assert!(
            (2..10).all(|i| map.contains(&format!("k{i}"))),
            "and only it"
        );
        assert_eq!(map.ghosts(), 1, "its key is remembered");
    }

    #[test]
    fn one_hit_wonders_leave_and_do_not_flush_what_is_asked_again() {
        // Entries of 4 KB, about the smallest the worker stores: 50 asked for in every round,
        // then a scan of 200 asked for once each (twice the budget), as a worker fills them
        // (a miss, then an insert). Admission is by a frequency sketch whose estimates are
        // noisy (count-min, random hash keys), so a hot entry may now and then lose its place
        // to a one-off whose estimate collides upwards; it comes back on its next miss. LRU
        // keeps none of them through a scan.
        fn run(get: &mut dyn FnMut(&str) -> bool, insert: &mut dyn FnMut(String)) -> Vec<usize> {
            for i in 0..50 {
                insert(format!("hot{i}"));
                get(&format!("hot{i}"));
            }
            let mut hits = Vec::new();
            for round in 0..20u64 {
                for j in 0..200 {
                    let key = format!("once{round}-{j}");
                    assert!(!get(&key), "{key} is new");
                    insert(key);
                }
                let mut hit = 0;
                for i in 0..50 {
                    let key = format!("hot{i}");
                    if get(&key) {
                        hit += 1;
                    } else {
                        insert(key);
                    }
                }
                hits.push(hit);
            }
            hits
        }
        let map = std::cell::RefCell::new(S3Fifo::new(400_000));
        let hits = run(
            &mut |key| map.borrow_mut().get(key, 0).is_some(),
            &mut |key| {
                map.borrow_mut().insert(key, 0, 4000, i64::MAX);
            },
        );
        let lru = std::cell::RefCell::new(crate::storage::lru::Lru::new(400_000));
        let lru_hits = run(
            &mut |key| lru.borrow_mut().get(key, 0).is_some(),
            &mut |key| {
                lru.borrow_mut().insert(key, 0u64, 4000, i64::MAX);
            },
        );
        assert!(lru_hits.iter().all(|&h| h == 0), "LRU: {lru_hits:?}");
        assert!(
            hits.iter().all(|&h| h >= 45),
            "at least 45 of the 50 hot entries hit after every scan: {hits:?}"
        );
        assert!(
            hits.iter().sum::<usize>() >= 980,
            "98 % over the rounds: {hits:?}"
        );
    }

    #[test]
    fn a_key_the_ghost_list_remembers_goes_straight_to_the_main_queue() {
        let mut map = room(10);
        for i in 0..11 {
            map.insert(format!("k{i}"), i, E, i64::MAX);
        }
        assert!(!map.contains("k0"));
        assert_eq!(map.ghosts(), 1);
        map.insert("k0".into(), 0, E, i64::MAX);
        assert_eq!(queue_of(&map, "k0"), Some(Queue::Main));
        assert_eq!(queue_of(&map, "k2"), Some(Queue::Small));
        assert!(!map.contains("k1"), "k1 left the small queue to make room");
        map.remove("k0");
        map.insert("k0".into(), 0, E, i64::MAX);
        assert_eq!(
            queue_of(&map, "k0"),
            Some(Queue::Small),
            "a ghost key is used once"
        );
    }

    #[test]
    fn an_entry_asked_for_often_before_it_was_stored_takes_the_place_of_one_asked_for_less() {
        const BIG: u64 = 100_000;
        let mut map = S3Fifo::<u64>::new(10 * (BIG + G) + 4096);
        for i in 0..10 {
            let key = format!("k{i}");
            map.get(&key, 0);
            map.insert(key.clone(), i, BIG, i64::MAX);
            map.get(&key, 0);
        }
        for _ in 0..3 {
            assert_eq!(map.get("often", 0), None);
        }
        map.insert("often".into(), 1, BIG, i64::MAX);
        for j in 0..4 {
            let key = format!("once{j}");
            map.get(&key, 0);
            map.insert(key, j, BIG, i64::MAX);
        }
        assert_eq!(
            queue_of(&map, "often"),
            Some(Queue::Main),
            "asked for three times, never while in the small queue"
        );
        assert!(!map.contains("once0"), "asked for once: left");
        assert!(map.ghosts() >= 1);
        assert!(map.used() <= map.budget());
    }

    #[test]
    fn the_main_queue_gives_an_entry_asked_for_since_its_last_turn_another() {
        let mut map = room(10);
        for i in 0..10 {
            map.insert(format!("k{i}"), i, E, i64::MAX);
            map.get(&format!("k{i}"), 0);
        }
        // All ten were asked for again: they move to main, and its oldest leaves.
        map.insert("x".into(), 99, E, i64::MAX);
        assert!(!map.contains("k0"));
        assert_eq!(queue_of(&map, "k1"), Some(Queue::Main));
        map.get("k1", 0);
        map.insert("y".into(), 99, E, i64::MAX);
        assert!(map.contains("k1"), "asked for since its last turn: kept");
        assert!(
            !map.contains("k2"),
            "not asked for since moving to main: evicted"
        );
        assert!(map.used() <= map.budget());
    }

    #[test]
    fn oversized_values_are_refused_and_evict_nothing() {
        let mut map = S3Fifo::new(100);
        let sketch = map.used();
        map.insert("small".into(), 1, 10, i64::MAX);
        assert!(!map.insert("big".into(), 2, 26, i64::MAX));
        assert_eq!(map.get("small", 0), Some(1));
        assert_eq!(map.used(), sketch + 10);
    }

    #[test]
    fn remove_retain_and_replacing_a_key_release_their_bytes() {
        let mut map = S3Fifo::new(1000);
        let sketch = map.used();
        map.insert("a1".into(), 1, 10, i64::MAX);
        map.insert("b1".into(), 2, 10, i64::MAX);
        map.insert("a2".into(), 3, 10, i64::MAX);
        assert_eq!(map.retain(|key, _| !key.starts_with('a')), 2);
        assert_eq!((map.len(), map.used()), (1, sketch + 10));
        map.insert("b1".into(), 4, 5, i64::MAX);
        assert_eq!((map.get("b1", 0), map.used()), (Some(4), sketch + 5));
        assert!(map.remove("b1"));
        assert!(!map.remove("b1"));
        assert!(map.is_empty());
        assert_eq!((map.used(), map.small.len + map.main.len), (sketch, 0));
        map.insert("c".into(), 5, 10, i64::MAX);
        assert_eq!(map.slots.len(), 3, "freed slots are reused");
    }

    #[test]
    fn an_entry_replaced_while_in_the_main_queue_stays_there() {
        let mut map = room(10);
        for i in 0..10 {
            map.insert(format!("k{i}"), i, E, i64::MAX);
            map.get(&format!("k{i}"), 0);
        }
        map.insert("x".into(), 0, E, i64::MAX);
        assert_eq!(queue_of(&map, "k5"), Some(Queue::Main));
        map.insert("k5".into(), 7, E, i64::MAX);
        assert_eq!(queue_of(&map, "k5"), Some(Queue::Main));
        assert_eq!(map.get("k5", 0), Some(7));
    }

    #[test]
    fn evictions_move_no_more_entries_than_there_were_hits_and_insertions() {
        // Each move is paid for by a hit (a main-queue turn spends one) or an insertion (one
        // move from small to main): eviction is constant time, amortised, whatever the size.
        for entries in [1_000u64, 20_000] {
            let mut map = S3Fifo::<u64>::new(entries * 100);
            let mut operations = 0;
            for i in 0..entries * 10 {
                // Skewed towards small numbers: the smaller of two uniform draws.
                let a = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % (entries * 3);
                let b = (i.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 40) % (entries * 3);
                let key = format!("k{}", a.min(b));
                operations += 1;
                if map.get(&key, 0).is_none() {
                    map.insert(key, i, 50 + i % 100, i64::MAX);
                }
            }
            assert!(
                map.moves <= operations,
                "{} moves for {operations}",
                map.moves
            );
            assert!(map.moves > 0);
        }
    }

    #[test]
    fn holding_a_key_costs_its_two_copies_and_more_for_a_longer_key() {
        let short = S3Fifo::<u64>::key_cost("k");
        let long = S3Fifo::<u64>::key_cost(&"k".repeat(1001));
        assert_eq!(
            long - short,
            2 * 1000,
            "the index and the slot each keep a copy"
        );
        assert!(
            short > 2 * size_of::<String>() as u64,
            "the slots count too"
        );
        assert!(S3Fifo::<[u8; 256]>::key_cost("k") > short + 256);
    }
}
