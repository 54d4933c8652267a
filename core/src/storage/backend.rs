//! The storage backends, and what each one is: its name in the configuration, its limits,
//! how far it is shared, how it expires and how a purge reaches it.
//!
//! `Backend::ALL` is the one list of backends. Config parsing reads names and checks limits
//! from it, a hard purge deletes from every backend in it, the `Vary` marker copies and the
//! low-level API's size checks ask the descriptors; nothing else lists backends. Adding a
//! backend is a variant, its line in `ALL` and its `Descriptor` here, and its store file in
//! the worker crate.

use serde::Deserialize;

/// Where entries are kept. Several backends form tiers, read in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A byte-bounded S3-FIFO with frequency admission inside the isolate: fastest, per
    /// isolate, lost on eviction.
    Memory,
    /// The Cache API (`caches.default`), named `cache` in `backends`: per data center.
    #[serde(rename = "cache")]
    CacheApi,
    /// Workers KV: global, eventually consistent, 60 s minimum TTL.
    Kv,
    /// An R2 bucket: global, no value size limit short of 5 GiB, no expiry of its own.
    R2,
}

/// How far the entries of a backend are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Each isolate has its own.
    Isolate,
    /// Every isolate of one data center shares it.
    Location,
    /// Every location of the deployment shares it.
    Global,
}

/// How a hard purge removes entries from a backend (every backend also refuses a purged
/// entry on read, from the purge registry, whatever this says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Each isolate drops purged entries from its own copy when it learns of the purge.
    InIsolate,
    /// The purging isolate deletes the URL's key, best effort; purges by prefix, tag or all
    /// leave entries in place, refused on read until they expire.
    DeleteKey,
    /// As `DeleteKey`, and a read that finds an entry the registry refuses, or one past its
    /// keep time, deletes it (the backend would otherwise keep it for ever).
    DeleteKeyAndOnRead,
}

/// How a backend lets go of an entry once its keep time has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The backend drops it itself (an LRU's deadline, `expirationTtl`, `max-age`).
    Native,
    /// The backend keeps objects until deleted: the keep time is stored with the entry, a
    /// read past it is a miss, and the object is deleted then.
    OnRead,
}

/// How a backend gives the bytes a Range request asks for out of a stored body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranges {
    /// The body is in the isolate already (the memory tier): the part is cut there.
    InIsolate,
    /// The backend reads only the part's bytes itself: the Cache API's `match` with a `Range`
    /// field, R2's `get` with a `range`.
    ByBackend,
    /// The backend reads values only whole, but as a stream (KV): the stream is read through
    /// and only the part's bytes are kept, a chunk at a time.
    FromStream,
}

/// What a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// Its name in `backends`.
    pub name: &'static str,
    /// The product's own name, for error messages.
    pub title: &'static str,
    /// The binding it needs in `wrangler.toml`, if any, and the array of tables that
    /// declares it (`[[kv_namespaces]]`: `kv_namespaces`).
    pub binding: Option<&'static str>,
    pub wrangler_table: Option<&'static str>,
    /// The shortest keep time (s) it accepts, 0 for none; a route that uses it may not ask
    /// for a shorter `ttl`.
    pub min_ttl_secs: u64,
    /// The largest value (bytes of body, plus the record where it is stored with it) it
    /// accepts; `None`: bounded by configuration only (the memory tier's budget).
    pub max_value_bytes: Option<u64>,
    /// The longest key it accepts (bytes); `None`: any (keys are hashed to fit the shortest).
    pub max_key_bytes: Option<usize>,
    pub scope: Scope,
    pub purge: Purge,
    pub expiry: Expiry,
    /// A large body is written to it as a stream, never held in Wasm whole.
    pub streams_writes: bool,
    /// The record is stored in the value, before the body, and counts against
    /// `max_value_bytes` (KV); otherwise it is kept beside the body (a header, metadata).
    pub record_in_value: bool,
    /// A hit's body is read as a stream and sent on as one, never whole in the isolate.
    pub streams_reads: bool,
    /// How a part of a stored body is read (`storage::read`).
    pub ranges: Ranges,
    /// Its writes are rationed (KV: one write per second per key, 1,000 a day on the free
    /// plan): an unchanged or still fresh entry is rewritten to it at most this often (ms),
    /// `decide::store::writes_to`. `None`: written whenever the entry is.
    pub rewrite_interval_ms: Option<i64>,
}

/// An unchanged or still fresh entry is rewritten to KV at most this often (ms): KV takes
/// one write per second per key, and the free plan 1,000 a day, so a loop of forced refreshes
/// or revalidations must not spend them (`decide::store::writes_to`).
pub const KV_REWRITE_INTERVAL_MS: i64 = 60_000;

const MEMORY: Descriptor = Descriptor {
    name: "memory",
    title: "the memory tier",
    binding: None,
    wrangler_table: None,
    min_ttl_secs: 0,
    max_value_bytes: None,
    max_key_bytes: None,
    scope: Scope::Isolate,
    purge: Purge::InIsolate,
    expiry: Expiry::Native,
    streams_writes: false,
    record_in_value: false,
    streams_reads: false,
    ranges: Ranges::InIsolate,
    rewrite_interval_ms: None,
};

const CACHE: Descriptor = Descriptor {
    name: "cache",
    title: "the Cache API",
    binding: None,
    wrangler_table: None,
    min_ttl_secs: 0,
    max_value_bytes: Some(512 * 1024 * 1024),
    // Keys are URLs named by the key's SHA-256.
    max_key_bytes: None,
    scope: Scope::Location,
    purge: Purge::DeleteKey,
    expiry: Expiry::Native,
    streams_writes: false,
    record_in_value: false,
    streams_reads: true,
    ranges: Ranges::ByBackend,
    rewrite_interval_ms: None,
};

const KV: Descriptor = Descriptor {
    name: "kv",
    title: "Workers KV",
    binding: Some("EDGECACHE_KV"),
    wrangler_table: Some("kv_namespaces"),
    min_ttl_secs: 60,
    max_value_bytes: Some(25 * 1024 * 1024),
    max_key_bytes: Some(512),
    scope: Scope::Global,
    purge: Purge::DeleteKey,
    expiry: Expiry::Native,
    streams_writes: false,
    record_in_value: true,
    streams_reads: true,
    ranges: Ranges::FromStream,
    rewrite_interval_ms: Some(KV_REWRITE_INTERVAL_MS),
};

const R2: Descriptor = Descriptor {
    name: "r2",
    title: "R2",
    binding: Some("EDGECACHE_R2"),
    wrangler_table: Some("r2_buckets"),
    min_ttl_secs: 0,
    // A single-part upload: 5 GiB less 5 MiB.
    max_value_bytes: Some(5 * 1024 * 1024 * 1024 - 5 * 1024 * 1024),
    max_key_bytes: Some(1024),
    scope: Scope::Global,
    purge: Purge::DeleteKeyAndOnRead,
    expiry: Expiry::OnRead,
    streams_writes: true,
    record_in_value: false,
    streams_reads: true,
    ranges: Ranges::ByBackend,
    rewrite_interval_ms: None,
};

impl Backend {
    /// Every backend: the one list.
    pub const ALL: [Backend; 4] = [Backend::Memory, Backend::CacheApi, Backend::Kv, Backend::R2];

    pub const fn describe(self) -> &'static Descriptor {
        match self {
            Backend::Memory => &MEMORY,
            Backend::CacheApi => &CACHE,
            Backend::Kv => &KV,
            Backend::R2 => &R2,
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.describe().name
    }

    /// The backend named `name` in `backends`.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.as_str() == name)
    }

    /// The names of every backend, as an error message lists them: `memory, cache, kv or r2`.
    pub fn names() -> String {
        let names: Vec<&str> = Backend::ALL.iter().map(|b| b.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// A read of it costs a subrequest (it is shared beyond the isolate).
    pub fn is_shared(self) -> bool {
        self.describe().scope != Scope::Isolate
    }
}

/// The longest key every backend accepts: longer keys are hashed (`request::key`).
pub const MAX_KEY_BYTES: usize = {
    let mut min = usize::MAX;
    let mut i = 0;
    while i < Backend::ALL.len() {
        if let Some(max) = Backend::ALL[i].describe().max_key_bytes {
            if max < min {
                min = max;
            }
        }
        i += 1;
    }
    min
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_in_the_list_round_trips_through_its_name() {
        for backend in Backend::ALL {
            assert_eq!(Backend::from_name(backend.as_str()), Some(backend));
            let json = format!("\"{}\"", backend.as_str());
            assert_eq!(
                serde_json::from_str::<Backend>(&json).ok(),
                Some(backend),
                "serde reads the same name"
            );
        }
    }

    #[test]
    fn the_list_holds_every_variant_once() {
        // A variant missing from `ALL` fails to compile here: the match must name it.
        let index = |b: Backend| match b {
            Backend::Memory | Backend::CacheApi | Backend::Kv | Backend::R2 => {
                Backend::ALL.iter().position(|&x| x == b)
            }
        };
        for (i, &backend) in Backend::ALL.iter().enumerate() {
            assert_eq!(index(backend), Some(i), "{backend:?} is listed once");
        }
        let mut names: Vec<&str> = Backend::ALL.iter().map(|b| b.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Backend::ALL.len(), "names are distinct");
    }

    #[test]
    fn names_are_listed_for_error_messages() {
        assert_eq!(Backend::names(), "memory, cache, kv or r2");
        assert_eq!(Backend::from_name("redis"), None);
        assert_eq!(Backend::from_name("KV"), None, "names are lowercase");
    }

    #[test]
    fn keys_are_hashed_to_fit_the_shortest_key_limit() {
        assert_eq!(MAX_KEY_BYTES, 512);
    }

    #[test]
    fn the_limits_are_the_platforms() {
        assert_eq!(Backend::Kv.describe().min_ttl_secs, 60);
        assert_eq!(
            Backend::Kv.describe().max_value_bytes,
            Some(25 * 1024 * 1024)
        );
        assert!(Backend::R2.describe().max_value_bytes > Backend::Kv.describe().max_value_bytes);
        assert_eq!(Backend::R2.describe().expiry, Expiry::OnRead);
        assert!(!Backend::Memory.is_shared());
        assert!(
            Backend::CacheApi.is_shared() && Backend::Kv.is_shared() && Backend::R2.is_shared()
        );
    }

    #[test]
    fn every_backend_with_a_binding_names_it_in_edgecache_style() {
        for backend in Backend::ALL {
            let d = backend.describe();
            assert_eq!(
                d.binding.is_some(),
                d.wrangler_table.is_some(),
                "{}",
                d.name
            );
            if let Some(binding) = d.binding {
                assert!(binding.starts_with("EDGECACHE_"), "{binding}");
            }
        }
    }

    /// The non-test lines of the `.rs` files under `dir`.
    fn code_lines(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                code_lines(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                for line in code.lines() {
                    out.push((path.display().to_string(), line.to_string()));
                }
            }
        }
    }

    #[test]
    fn the_enum_has_as_many_variants_as_the_list() {
        let source = include_str!("backend.rs");
        let body = source
            .split("pub enum Backend {")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap_or_default();
        let variants = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with("#["))
            .count();
        assert_eq!(
            variants,
            Backend::ALL.len(),
            "every variant is in Backend::ALL"
        );
    }

    #[test]
    fn no_other_code_lists_backends() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut lines = Vec::new();
        code_lines(&root.join("src"), &mut lines);
        code_lines(&root.join("../src"), &mut lines);
        assert!(lines.len() > 1000, "the sources were read");
        let listing: Vec<String> = lines
            .iter()
            .filter(|(file, _)| !file.ends_with("storage/backend.rs"))
            .filter(|(_, line)| {
                let named = Backend::ALL
                    .iter()
                    .filter(|b| line.contains(&format!("Backend::{:?}", b)))
                    .count();
                named >= 2
            })
            .map(|(file, line)| format!("{file}: {}", line.trim()))
            .collect();
        assert!(
            listing.is_empty(),
            "backends are listed only in Backend::ALL; use it or a descriptor instead:\n{}",
            listing.join("\n")
        );
    }
}
