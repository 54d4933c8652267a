//! The purge registry as each isolate knows it: a copy of the control plane's, trusted for
//! `purge_propagation_s`. When the copy is older, one request of the isolate at a time finds a
//! newer one: first the location's shared copy in the Cache API (written by whichever isolate
//! of the location last asked), then the control plane, which answers with its sequence
//! number alone when the isolate's copy is current. The isolate that asks marks the shared
//! copy first and reads its mark back: the others wait for the answer of the one whose mark
//! was kept. A hit never waits while the copy is
//! fresh. When the control plane cannot be reached the last copy is used for
//! `purge_grace_s` more; after that (and in an isolate that never read one) the registry is
//! unknown and no stored entry is served.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Env};

use crate::control::plane::{self, REGISTRY_TIMEOUT_MS};
use crate::runtime::{now_ms, Sleep};
use edgecache_core::config::Config;
use edgecache_core::control::propagation::{
    keeps_new, may_ask, shared_poll_delay_ms, yields_to, Checked, Timing,
};
use edgecache_core::control::registry::Registry;

/// How often a request waiting for another's ask looks whether it has ended.
const POLL_MS: u64 = 5;

#[derive(Clone)]
struct Copy {
    registry: Rc<Registry>,
    /// When the control plane was asked for it (ms): the copy says nothing of later purges.
    checked_at: i64,
}

impl Copy {
    fn checked(&self) -> Checked {
        Checked {
            seq: self.registry.seq,
            at: self.checked_at,
        }
    }
}

thread_local! {
    static COPY: RefCell<Option<Copy>> = const { RefCell::new(None) };
    /// When the ask in flight began, if a request of this isolate is asking.
    static ASKING: Cell<Option<i64>> = const { Cell::new(None) };
    /// When the last ask failed, until one succeeds.
    static FAILED_AT: Cell<Option<i64>> = const { Cell::new(None) };
}

/// The location's copy, as stored in the Cache API: the registry as last asked for (none
/// before the first answer), and until when an isolate of the location is asking the control
/// plane for a newer one, so that the others wait for its answer instead of asking too.
#[derive(Serialize, Deserialize, Default)]
struct SharedCopy {
    checked_at: i64,
    registry: Option<Registry>,
    #[serde(default)]
    asking_until: i64,
    /// The mark of the isolate that is asking (random, 0 when none is): an isolate whose
    /// mark another overwrote leaves the asking to it.
    #[serde(default)]
    asker: u64,
}

/// The control plane's answer to `GET /registry?known=N`.
#[derive(Deserialize)]
struct RegistryAnswer {
    seq: u64,
    /// Absent when it is the one the isolate knows (`seq == N`).
    registry: Option<Registry>,
}

/// Clears `ASKING` however the ask ends, a cancelled request included.
struct AskingGuard;

impl Drop for AskingGuard {
    fn drop(&mut self) {
        ASKING.with(|a| a.set(None));
    }
}

/// This isolate's copy, if `keep` says it may be used.
fn copy_if(keep: impl Fn(Checked) -> bool) -> Option<Rc<Registry>> {
    COPY.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|copy| keep(copy.checked()))
            .map(|copy| copy.registry.clone())
    })
}

/// Keeps `copy` unless this isolate already knows a later purge (one it recorded itself
/// while the ask was under way).
fn keep(copy: Copy) {
    COPY.with(|c| {
        let mut current = c.borrow_mut();
        if keeps_new(copy.checked(), current.as_ref().map(Copy::checked)) {
            *current = Some(copy);
        }
    });
}

/// The registry a request that arrived now is checked against (see the module's doc).
pub async fn current(env: &Env, config: &Config, host: &str) -> Rc<Registry> {
    let arrived = now_ms();
    let timing = Timing::of(config);
    let usable = || copy_if(|copy| timing.current(copy, arrived));
    if let Some(registry) = usable() {
        return registry;
    }
    loop {
        let failing = FAILED_AT.with(Cell::get);
        if ASKING.with(Cell::get).is_some() {
            // Another request is asking. While the control plane answers, wait for it (on this
            // request's own timer); while it fails, do not.
            if failing.is_some() || now_ms() - arrived > REGISTRY_TIMEOUT_MS as i64 {
                break;
            }
            Sleep::new(POLL_MS).await;
            if let Some(registry) = usable() {
                return registry;
            }
            continue;
        }
        if !may_ask(failing, now_ms()) {
            break;
        }
        ASKING.with(|a| a.set(Some(now_ms())));
        let _guard = AskingGuard;
        match refresh(env, config, host).await {
            Ok(copy) => {
                FAILED_AT.with(|f| f.set(None));
                keep(copy);
            }
            Err(error) => {
                FAILED_AT.with(|f| f.set(Some(now_ms())));
                worker::console_warn!(
                    "{}",
                    serde_json::json!({ "edgecache": "registry-unavailable", "error": error })
                );
            }
        }
        if let Some(registry) = usable() {
            return registry;
        }
        break;
    }
    // No current copy could be had: the last one within the grace, else the unknown registry.
    let now = now_ms();
    copy_if(|copy| timing.within_grace(copy, now)).unwrap_or_else(|| Rc::new(Registry::unknown()))
}

/// A copy at least as new as this isolate's: the location's, when it is fresh (or once the
/// isolate of the location that is asking has its answer), else the control plane's, which is
/// then shared with the location.
async fn refresh(env: &Env, config: &Config, host: &str) -> Result<Copy, String> {
    let started = now_ms();
    let timing = Timing::of(config);
    let known = COPY.with(|c| c.borrow().clone());
    let url = shared_url(host, &config.key_prefix);
    let mut last_shared = SharedCopy::default();
    if timing.interval_ms > 0 {
        let deadline = started + REGISTRY_TIMEOUT_MS as i64;
        let asker = mark();
        'claim: loop {
            let mut polls = 0;
            loop {
                let Some(shared) = read_shared(&url).await else {
                    break;
                };
                if let Some(registry) = &shared.registry {
                    let checked = Checked {
                        seq: registry.seq,
                        at: shared.checked_at,
                    };
                    if timing.shared_usable(checked, known.as_ref().map(Copy::checked), started) {
                        return Ok(Copy {
                            registry: Rc::new(registry.clone()),
                            checked_at: shared.checked_at,
                        });
                    }
                }
                last_shared = shared;
                let now = now_ms();
                if last_shared.asking_until <= now || now >= deadline {
                    break;
                }
                Sleep::new(shared_poll_delay_ms(polls)).await;
                polls += 1;
            }
            // This isolate asks: the location's other isolates are told so until it answers.
            let claim = SharedCopy {
                asking_until: now_ms() + REGISTRY_TIMEOUT_MS as i64,
                asker,
                ..last_shared
            };
            write_shared(config, &url, &claim).await;
            last_shared = claim;
            // Another isolate may have found the copy unmarked too, and marked it since: the
            // mark read back is the one kept, and only its isolate asks.
            if now_ms() < deadline {
                if let Some(seen) = read_shared(&url).await {
                    if yields_to(asker, seen.asker, seen.asking_until, now_ms()) {
                        continue 'claim;
                    }
                }
            }
            break;
        }
    }
    let asked = ask(env, config, known.map(|copy| copy.registry)).await;
    if timing.interval_ms > 0 {
        // The answer, or on failure the copy as it was, with the claim withdrawn.
        let shared = match &asked {
            Ok(registry) => SharedCopy {
                checked_at: started,
                registry: Some((**registry).clone()),
                asking_until: 0,
                asker: 0,
            },
            Err(_) => SharedCopy {
                asking_until: 0,
                asker: 0,
                ..last_shared
            },
        };
        write_shared(config, &url, &shared).await;
    }
    Ok(Copy {
        registry: asked?,
        checked_at: started,
    })
}

/// The control plane's registry: its sequence number alone when it is `known`'s.
async fn ask(
    env: &Env,
    config: &Config,
    known: Option<Rc<Registry>>,
) -> Result<Rc<Registry>, String> {
    let path = match &known {
        Some(registry) => format!("/registry?known={}", registry.seq),
        None => "/registry".to_string(),
    };
    let text = plane::ask(
        env,
        &config.key_prefix,
        "GET",
        &path,
        None,
        REGISTRY_TIMEOUT_MS,
    )
    .await
    .map_err(|e| e.to_string())?;
    let answer: RegistryAnswer = serde_json::from_str(&text)
        .map_err(|e| format!("the control plane's registry is unreadable: {e}"))?;
    match (answer.registry, known) {
        (Some(mut registry), _) => {
            registry.seq = answer.seq;
            Ok(Rc::new(registry))
        }
        (None, Some(known)) if known.seq == answer.seq => Ok(known),
        (None, _) => Err("the control plane sent no registry".into()),
    }
}

/// A mark for one ask of this isolate: random, never 0 (no asker).
fn mark() -> u64 {
    1 + (js_sys::Math::random() * (1u64 << 52) as f64) as u64
}

/// Where a location keeps its shared copy: in the Cache API, under the site's own host.
fn shared_url(host: &str, key_prefix: &str) -> String {
    format!("https://{host}/__edgecache/registry/{key_prefix}")
}

async fn read_shared(url: &str) -> Option<SharedCopy> {
    JsFuture::from(glue::read_shared(url))
        .await
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| serde_json::from_str::<SharedCopy>(&text).ok())
}

/// Writes the location's copy, kept as long as it may be used at all. Failures are ignored:
/// the control plane is asked instead.
async fn write_shared(config: &Config, url: &str, shared: &SharedCopy) {
    let Ok(text) = serde_json::to_string(shared) else {
        return;
    };
    let keep_s = (config.purge_propagation_s + config.purge_grace_s).max(1);
    let _ = JsFuture::from(glue::write_shared(url, &text, keep_s as f64)).await;
}

/// A purge this isolate has just had recorded: its registry applies here at once and, through
/// the shared copy, in this location.
pub fn adopt(ctx: &Context, config: &Config, host: &str, registry: Registry) {
    let copy = Copy {
        registry: Rc::new(registry),
        checked_at: now_ms(),
    };
    let shared = SharedCopy {
        checked_at: copy.checked_at,
        registry: Some((*copy.registry).clone()),
        asking_until: 0,
        asker: 0,
    };
    keep(copy);
    if config.purge_propagation_s > 0 {
        let config = config.clone();
        let url = shared_url(host, &config.key_prefix);
        ctx.wait_until(async move { write_shared(&config, &url, &shared).await });
    }
}

mod glue {
    use wasm_bindgen::prelude::wasm_bindgen;

    // The shared copy is a small JSON document: read and written whole, failures ignored (the
    // control plane is asked instead).
    #[wasm_bindgen(inline_js = "
export async function readShared(url) {
  try {
    const found = await caches.default.match(url);
    return found ? await found.text() : null;
  } catch {
    return null;
  }
}
export async function writeShared(url, text, seconds) {
  try {
    await caches.default.put(url, new Response(text, {
      headers: { 'content-type': 'application/json', 'cache-control': `max-age=${seconds}` },
    }));
  } catch {
    // Another isolate will write it.
  }
}
")]
    extern "C" {
        /// The location's copy as text, or `null`.
        #[wasm_bindgen(js_name = readShared)]
        pub fn read_shared(url: &str) -> js_sys::Promise;
        #[wasm_bindgen(js_name = writeShared)]
        pub fn write_shared(url: &str, text: &str, seconds: f64) -> js_sys::Promise;
    }
}
