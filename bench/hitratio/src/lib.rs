//! `make hitratio`: the memory tier's policy against LRU, S3-FIFO, SIEVE and W-TinyLFU on
//! seeded synthetic traces, in object and byte hit ratio, at the tier's default budget and at
//! 1, 5 and 10 % of each trace's distinct bytes.

pub mod policies;
pub mod trace;

use std::fmt::Write;

use trace::Trace;

/// The tier's default budget (`memory_max_bytes`).
pub const TIER_DEFAULT: u64 = 16 << 20;

/// The share of requests and of requested bytes that hit.
#[derive(Clone, Copy, Debug)]
pub struct Ratios {
    pub objects: f64,
    pub bytes: f64,
}

/// Replays `trace` through a fresh `policy` of `budget` bytes.
pub fn replay(trace: &Trace, policy: &str, budget: u64) -> Ratios {
    let mut cache = policies::make(policy, budget);
    let (mut hits, mut hit_bytes, mut bytes) = (0u64, 0u64, 0u64);
    let mut key = String::with_capacity(16);
    for request in &trace.requests {
        key.clear();
        let _ = write!(key, "{:016x}", request.id);
        bytes += request.size as u64;
        if cache.access(request, &key) {
            hits += 1;
            hit_bytes += request.size as u64;
        }
    }
    Ratios {
        objects: hits as f64 / trace.requests.len() as f64,
        bytes: hit_bytes as f64 / bytes as f64,
    }
}

/// The budgets a trace is replayed at, with their labels.
pub fn budgets(trace: &Trace) -> Vec<(String, u64)> {
    let mut list = vec![("16 MiB".to_string(), TIER_DEFAULT)];
    for percent in [1, 5, 10] {
        list.push((format!("{percent} %"), trace.distinct_bytes * percent / 100));
    }
    list
}

/// Every policy at one budget, run side by side on up to `threads` threads, in `NAMES` order.
pub fn replay_all(trace: &Trace, budget: u64, threads: usize) -> Vec<Ratios> {
    let names = policies::NAMES;
    let mut out = vec![
        Ratios {
            objects: 0.0,
            bytes: 0.0
        };
        names.len()
    ];
    for chunk in (0..names.len()).collect::<Vec<_>>().chunks(threads.max(1)) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&i| (i, scope.spawn(move || replay(trace, names[i], budget))))
                .collect();
            for (i, handle) in handles {
                out[i] = handle.join().expect("a replay panicked");
            }
        });
    }
    out
}

/// How far the tier (index 0) falls short of the best of the others, in objects and bytes
/// (negative or zero: it is the best).
pub fn shortfall(ratios: &[Ratios]) -> (f64, f64) {
    let best = |f: fn(&Ratios) -> f64| ratios[1..].iter().map(f).fold(0.0, f64::max);
    (
        best(|r| r.objects) - ratios[0].objects,
        best(|r| r.bytes) - ratios[0].bytes,
    )
}
