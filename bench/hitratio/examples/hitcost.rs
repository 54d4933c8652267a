//! What a hit costs the memory tier's policy against the LRU it replaced, on the host: a
//! thousand entries of 10 KB in the default 16 MiB, then five million lookups that all hit.
//!
//!   cargo run --release --manifest-path bench/hitratio/Cargo.toml --example hitcost
//!
//! A measurement, not a test: it prints nanoseconds per lookup for three rounds.

use std::hint::black_box;
use std::time::Instant;

use edgecache_core::storage::lru::Lru;
use edgecache_core::storage::s3fifo::S3Fifo;

const ENTRIES: usize = 1000;
const LOOKUPS: usize = 5_000_000;

fn main() {
    let keys: Vec<String> = (0..ENTRIES)
        .map(|i| format!(":1:https://example.com/blog/post-{i}?page=2"))
        .collect();
    // A stride prime to the number of keys: every key in turn, in no order a cache line helps.
    let key = |i: usize| &keys[(i * 7919) % ENTRIES];
    for round in 1..=3 {
        let mut tier = S3Fifo::<u64>::new(16 << 20);
        let mut lru = Lru::<u64>::new(16 << 20);
        for k in &keys {
            tier.insert(k.clone(), 1, 10_000, i64::MAX);
            lru.insert(k.clone(), 1, 10_000, i64::MAX);
        }
        let started = Instant::now();
        let mut hits = 0usize;
        for i in 0..LOOKUPS {
            hits += usize::from(black_box(tier.get(key(i), 0)).is_some());
        }
        let tier_ns = started.elapsed().as_nanos() as f64 / LOOKUPS as f64;
        let started = Instant::now();
        for i in 0..LOOKUPS {
            hits += usize::from(black_box(lru.get(key(i), 0)).is_some());
        }
        let lru_ns = started.elapsed().as_nanos() as f64 / LOOKUPS as f64;
        assert_eq!(hits, 2 * LOOKUPS, "every lookup hits");
        println!(
            "round {round}: a hit costs the tier (S3-FIFO) {tier_ns:.1} ns, the LRU {lru_ns:.1} ns: {:.2}x",
            tier_ns / lru_ns
        );
    }
}
