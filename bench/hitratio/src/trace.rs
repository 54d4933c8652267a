//! Seeded synthetic traces: requests for objects of a catalogue whose popularity follows a
//! Zipf law, sizes drawn from a lognormal law (median 10 KiB, heavy tail), a share of requests
//! for objects asked for only once, and optionally scans. Same seed, same trace, on any machine.

use std::collections::HashMap;

/// A small, fast, seeded generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// SplitMix64's finaliser: a bijection on u64, so distinct inputs give distinct ids.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone, Copy)]
pub struct Request {
    pub id: u64,
    pub size: u32,
}

/// What a trace is made of.
#[derive(Clone)]
pub struct Shape {
    pub name: &'static str,
    pub seed: u64,
    pub requests: usize,
    pub objects: usize,
    pub zipf: f64,
    /// The share of requests that should go to objects asked for once, all told (the Zipf
    /// draws' own singletons included).
    pub once_share: f64,
    /// Every `scan_every` requests, a scan of `scan_len` consecutive catalogue objects.
    pub scan_every: usize,
    pub scan_len: usize,
    /// The lognormal size law: median bytes and sigma.
    pub median_bytes: f64,
    pub sigma: f64,
    /// Sizes are clamped to this.
    pub max_bytes: u32,
}

pub struct Trace {
    pub name: String,
    pub requests: Vec<Request>,
    pub distinct_objects: usize,
    pub distinct_bytes: u64,
    /// The share of requests that went to an object asked for only once in the whole trace.
    pub once_share: f64,
    pub median_size: u32,
}

/// Draws catalogue ranks (0 is the most popular) from a Zipf law by inverting its table.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(objects: usize, alpha: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(objects);
        let mut total = 0.0;
        for rank in 1..=objects {
            total += 1.0 / (rank as f64).powf(alpha);
            cdf.push(total);
        }
        for p in &mut cdf {
            *p /= total;
        }
        Zipf { cdf }
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&p| p < u).min(self.cdf.len() - 1)
    }
}

impl Shape {
    /// An object's size, a function of its id alone (Box–Muller on two hashes of it).
    fn size_of(&self, id: u64) -> u32 {
        let a = ((mix(id ^ self.seed) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let b = (mix(id.rotate_left(17) ^ self.seed) >> 11) as f64 / (1u64 << 53) as f64;
        let normal = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
        let bytes = self.median_bytes * (self.sigma * normal).exp();
        bytes.clamp(64.0, self.max_bytes as f64) as u32
    }

    pub fn generate(&self) -> Trace {
        let zipf = Zipf::new(self.objects, self.zipf);
        let catalogue = |rank: usize| mix(rank as u64 ^ (self.seed << 32));
        let mut rng = Rng::new(self.seed);
        // The Zipf draws, scans included, then as many one-off objects in their place as make
        // the share of requests to objects asked for once what the shape says.
        let mut ids = Vec::with_capacity(self.requests);
        let mut next_scan = self.scan_every;
        while ids.len() < self.requests {
            if self.scan_every > 0 && ids.len() >= next_scan {
                next_scan += self.scan_every;
                let start = (rng.next_u64() % self.objects as u64) as usize;
                let len = self.scan_len.min(self.requests - ids.len());
                ids.extend((0..len).map(|i| catalogue((start + i) % self.objects)));
                continue;
            }
            ids.push(catalogue(zipf.draw(&mut rng)));
        }
        let counts = count(&ids);
        let singles = ids.iter().filter(|id| counts[id] == 1).count() as f64 / ids.len() as f64;
        let replace = if singles < self.once_share {
            (self.once_share - singles) / (1.0 - singles)
        } else {
            0.0
        };
        let mut one_off = 0u64;
        for id in &mut ids {
            if rng.unit() < replace {
                one_off += 1;
                *id = mix((1u64 << 62) | one_off ^ self.seed);
            }
        }
        let counts = count(&ids);
        let requests: Vec<Request> = ids
            .iter()
            .map(|&id| Request {
                id,
                size: self.size_of(id),
            })
            .collect();
        let once = ids.iter().filter(|id| counts[id] == 1).count();
        let mut sizes: Vec<u32> = counts.keys().map(|&id| self.size_of(id)).collect();
        let distinct_bytes = sizes.iter().map(|&s| s as u64).sum();
        sizes.sort_unstable();
        Trace {
            name: self.name.to_string(),
            distinct_objects: counts.len(),
            distinct_bytes,
            once_share: once as f64 / requests.len() as f64,
            median_size: sizes[sizes.len() / 2],
            requests,
        }
    }
}

fn count(ids: &[u64]) -> HashMap<u64, u32> {
    let mut counts = HashMap::with_capacity(ids.len());
    for &id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// The traces `make hitratio` replays: Zipf 0.8, 1.0 and 1.2 over a million objects, and
/// Zipf 1.0 with scans; in each, about 30 % of requests go to objects asked for only once.
pub fn standard(requests: usize, seed: u64) -> Vec<Shape> {
    let base = Shape {
        name: "",
        seed,
        requests,
        objects: 1_000_000,
        zipf: 1.0,
        once_share: 0.30,
        scan_every: 0,
        scan_len: 0,
        median_bytes: 10_240.0,
        sigma: 1.2,
        max_bytes: 4 << 20,
    };
    vec![
        Shape {
            name: "zipf-0.8",
            zipf: 0.8,
            seed: seed ^ 1,
            ..base.clone()
        },
        Shape {
            name: "zipf-1.0",
            seed: seed ^ 2,
            ..base.clone()
        },
        Shape {
            name: "zipf-1.2",
            zipf: 1.2,
            seed: seed ^ 3,
            ..base.clone()
        },
        Shape {
            name: "zipf-1.0+scans",
            seed: seed ^ 4,
            scan_every: requests / 8,
            scan_len: requests / 80,
            ..base
        },
    ]
}
