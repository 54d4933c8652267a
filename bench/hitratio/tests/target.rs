//! The tier's target on small fixed-seed traces (part of `make test`): at every budget it hits
//! more often than the LRU it replaced, and is within one point of the best of the others in
//! object and in byte hit ratio. `make hitratio` checks the same on the full traces.

use hitratio::{budgets, replay_all, shortfall, trace};

#[test]
fn the_tier_beats_lru_and_is_within_a_point_of_the_best_policy_on_small_traces() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The standard traces' shapes (a million objects), shorter and with another seed.
    for shape in trace::standard(300_000, 7) {
        let trace = shape.generate();
        for (label, budget) in budgets(&trace) {
            let ratios = replay_all(&trace, budget, threads);
            let (tier, lru) = (ratios[0], ratios[1]);
            assert!(
                tier.objects > lru.objects && tier.bytes > lru.bytes,
                "{} at {label}: tier {tier:?}, LRU {lru:?}",
                trace.name
            );
            let (objects, bytes) = shortfall(&ratios);
            assert!(
                objects <= 0.01 && bytes <= 0.01,
                "{} at {label}: {objects:+.3} objects and {bytes:+.3} bytes behind the best ({ratios:?})",
                trace.name
            );
        }
    }
}
