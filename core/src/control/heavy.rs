//! A heavy-hitters sketch: counts kept per name for at most a bounded number of names (and
//! bytes of names), chosen by traffic, not by arrival. It is Space-Saving (Metwally, Agrawal
//! and El Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data Streams",
//! ICDT 2005) in its mergeable form (Agarwal et al., "Mergeable Summaries", PODS 2012): a name
//! that is not held takes the place of the least counted one, and inherits its count as the
//! name's possible error. Every count kept is what was seen of that name (a lower bound); its
//! `error` is what may be missing (the true count is at most `count + error`); a name not held
//! was seen at most `floor` times. A name seen more than `floor` times is always held, and
//! `floor` is at most the number of requests counted divided by the names held, so one-off
//! names, however many, never push out a name that carries a share of the traffic.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The longest name kept: a DNS name's limit (RFC 1035 §2.3.4, 255 octets on the wire, 253
/// as text). Longer names are cut to it, ending in `…` (`cut_name`).
pub const MAX_NAME_BYTES: usize = 253;

/// What a sketch counts for each name: something that adds up and weighs some number of
/// requests.
pub trait Tally: Clone + Default {
    /// How much this tally counts (requests) when names are ranked.
    fn weight(&self) -> u64;
    fn add(&mut self, other: &Self);
}

/// What one name has: what was seen of it, and how much more it may have had.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held<T> {
    #[serde(flatten)]
    pub tally: T,
    /// Requests of this name that may have been counted before it was held (under `other`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<T: Tally> Held<T> {
    /// The most this name can have had: what ranks it.
    pub fn bound(&self) -> u64 {
        self.tally.weight().saturating_add(self.error)
    }
}

/// How much a sketch holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Names held.
    pub names: usize,
    /// Bytes of names held, all together.
    pub bytes: usize,
}

/// Names cut to `MAX_NAME_BYTES` end in this.
const CUT_MARK: &str = "…";

/// `name`, or when longer than `MAX_NAME_BYTES` its first bytes (whole characters) and `…`,
/// `MAX_NAME_BYTES` at most: every name longer than a DNS name is cut, never refused, so that
/// its requests still count, and two names alike in their first 250 bytes count as one.
pub fn cut_name(name: &str) -> Cow<'_, str> {
    if name.len() <= MAX_NAME_BYTES {
        return Cow::Borrowed(name);
    }
    let mut end = MAX_NAME_BYTES - CUT_MARK.len();
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{CUT_MARK}", &name[..end]))
}

/// Counts for at most `Limits` names, the most counted, and what the others had together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize",
    deserialize = "T: Deserialize<'de> + Default"
))]
pub struct HeavyHitters<T> {
    #[serde(default)]
    pub names: BTreeMap<String, Held<T>>,
    /// What was counted for names not held (or no longer held).
    #[serde(default)]
    pub other: T,
    /// The most any name not held can have had.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub floor: u64,
}

impl<T: Default> Default for HeavyHitters<T> {
    fn default() -> Self {
        HeavyHitters {
            names: BTreeMap::new(),
            other: T::default(),
            floor: 0,
        }
    }
}

impl<T: Tally> HeavyHitters<T> {
    /// Counts `tally` for `name` (cut to `MAX_NAME_BYTES`). A name not held yet enters with
    /// the `floor` as its error; when that makes too many names, the least counted leaves.
    pub fn add(&mut self, name: &str, tally: &T, limits: Limits) {
        let name = cut_name(name);
        match self.names.get_mut(name.as_ref()) {
            Some(held) => held.tally.add(tally),
            None => {
                self.names.insert(
                    name.into_owned(),
                    Held {
                        tally: tally.clone(),
                        error: self.floor,
                    },
                );
                self.trim(limits);
            }
        }
    }

    /// Adds another sketch's counts (an isolate's report, or another minute's). A name held
    /// by only one of the two may have had up to the other's `floor` there, which its error
    /// takes on; then the least counted names leave until the limits hold.
    pub fn merge(&mut self, other: &HeavyHitters<T>, limits: Limits) {
        for (name, held) in self.names.iter_mut() {
            if !other.names.contains_key(name) {
                held.error = held.error.saturating_add(other.floor);
            }
        }
        for (name, theirs) in &other.names {
            let name = cut_name(name);
            match self.names.get_mut(name.as_ref()) {
                Some(held) => {
                    held.tally.add(&theirs.tally);
                    held.error = held.error.saturating_add(theirs.error);
                }
                None => {
                    self.names.insert(
                        name.into_owned(),
                        Held {
                            tally: theirs.tally.clone(),
                            error: theirs.error.saturating_add(self.floor),
                        },
                    );
                }
            }
        }
        self.other.add(&other.other);
        self.floor = self.floor.saturating_add(other.floor);
        self.trim(limits);
    }

    /// Everything counted: every name's and the others'.
    pub fn total(&self) -> T {
        let mut total = self.other.clone();
        for held in self.names.values() {
            total.add(&held.tally);
        }
        total
    }

    /// Bytes of the names held.
    pub fn name_bytes(&self) -> usize {
        self.names.keys().map(String::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.other.weight() == 0
    }

    /// Lets the least counted names go (their counts to `other`) until `limits` hold.
    fn trim(&mut self, limits: Limits) {
        let mut bytes = self.name_bytes();
        while self.names.len() > limits.names || bytes > limits.bytes {
            // The least bound leaves; on a tie, the one seen least, then the last by name.
            let Some(least) = self
                .names
                .iter()
                .min_by(|(a_name, a), (b_name, b)| {
                    (a.bound(), a.tally.weight())
                        .cmp(&(b.bound(), b.tally.weight()))
                        .then_with(|| b_name.cmp(a_name))
                })
                .map(|(name, _)| name.clone())
            else {
                break;
            };
            if let Some(held) = self.names.remove(&least) {
                bytes -= least.len();
                self.floor = self.floor.max(held.bound());
                self.other.add(&held.tally);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Tally for u64 {
        fn weight(&self) -> u64 {
            *self
        }
        fn add(&mut self, other: &Self) {
            *self += other;
        }
    }

    /// 16 names: a name with more than 1/16 of the requests is always held.
    const SMALL: Limits = Limits {
        names: 16,
        bytes: 4096,
    };

    /// A deterministic stream of names: xorshift, so that the tests need no dependency.
    struct Stream(u64);

    impl Stream {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// The sketch's promise, checked against exact counts: every name held saw at least its
    /// count and at most its count plus its error; every name not held saw at most `floor`.
    fn assert_bounds(sketch: &HeavyHitters<u64>, exact: &BTreeMap<String, u64>) {
        for (name, &n) in exact {
            match sketch.names.get(name) {
                Some(held) => {
                    assert!(held.tally <= n, "{name}: counted {} > {n}", held.tally);
                    assert!(held.bound() >= n, "{name}: bound {} < {n}", held.bound());
                }
                None => assert!(n <= sketch.floor, "{name}: {n} > floor {}", sketch.floor),
            }
        }
        assert_eq!(
            sketch.total(),
            exact.values().sum::<u64>(),
            "nothing is lost"
        );
    }

    #[test]
    fn a_heavy_name_survives_any_number_of_one_off_names() {
        let mut sketch = HeavyHitters::<u64>::default();
        for n in 0..100_000u32 {
            sketch.add(&format!("made-up-{n}.example"), &1, SMALL);
            if n.is_multiple_of(10) {
                sketch.add("www.example.com", &1, SMALL);
            }
        }
        let real = &sketch.names["www.example.com"];
        assert!(real.tally >= 10_000 - real.error);
        assert!(real.bound() >= 10_000);
        assert_eq!(sketch.total(), 110_000);
        assert!(sketch.floor <= 110_000 / SMALL.names as u64);
    }

    #[test]
    fn a_name_that_comes_first_does_not_keep_its_place_against_traffic() {
        let mut sketch = HeavyHitters::<u64>::default();
        for n in 0..SMALL.names {
            sketch.add(&format!("early-{n}"), &1, SMALL);
        }
        for _ in 0..50 {
            sketch.add("late-and-busy", &1, SMALL);
        }
        assert!(sketch.names.contains_key("late-and-busy"));
        assert_eq!(sketch.names.len(), SMALL.names);
    }

    #[test]
    fn the_bound_on_names_and_bytes_holds() {
        let mut sketch = HeavyHitters::<u64>::default();
        let limits = Limits {
            names: 64,
            bytes: 1024,
        };
        for n in 0..5_000 {
            sketch.add(&format!("{n}.{}", "x".repeat(n % 300)), &1, limits);
            assert!(sketch.names.len() <= limits.names);
            assert!(sketch.name_bytes() <= limits.bytes);
        }
        assert_eq!(sketch.total(), 5_000);
    }

    #[test]
    fn counts_stay_within_their_error_bounds() {
        let mut stream = Stream(0x9e37_79b9_7f4a_7c15);
        let mut sketch = HeavyHitters::<u64>::default();
        let mut exact = BTreeMap::<String, u64>::new();
        for _ in 0..20_000 {
            // A skewed stream: five names a tenth of the requests each, 2,000 names the rest.
            let r = stream.next();
            let name = if r.is_multiple_of(2) {
                format!("hot-{}", r % 5)
            } else {
                format!("cold-{}", r % 2_000)
            };
            sketch.add(&name, &1, SMALL);
            *exact.entry(name).or_default() += 1;
        }
        assert_bounds(&sketch, &exact);
        for hot in 0..5 {
            assert!(sketch.names.contains_key(&format!("hot-{hot}")));
        }
        assert!(sketch.floor <= 20_000 / SMALL.names as u64);
    }

    #[test]
    fn merged_sketches_keep_their_error_bounds_and_the_heavy_names() {
        let mut stream = Stream(42);
        let mut merged = HeavyHitters::<u64>::default();
        let mut exact = BTreeMap::<String, u64>::new();
        for part in 0..40 {
            let mut sketch = HeavyHitters::<u64>::default();
            for i in 0..500u32 {
                let name = if i.is_multiple_of(8) {
                    "real.example".to_string()
                } else {
                    format!("fake-{part}-{}", stream.next() % 10_000)
                };
                sketch.add(&name, &1, SMALL);
                *exact.entry(name).or_default() += 1;
            }
            merged.merge(&sketch, SMALL);
            assert!(merged.names.len() <= SMALL.names);
        }
        assert_bounds(&merged, &exact);
        assert!(merged.names.contains_key("real.example"));
    }

    #[test]
    fn a_name_longer_than_a_dns_name_is_cut_and_still_counted() {
        let long = format!("{}.example.com", "a".repeat(4_000));
        let cut = cut_name(&long);
        assert_eq!(cut.len(), MAX_NAME_BYTES);
        assert!(cut.ends_with('…'));
        assert!(cut.starts_with("aaaa"));
        assert_eq!(cut_name("www.example.com"), "www.example.com");
        let exact = "b".repeat(MAX_NAME_BYTES);
        assert_eq!(cut_name(&exact), exact.as_str(), "253 bytes is not cut");
        let wide = "é".repeat(200);
        let cut = cut_name(&wide);
        assert!(cut.len() <= MAX_NAME_BYTES && cut.ends_with('…'));
        let mut sketch = HeavyHitters::<u64>::default();
        sketch.add(&long, &1, SMALL);
        sketch.add(&format!("{long}.other"), &1, SMALL);
        assert_eq!(
            sketch.names.len(),
            1,
            "alike in their first 250 bytes: one name"
        );
        assert_eq!(sketch.names.values().next().map(|h| h.tally), Some(2));
    }
}
