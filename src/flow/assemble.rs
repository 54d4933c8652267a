//! Assembling a page from its ESI template and fragments, streaming.
//!
//! Every include of the template starts at once, each as a request of its own through the
//! cache (own key, TTL, tags, coalescing). The page's fields go out as soon as each fragment
//! is known to come from storage or from the origin (`Edgecache-Fragments` reports which);
//! the body then streams in document order, each fragment written as soon as it and all
//! before it are in, so a slow fragment holds back only what follows it.
//!
//! A fragment's request carries only what configuration grants it (`grant`): the headers and
//! cookies its own route keys on, when the template's route lists it in `esi_includes`,
//! narrowed by the include's `vary-headers`/`vary-cookies`. An origin cannot personalise a
//! fragment on anything its key does not carry, so one user's fragment is never another's,
//! and an include added to a page by reflected input gets nothing private.
//!
//! One budget of includes (`esi_max_includes`) covers the whole client request: the page's
//! includes, theirs, and every `alt` tried.

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;

use futures_channel::oneshot;
use futures_util::future::{join_all, select, Either, LocalBoxFuture};
use url::Url;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response, ResponseInit, TransformStream};
use worker::Context;

use crate::flow::reply;
use crate::flow::report::Handled;
use crate::runtime::{describe, read_limited, Body, Sleep};
use crate::settings::Settings;
use edgecache_core::esi::grant;
use edgecache_core::esi::reports::Reports;
use edgecache_core::esi::template::{self as esi, Include, IncludeBudget, Part, SHELL_ONLY_FIELDS};
use edgecache_core::request::key::cookie_value;
use edgecache_core::request::plan::KeyedOn;
use edgecache_core::status::{Outcome, Reason};

/// The response field listing each fragment's lookup, like `Cache-Status` for the page.
pub const FRAGMENTS_FIELD: &str = "edgecache-fragments";

/// How a page's fragments are fetched: each as a request of its own through the whole request
/// flow (`flow::handle`), handed in by the flow, which assembling is a part of.
pub trait FragmentFlow {
    fn fetch<'a>(
        &'a self,
        request: &'a Request,
        url: &'a Url,
        fragment: &'a Fragment,
    ) -> LocalBoxFuture<'a, Handled>;
}

/// A fragment request's place in the page being assembled.
pub struct Fragment {
    /// 1 for a page's includes, 2 for theirs, …
    pub depth: u64,
    /// The client's headers and cookies its request carries (`grant::Admitted::keyed_on`).
    pub keyed_on: KeyedOn,
    /// The client request's includes, shared by every template within it.
    pub budget: Rc<IncludeBudget>,
    /// Told as soon as it is known whether the fragment comes from storage or from the
    /// origin, so the page can send its fields before fragments arrive.
    pub decided: Rc<Decided>,
}

/// Hears, once, how a fragment's request is being answered.
#[derive(Default)]
pub struct Decided(RefCell<Option<oneshot::Sender<Outcome>>>);

impl Decided {
    pub fn new(sender: Option<oneshot::Sender<Outcome>>) -> Rc<Decided> {
        Rc::new(Decided(RefCell::new(sender)))
    }

    /// Says how the request is being answered, if nobody has said it yet.
    pub fn tell(&self, outcome: &Outcome) {
        // Taken out first: sending wakes the page, which may then be polled.
        let sender = self.0.borrow_mut().take();
        if let Some(sender) = sender {
            let _ = sender.send(outcome.clone());
        }
    }
}

/// Tells a fragment's page how the fragment is being answered (nothing for a page's own
/// request).
pub fn tell(fragment: Option<&Fragment>, outcome: &Outcome) {
    if let Some(fragment) = fragment {
        fragment.decided.tell(outcome);
    }
}

/// A template answered to HEAD: the page's fields, without assembling anything.
pub fn head(shell: &Response) -> Result<Response, JsValue> {
    let headers = Headers::new_with_headers(&shell.headers())?;
    for name in SHELL_ONLY_FIELDS {
        let _ = headers.delete(name);
    }
    respond(shell.status(), &headers, None)
}

/// Assembles `shell` (a template of the page at `url`, requested with `client` headers).
/// `fragment` is set when the shell is itself a fragment of a page being assembled.
pub async fn page(
    shell: Response,
    url: &Url,
    client: &Headers,
    flow: Rc<dyn FragmentFlow>,
    ctx: &Rc<Context>,
    settings: &Rc<Settings>,
    fragment: Option<&Fragment>,
) -> Result<Response, JsValue> {
    let config = &settings.config;
    let bytes = match read_template(&shell, url, config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(failed) => return failed,
    };
    let template = esi::parse(&bytes);
    let headers = Headers::new_with_headers(&shell.headers())?;
    for name in SHELL_ONLY_FIELDS {
        let _ = headers.delete(name);
    }
    let page = Page {
        url: url.clone(),
        client: client.clone(),
        flow,
        settings: settings.clone(),
        depth: fragment.map_or(0, |f| f.depth),
        budget: fragment.map_or_else(
            || Rc::new(IncludeBudget::new(config.esi.max_includes)),
            |f| f.budget.clone(),
        ),
    };
    let started = start_includes(&page, template.parts);
    set_page_fields(&headers, started.pending, started.members, started.personal).await;
    let stream = TransformStream::new()?;
    let writer = stream.writable().get_writer()?;
    let page_url = url.clone();
    let pieces = started.pieces;
    ctx.wait_until(async move {
        write_page(&writer, &bytes, pieces, &page_url).await;
    });
    respond(shell.status(), &headers, Some(&stream.readable()))
}

/// The template's bytes, up to `max_body_bytes`; `Err`: the page to answer instead.
async fn read_template(
    shell: &Response,
    url: &Url,
    max_body_bytes: u64,
) -> Result<Vec<u8>, Result<Response, JsValue>> {
    let Some(body) = shell.body() else {
        return Ok(Vec::new());
    };
    match read_limited(body, max_body_bytes).await {
        Ok(Body::Complete(bytes)) => Ok(bytes),
        Ok(Body::TooLarge) => Err(failed_page(
            url,
            &format!("the ESI template is larger than max_body_bytes ({max_body_bytes} bytes)"),
        )),
        Err(e) => Err(failed_page(
            url,
            &format!("the ESI template broke off: {}", describe(&e)),
        )),
    }
}

/// The includes of a page, started: its pieces in order, the `Cache-Status` member of each
/// include (filled in as each is decided, from `pending`), and whether any makes the page
/// the client's own.
struct Started {
    pieces: Vec<Piece>,
    pending: Vec<(String, usize, oneshot::Receiver<Outcome>)>,
    members: Vec<String>,
    personal: bool,
}

/// The page being assembled, as its includes are fetched for it.
struct Page {
    url: Url,
    client: Headers,
    flow: Rc<dyn FragmentFlow>,
    settings: Rc<Settings>,
    /// How deep the page is among pages assembled (0: the client's own page).
    depth: u64,
    budget: Rc<IncludeBudget>,
}

/// Starts each include of `parts` that the depth and budget allow, for `page`.
fn start_includes(page: &Page, parts: Vec<Part>) -> Started {
    let config = &page.settings.config;
    let mut started = Started {
        pieces: Vec::with_capacity(parts.len()),
        pending: Vec::new(),
        members: Vec::new(),
        personal: false,
    };
    // One page writes a few lines and members of each kind, and counts the rest.
    let (mut invalid, mut malformed, mut limited) =
        (Reports::default(), Reports::default(), Reports::default());
    for part in parts {
        let include = match part {
            Part::Text(range) => {
                // Text that broken markup left in two pieces is written as one.
                match started.pieces.last_mut() {
                    Some(Piece::Text(last)) if last.end == range.start => last.end = range.end,
                    _ => started.pieces.push(Piece::Text(range)),
                }
                continue;
            }
            Part::Invalid(reason) => {
                if invalid.take() {
                    log_failure(&page.url, "", &reason);
                }
                continue;
            }
            Part::Malformed { at, reason } => {
                if malformed.take() {
                    log_malformed(&page.url, at, &reason);
                }
                continue;
            }
            Part::Include(include) => include,
        };
        let refused = if page.depth >= config.esi.max_depth {
            Some(format!(
                "deeper than esi_max_depth ({})",
                config.esi.max_depth
            ))
        } else if !page.budget.take() {
            Some(over_budget(&page.budget))
        } else {
            None
        };
        if let Some(reason) = refused {
            if limited.take() {
                started
                    .members
                    .push(esi::fragment_member(&include.src, "detail=esi-limit"));
            }
            started.pieces.push(Piece::Include {
                src: include.src.clone(),
                continue_on_error: include.continue_on_error,
                content: Content::Ready(Err(reason)),
            });
            continue;
        }
        start_include(page, include, &mut started);
    }
    log_left_out(&page.url, "esi-failed", &invalid);
    log_left_out(&page.url, "esi-malformed", &malformed);
    started
}

/// One line for the reports of one kind a page counted instead of writing (`Reports`).
fn log_left_out(url: &Url, kind: &str, reports: &Reports) {
    if reports.left_out() > 0 {
        worker::console_warn!(
            "{}",
            serde_json::json!({ "edgecache": kind, "page": url.path(), "more": reports.left_out() })
        );
    }
}

/// Starts fetching `include`, as a fragment of `page`.
fn start_include(page: &Page, include: Include, started: &mut Started) {
    let config = &page.settings.config;
    // Fragments that carry the client's cookies or headers make the page this client's.
    started.personal |= std::iter::once(&include.src)
        .chain(include.alt.as_ref())
        .any(|src| {
            grant::admit(config, &page.url, src, &include)
                .is_ok_and(|admitted| !admitted.keyed_on.is_empty())
        });
    let (decided_tx, decided_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    let task = Task {
        include: include.clone(),
        page: page.url.clone(),
        client: page.client.clone(),
        flow: page.flow.clone(),
        settings: page.settings.clone(),
        depth: page.depth + 1,
        budget: page.budget.clone(),
    };
    crate::runtime::spawn(async move {
        let _ = done_tx.send(task.run(decided_tx).await);
    });
    let slot = started.members.len();
    started
        .pending
        .push((include.src.clone(), slot, decided_rx));
    started.members.push(String::new());
    started.pieces.push(Piece::Include {
        src: include.src,
        continue_on_error: include.continue_on_error,
        content: Content::Coming(done_rx),
    });
}

/// The page's fields wait for each fragment's lookup, not for its body: `Cache-Status`
/// members for the fragments, and `private` when one makes the page the client's own.
async fn set_page_fields(
    headers: &Headers,
    pending: Vec<(String, usize, oneshot::Receiver<Outcome>)>,
    mut members: Vec<String>,
    personal: bool,
) {
    let decided = join_all(pending.into_iter().map(|(src, slot, rx)| async move {
        let params = match rx.await {
            Ok(outcome) => outcome_params(&outcome),
            Err(_) => "detail=esi-error".to_string(),
        };
        (slot, esi::fragment_member(&src, &params))
    }))
    .await;
    for (slot, member) in decided {
        members[slot] = member;
    }
    if !members.is_empty() {
        let _ = headers.set(FRAGMENTS_FIELD, &members.join(", "));
    }
    if personal {
        let _ = headers.set("cache-control", "private, no-cache");
    }
}

/// One piece of the page, in order.
enum Piece {
    Text(std::ops::Range<usize>),
    Include {
        src: String,
        continue_on_error: bool,
        content: Content,
    },
}

/// A fragment's body, or why there is none.
type Fetched = Result<Vec<u8>, String>;

/// A fragment's body, known now or coming from its task.
enum Content {
    Ready(Fetched),
    Coming(oneshot::Receiver<Fetched>),
}

/// Writes the pieces in order. A failed include without `onerror="continue"` fails the page
/// (ESI 1.0 §3.1): the stream is aborted there, so no client or cache takes it for whole.
async fn write_page(
    writer: &web_sys::WritableStreamDefaultWriter,
    template: &[u8],
    pieces: Vec<Piece>,
    url: &Url,
) {
    let mut failed = Reports::default();
    // Pieces are written together, not a chunk each: a template broken into 20,000 pieces
    // took seconds to write one by one. What is ready goes out before a fragment is awaited.
    let mut out: Vec<u8> = Vec::new();
    for piece in pieces {
        let (src, continue_on_error, content) = match piece {
            Piece::Text(range) => {
                out.extend_from_slice(&template[range]);
                if out.len() >= WRITE_CHUNK_BYTES && !write(writer, &mut out).await {
                    return;
                }
                continue;
            }
            Piece::Include {
                src,
                continue_on_error,
                content,
            } => (src, continue_on_error, content),
        };
        let body = match content {
            Content::Ready(body) => body,
            Content::Coming(rx) => {
                if !write(writer, &mut out).await {
                    return;
                }
                rx.await
                    .unwrap_or_else(|_| Err("the fragment's task ended early".into()))
            }
        };
        match body {
            Ok(body) => out.extend_from_slice(&body),
            Err(reason) => {
                if failed.take() {
                    log_failure(url, &src, &reason);
                }
                if !continue_on_error {
                    // The status line has gone: say what failed where the fragment belonged,
                    // then abort, which resets the connection on Cloudflare (local proxies
                    // may end the body cleanly instead, hence the comment).
                    let comment = format!(
                        "<!-- edgecache: ESI include failed: {} -->",
                        reason.replace("--", "- -")
                    );
                    out.extend_from_slice(comment.as_bytes());
                    let _ = write(writer, &mut out).await;
                    let error =
                        js_sys::Error::new(&format!("edgecache: ESI include failed: {reason}"));
                    let _ = JsFuture::from(writer.abort_with_reason(&error)).await;
                    log_left_out(url, "esi-failed", &failed);
                    return;
                }
            }
        }
        if out.len() >= WRITE_CHUNK_BYTES && !write(writer, &mut out).await {
            return;
        }
    }
    log_left_out(url, "esi-failed", &failed);
    if write(writer, &mut out).await {
        let _ = JsFuture::from(writer.close()).await;
    }
}

/// Bytes of a page collected before they are written (`write_page`).
const WRITE_CHUNK_BYTES: usize = 64 * 1024;

/// Writes what `out` holds, if anything, and empties it; `false` when the client went away.
async fn write(writer: &web_sys::WritableStreamDefaultWriter, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return true;
    }
    let array = js_sys::Uint8Array::from(out.as_slice());
    out.clear();
    JsFuture::from(writer.write_with_chunk(&array))
        .await
        .is_ok()
}

/// The include, its alternative, and everything a detached task needs to fetch them.
struct Task {
    include: Include,
    page: Url,
    client: Headers,
    flow: Rc<dyn FragmentFlow>,
    settings: Rc<Settings>,
    depth: u64,
    budget: Rc<IncludeBudget>,
}

impl Task {
    /// Fetches `src`, then `alt` if `src` fails (ESI 1.0 §3.1), if the budget has an include
    /// left for it. `decided` hears how the first attempt is being answered.
    async fn run(self, decided: oneshot::Sender<Outcome>) -> Fetched {
        let first = self.fetch(&self.include.src, Some(decided)).await;
        match (&first, &self.include.alt) {
            (Err(reason), Some(alt)) => {
                let second = if self.budget.take() {
                    self.fetch(alt, None).await
                } else {
                    Err(over_budget(&self.budget))
                };
                second.map_err(|alt_reason| format!("{reason}; alt {alt:?}: {alt_reason}"))
            }
            _ => first,
        }
    }

    async fn fetch(&self, src: &str, decided: Option<oneshot::Sender<Outcome>>) -> Fetched {
        let decided = Decided::new(decided);
        // `origin_timeout_ms` bounds the whole fragment, body included: a fragment whose body
        // stalls after its headers must not hold the page open for ever.
        let timeout_ms = self.settings.config.origin_timeout_ms;
        let result = {
            let work = pin!(self.fetch_with(src, &decided));
            let deadline = pin!(Sleep::new(timeout_ms));
            match select(work, deadline).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(format!(
                    "{src:?} did not complete within origin_timeout_ms ({timeout_ms} ms)"
                )),
            }
        };
        // Whatever happened, the page must not wait for this fragment's fields any longer.
        decided.tell(&Outcome::bypass(Reason::BodyError));
        result
    }

    async fn fetch_with(&self, src: &str, decided: &Rc<Decided>) -> Fetched {
        let config = &self.settings.config;
        let grant::Admitted {
            url,
            keyed_on,
            ignored,
        } = grant::admit(config, &self.page, src, &self.include)?;
        if !ignored.is_empty() {
            log_not_granted(&self.page, &url, &ignored);
        }
        let request = self.request(&url, &keyed_on)?;
        let fragment = Fragment {
            depth: self.depth,
            keyed_on,
            budget: self.budget.clone(),
            decided: decided.clone(),
        };
        let handled = self.flow.fetch(&request, &url, &fragment).await;
        decided.tell(&handled.report.outcome);
        crate::control::stats_report::record_fragment(
            &url,
            &handled.report.outcome,
            handled.report.bytes_from_cache,
        );
        let response = handled.response.map_err(|e| describe(&e))?;
        if !(200..300).contains(&response.status()) {
            return Err(format!("{src:?} answered {}", response.status()));
        }
        let Some(body) = response.body() else {
            return Ok(Vec::new());
        };
        match read_limited(body, config.esi.max_fragment_bytes).await {
            Ok(Body::Complete(bytes)) => Ok(bytes),
            Ok(Body::TooLarge) => Err(format!(
                "{src:?} is larger than esi_max_fragment_bytes ({})",
                config.esi.max_fragment_bytes
            )),
            Err(e) => Err(format!("{src:?} broke off: {}", describe(&e))),
        }
    }

    /// A GET for `url` carrying only the client's headers and cookies named in `keyed_on`:
    /// nothing else of the client's request, credentials included.
    fn request(&self, url: &Url, keyed_on: &KeyedOn) -> std::result::Result<Request, String> {
        let headers = Headers::new().map_err(|e| describe(&e))?;
        for name in &keyed_on.headers {
            if let Some(value) = self.client.get(name).ok().flatten() {
                let _ = headers.set(name, &value);
            }
        }
        let cookies = self.client.get("cookie").ok().flatten().unwrap_or_default();
        let kept: Vec<String> = keyed_on
            .cookies
            .iter()
            .filter_map(|name| cookie_value(&cookies, name).map(|v| format!("{name}={v}")))
            .collect();
        if !kept.is_empty() {
            let _ = headers.set("cookie", &kept.join("; "));
        }
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_headers(&headers);
        Request::new_with_str_and_init(url.as_str(), &init).map_err(|e| describe(&e))
    }
}

/// `Cache-Status` parameters without the cache's name: `hit; ttl=42; detail=memory`.
fn outcome_params(outcome: &Outcome) -> String {
    let member = outcome.cache_status();
    match member.split_once("; ") {
        Some((_, params)) => params.to_string(),
        None => String::new(),
    }
}

fn respond(
    status: u16,
    headers: &Headers,
    body: Option<&web_sys::ReadableStream>,
) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(headers);
    Response::new_with_opt_readable_stream_and_init(body, &init)
}

fn failed_page(url: &Url, reason: &str) -> Result<Response, JsValue> {
    log_failure(url, "", reason);
    reply::plain(
        502,
        &format!("edgecache: {reason}\n"),
        &Outcome::bypass(Reason::BodyError),
    )
}

fn over_budget(budget: &IncludeBudget) -> String {
    format!(
        "over esi_max_includes ({}) for this request, all depths together",
        budget.limit()
    )
}

/// Broken markup kept as text (`Part::Malformed`): the page is served whole, and this says
/// where its template is broken.
fn log_malformed(url: &Url, at: usize, reason: &str) {
    worker::console_warn!(
        "{}",
        serde_json::json!({ "edgecache": "esi-malformed", "page": url.path(), "at": at, "error": reason })
    );
}

/// An include's `vary-cookies`/`vary-headers` named what configuration does not grant the
/// fragment. Names only, never values; the fragment's path without its query.
fn log_not_granted(page: &Url, fragment: &Url, ignored: &[String]) {
    worker::console_warn!(
        "{}",
        serde_json::json!({
            "edgecache": "esi-not-granted",
            "page": page.path(),
            "src": fragment.path(),
            "ignored": ignored,
        })
    );
}

fn log_failure(url: &Url, src: &str, reason: &str) {
    worker::console_warn!(
        "{}",
        serde_json::json!({ "edgecache": "esi-failed", "page": url.path(), "src": edgecache_core::redact::url(src), "error": edgecache_core::redact::text(reason) })
    );
}
