//! What handling a request gives back: its response and what it reports beside it (the
//! outcome, the errors met, the route, for the log line, the stats and Workers Cache). Each
//! step of the flow returns what it did; nothing is filled in as it goes.

use wasm_bindgen::JsValue;
use web_sys::Response;

use crate::flow::error::RequestError;
use edgecache_core::status::Outcome;
use edgecache_core::workers_cache::emit::Kept;

/// A response and what it says about how it was answered.
pub struct Served {
    pub response: Result<Response, JsValue>,
    pub outcome: Outcome,
    /// Body bytes served from storage.
    pub bytes_from_cache: u64,
    /// The response is an ESI template, to be assembled before it is sent.
    pub template: bool,
    /// With `workers_cache`: the entry behind the answer, when edgecache keeps it for everyone.
    pub kept: Option<Kept>,
    /// The tags of the entry behind the answer (the route's and the origin's), when it is one
    /// kept for everyone: the stats count the request under them.
    pub tags: Vec<String>,
    /// What went wrong on the way (storage, the origin), for the log line.
    pub errors: Vec<RequestError>,
}

impl Served {
    /// A response that nothing stored went into.
    pub fn new(response: Result<Response, JsValue>, outcome: Outcome) -> Served {
        Served {
            response,
            outcome,
            bytes_from_cache: 0,
            template: false,
            kept: None,
            tags: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// This answer, with what went wrong before it was chosen (`earlier`) ahead of its own.
    pub fn after(mut self, mut earlier: Vec<RequestError>) -> Served {
        earlier.append(&mut self.errors);
        self.errors = earlier;
        self
    }
}

/// What the log line, the stats and Workers Cache are told of a request.
pub struct Report {
    pub outcome: Outcome,
    pub errors: Vec<RequestError>,
    /// The matching route's path pattern.
    pub route: Option<String>,
    pub bytes_from_cache: u64,
    pub template: bool,
    /// With `workers_cache`: what Workers Cache must know of the request (a cacheable one).
    pub asked: Option<edgecache_core::workers_cache::emit::CacheAsked>,
    pub kept: Option<Kept>,
    /// As `Served::tags`.
    pub tags: Vec<String>,
}

impl Report {
    /// A request answered with `outcome` and nothing else to say (no route, nothing stored).
    pub fn of(outcome: Outcome, errors: Vec<RequestError>) -> Report {
        Report {
            outcome,
            errors,
            route: None,
            bytes_from_cache: 0,
            template: false,
            asked: None,
            kept: None,
            tags: Vec::new(),
        }
    }
}

/// A request handled.
pub struct Handled {
    pub response: Result<Response, JsValue>,
    pub report: Report,
}
