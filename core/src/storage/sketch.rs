//! How often keys were asked for lately, approximately, in a few bytes per key: a count-min
//! sketch of 4-bit counters that halves them all every so often, as TinyLFU's (Einziger,
//! Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", 2017) and
//! Caffeine's, with conservative update (only a key's smallest counters grow). The memory tier's map (`s3fifo`) asks it whether an entry about to enter its
//! main queue has been asked for more often than the one it would push out.

/// Rows of counters; a key's estimate is its smallest counter, so one collision does not
/// inflate it.
const ROWS: usize = 4;
/// Counters saturate here (four bits' worth).
const MAX_COUNT: u8 = 15;
/// Counts are halved once the requests counted reach this many per column, tenths (each adds
/// to a counter in every row): 2.5 on average per counter, as in Caffeine's sketch, so the
/// sketch follows what is popular now and collisions stay rare.
const SAMPLE_TENTHS_PER_COLUMN: u64 = 25;

pub struct Sketch {
    /// `ROWS` rows of `width` counters, one byte each.
    counters: Vec<u8>,
    /// `width` is a power of two; `shift` takes a hash's top bits to a column.
    shift: u32,
    additions: u64,
    sample: u64,
}

/// Odd multipliers that spread one 64-bit hash into a column per row.
const SEEDS: [u64; ROWS] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0xD6E8_FEB8_6659_FD93,
];

impl Sketch {
    /// A sketch of `width` columns (rounded up to a power of two, at least 16).
    pub fn new(width: usize) -> Sketch {
        let width = width.max(16).next_power_of_two();
        Sketch {
            counters: vec![0; ROWS * width],
            shift: 64 - width.trailing_zeros(),
            additions: 0,
            sample: SAMPLE_TENTHS_PER_COLUMN * width as u64 / 10,
        }
    }

    /// The bytes it holds.
    pub fn bytes(&self) -> u64 {
        self.counters.len() as u64
    }

    fn width(&self) -> usize {
        self.counters.len() / ROWS
    }

    fn cell(&self, hash: u64, row: usize) -> usize {
        row * self.width() + (hash.wrapping_mul(SEEDS[row]) >> self.shift) as usize
    }

    /// Counts one request for the key whose hash is `hash`; every `sample` of them, halves all
    /// counts (constant time amortised: one pass over the counters per `sample` additions).
    pub fn record(&mut self, hash: u64) {
        // Conservative update: only the smallest counters grow, so a key that shares a counter
        // with a popular one is not made to look popular.
        let least = self.estimate(hash);
        if least < MAX_COUNT {
            for row in 0..ROWS {
                let at = self.cell(hash, row);
                if self.counters[at] == least {
                    self.counters[at] += 1;
                }
            }
        }
        self.additions += 1;
        if self.additions >= self.sample {
            for count in &mut self.counters {
                *count /= 2;
            }
            self.additions /= 2;
        }
    }

    /// About how many times the key was asked for lately (never less than it was, since the
    /// last halving).
    pub fn estimate(&self, hash: u64) -> u8 {
        (0..ROWS)
            .map(|row| self.counters[self.cell(hash, row)])
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_never_underestimated_before_they_age() {
        let mut sketch = Sketch::new(1024);
        for key in 0..500u64 {
            for _ in 0..(key % 7) {
                sketch.record(key.wrapping_mul(0x2545_F491_4F6C_DD1D));
            }
        }
        for key in 0..500u64 {
            let estimate = sketch.estimate(key.wrapping_mul(0x2545_F491_4F6C_DD1D));
            assert!(estimate >= (key % 7) as u8, "key {key}: {estimate}");
        }
    }

    #[test]
    fn counts_saturate_and_are_halved_after_the_sample() {
        let mut sketch = Sketch::new(16);
        for _ in 0..30 {
            sketch.record(42);
        }
        assert_eq!(sketch.estimate(42), MAX_COUNT);
        // The 40th addition (2.5 per column of 16) halves every count.
        for _ in 0..10 {
            sketch.record(42);
        }
        assert!(
            sketch.estimate(42) <= MAX_COUNT / 2,
            "an old favourite fades"
        );
    }

    #[test]
    fn its_size_is_four_bytes_a_column() {
        assert_eq!(Sketch::new(1000).bytes(), 4 * 1024);
        assert_eq!(Sketch::new(1).bytes(), 4 * 16);
    }
}
