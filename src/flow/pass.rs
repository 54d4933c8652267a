//! What the cache does not answer: a request passed to the origin as the client sent it, a
//! refusal, and the error page for an origin that gave no response.

use crate::flow::assemble::{self, Fragment};
use crate::flow::error::RequestError;
use crate::flow::origin::{Forward, OriginError};
use crate::flow::reply::{self, Audience, Decoration};
use crate::flow::report::Served;
use edgecache_core::decide::answer::{on_failure, Failure, OnFailure};
use edgecache_core::status::{Fwd, Outcome, Reason};

/// Forwards a request the cache does not answer, adding only `Cache-Status`.
pub async fn pass_through(
    forward: Forward,
    fwd: Fwd,
    reason: Option<Reason>,
    audience: Audience,
    fragment: Option<&Fragment>,
) -> Served {
    assemble::tell(fragment, &Outcome::forward(fwd, None, false, reason));
    let origin = match forward.send().await {
        Ok(origin) => origin,
        Err(error) => {
            let met = vec![RequestError::Origin(error.clone())];
            return error_page(fwd, error).after(met);
        }
    };
    let outcome = Outcome::forward(fwd, Some(origin.status()), false, reason);
    let decoration = Decoration {
        outcome: &outcome,
        browser_ttl: None,
        audience,
    };
    let response = reply::from_origin(&origin, origin.body().as_ref(), false, &decoration);
    Served::new(response, outcome)
}

/// The body of a refusal: what the client asked for that the cache could not give.
pub fn refusal(outcome: &Outcome) -> String {
    match outcome.reason() {
        Some(Reason::OnlyIfCached) => "edgecache: no stored response (only-if-cached)\n".into(),
        Some(Reason::LoopDetected) => "edgecache: this request came from edgecache itself (a forwarding loop); set ORIGIN to the site to cache\n".into(),
        _ => "edgecache: refused\n".into(),
    }
}

/// A 502 or 504 saying why the origin gave no response.
pub fn error_page(fwd: Fwd, error: OriginError) -> Served {
    let (status, outcome) = match on_failure(fwd, failure_of(&error), false) {
        OnFailure::ErrorPage { status, outcome } => (status, outcome),
        OnFailure::ServeStale(outcome) => (502, outcome),
    };
    let response = reply::plain(status, &format!("edgecache: {error}\n"), &outcome);
    Served::new(response, outcome)
}

/// How the origin failed, as the core decides on it.
pub fn failure_of(error: &OriginError) -> Failure {
    match error {
        OriginError::Timeout(_) | OriginError::NoTimeLeft => Failure::Timeout,
        OriginError::Unreachable(_) => Failure::Unreachable,
    }
}
