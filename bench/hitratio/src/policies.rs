//! The policies replayed: the memory tier's (edgecache-core's `S3Fifo`, the map the worker
//! uses), the LRU it replaced (edgecache-core's `Lru`), reference S3-FIFO and SIEVE written
//! here from their papers, and W-TinyLFU (moka). All bounded by bytes; none admits an object
//! larger than a quarter of its budget (the tier's rule).

use std::collections::{HashMap, HashSet, VecDeque};

use edgecache_core::storage::lru::Lru;
use edgecache_core::storage::s3fifo::S3Fifo;

use crate::trace::Request;

pub trait Policy {
    /// Asks for the object; true on a hit. A miss stores it (if it fits).
    fn access(&mut self, request: &Request, key: &str) -> bool;
}

pub const NAMES: [&str; 5] = ["tier", "LRU", "S3-FIFO", "SIEVE", "W-TinyLFU"];

pub fn make(name: &str, budget: u64) -> Box<dyn Policy + Send> {
    match name {
        "tier" => Box::new(Tier(S3Fifo::new(budget))),
        "LRU" => Box::new(CoreLru(Lru::new(budget))),
        "S3-FIFO" => Box::new(S3FifoRef::new(budget)),
        "SIEVE" => Box::new(Sieve::new(budget)),
        "W-TinyLFU" => Box::new(TinyLfu::new(budget)),
        other => panic!("no policy {other}"),
    }
}

/// The memory tier's policy, exactly as the worker runs it (string keys, its own byte count).
pub struct Tier(pub S3Fifo<()>);

impl Policy for Tier {
    fn access(&mut self, request: &Request, key: &str) -> bool {
        if self.0.get(key, 0).is_some() {
            return true;
        }
        self.0
            .insert(key.to_string(), (), request.size as u64, i64::MAX);
        false
    }
}

/// The LRU the tier used before.
pub struct CoreLru(pub Lru<()>);

impl Policy for CoreLru {
    fn access(&mut self, request: &Request, key: &str) -> bool {
        if self.0.get(key, 0).is_some() {
            return true;
        }
        self.0
            .insert(key.to_string(), (), request.size as u64, i64::MAX);
        false
    }
}

/// S3-FIFO as its paper's Algorithm 1: a small FIFO of a tenth of the bytes, a main FIFO with
/// a 2-bit counter and reinsertion, a ghost FIFO of as many keys as the main queue holds
/// objects. An object moves from small to main if asked for again while in small.
pub struct S3FifoRef {
    budget: u64,
    small_bytes: u64,
    main_bytes: u64,
    objects: HashMap<u64, (u32, u8, bool)>, // size, freq, in main
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    ghost: VecDeque<u64>,
    ghosts: HashSet<u64>,
}

impl S3FifoRef {
    pub fn new(budget: u64) -> S3FifoRef {
        S3FifoRef {
            budget,
            small_bytes: 0,
            main_bytes: 0,
            objects: HashMap::new(),
            small: VecDeque::new(),
            main: VecDeque::new(),
            ghost: VecDeque::new(),
            ghosts: HashSet::new(),
        }
    }

    fn evict(&mut self) {
        if self.small_bytes > self.budget / 10 || self.main.is_empty() {
            while let Some(id) = self.small.pop_front() {
                let (size, freq, _) = self.objects[&id];
                self.small_bytes -= size as u64;
                if freq > 0 {
                    self.objects.insert(id, (size, 0, true));
                    self.main.push_back(id);
                    self.main_bytes += size as u64;
                    continue;
                }
                self.objects.remove(&id);
                if self.ghosts.insert(id) {
                    self.ghost.push_back(id);
                }
                while self.ghost.len() > self.main.len().max(1) {
                    if let Some(old) = self.ghost.pop_front() {
                        self.ghosts.remove(&old);
                    }
                }
                return;
            }
        }
        while let Some(id) = self.main.pop_front() {
            let (size, freq, _) = self.objects[&id];
            if freq > 0 {
                self.objects.insert(id, (size, freq - 1, true));
                self.main.push_back(id);
                continue;
            }
            self.objects.remove(&id);
            self.main_bytes -= size as u64;
            return;
        }
    }
}

impl Policy for S3FifoRef {
    fn access(&mut self, request: &Request, _key: &str) -> bool {
        if let Some(entry) = self.objects.get_mut(&request.id) {
            entry.1 = (entry.1 + 1).min(3);
            return true;
        }
        let size = request.size as u64;
        if size > self.budget / 4 {
            return false;
        }
        while self.small_bytes + self.main_bytes + size > self.budget {
            self.evict();
        }
        if self.ghosts.remove(&request.id) {
            self.objects.insert(request.id, (request.size, 0, true));
            self.main.push_back(request.id);
            self.main_bytes += size;
        } else {
            self.objects.insert(request.id, (request.size, 0, false));
            self.small.push_back(request.id);
            self.small_bytes += size;
        }
        false
    }
}

/// SIEVE (Zhang et al., NSDI 2024): one FIFO with a visited bit, new objects at the head, a
/// hand walking from the tail towards the head clearing bits and evicting the first object
/// whose bit is clear.
pub struct Sieve {
    budget: u64,
    used: u64,
    index: HashMap<u64, usize>,
    nodes: Vec<SieveNode>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    hand: usize,
}

const NONE: usize = usize::MAX;

struct SieveNode {
    id: u64,
    size: u32,
    visited: bool,
    /// Towards the head (newer) and towards the tail (older).
    newer: usize,
    older: usize,
}

impl Sieve {
    pub fn new(budget: u64) -> Sieve {
        Sieve {
            budget,
            used: 0,
            index: HashMap::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NONE,
            tail: NONE,
            hand: NONE,
        }
    }

    fn evict(&mut self) {
        let mut at = if self.hand == NONE {
            self.tail
        } else {
            self.hand
        };
        if at == NONE {
            return;
        }
        while self.nodes[at].visited {
            self.nodes[at].visited = false;
            at = match self.nodes[at].newer {
                NONE => self.tail,
                newer => newer,
            };
        }
        self.hand = self.nodes[at].newer;
        let node = &self.nodes[at];
        let (newer, older) = (node.newer, node.older);
        if newer != NONE {
            self.nodes[newer].older = older;
        } else {
            self.head = older;
        }
        if older != NONE {
            self.nodes[older].newer = newer;
        } else {
            self.tail = newer;
        }
        self.used -= self.nodes[at].size as u64;
        self.index.remove(&self.nodes[at].id);
        self.free.push(at);
    }
}

impl Policy for Sieve {
    fn access(&mut self, request: &Request, _key: &str) -> bool {
        if let Some(&at) = self.index.get(&request.id) {
            self.nodes[at].visited = true;
            return true;
        }
        let size = request.size as u64;
        if size > self.budget / 4 {
            return false;
        }
        while self.used + size > self.budget {
            self.evict();
        }
        let node = SieveNode {
            id: request.id,
            size: request.size,
            visited: false,
            newer: NONE,
            older: self.head,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.nodes[at] = node;
                at
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        if self.head != NONE {
            self.nodes[self.head].newer = at;
        } else {
            self.tail = at;
        }
        self.head = at;
        self.used += size;
        self.index.insert(request.id, at);
        false
    }
}

/// W-TinyLFU as moka implements it, weighted by size.
pub struct TinyLfu {
    budget: u64,
    cache: moka::sync::Cache<u64, u32>,
}

impl TinyLfu {
    pub fn new(budget: u64) -> TinyLfu {
        let cache = moka::sync::Cache::builder()
            .max_capacity(budget)
            .weigher(|_: &u64, size: &u32| *size)
            .build();
        TinyLfu { budget, cache }
    }
}

impl Policy for TinyLfu {
    fn access(&mut self, request: &Request, _key: &str) -> bool {
        if self.cache.get(&request.id).is_some() {
            return true;
        }
        if request.size as u64 <= self.budget / 4 {
            self.cache.insert(request.id, request.size);
        }
        false
    }
}
