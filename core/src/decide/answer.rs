//! After the origin answered (or failed to): what to store, what to send, what to report.

use crate::http::parts::Fit;
use crate::http::Storability;
use crate::status::{Fwd, Outcome, Reason};

/// What is known once the origin has answered a fetch for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub fwd: Fwd,
    pub status: u16,
    /// The fetch carried a stored entry's validators (it revalidates).
    pub conditional: bool,
    /// A stored entry is being replaced or revalidated, and it may be served stale on error.
    pub stale_usable_on_error: bool,
    /// A HEAD with nothing stored: its answer has no body to keep.
    pub head_without_entry: bool,
    /// The fetch carried a credential the key does not hold (`decide::refresh::sent`): its
    /// answer may be this client's own.
    pub beyond_key: bool,
    /// It carried a credential the URL's key does not hold (one a `Vary` keys, say).
    pub beyond_url: bool,
    /// A stored entry is revalidated or would be replaced by what is stored.
    pub replacing: bool,
    /// No tier could be opened.
    pub no_tiers: bool,
    /// `Content-Length` says the body is over `max_body_bytes`.
    pub too_large: bool,
    /// The response varies on a field the client sent and the origin was not sent.
    pub varies_on_unsent: bool,
    /// It was already asked once more with the fields it varies on.
    pub asked_again: bool,
    /// Of the fields it varies on that the origin was not sent, one is a credential the fetch
    /// withholds (`decide::refresh`): asking again would not send it either.
    pub unsent_withheld: bool,
    /// What HTTP caching says of the response (`http::storability`).
    pub verdict: Storability,
}

/// What to do with the origin's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// A 304 to a conditional fetch: merge it into the stored entry (`after_not_modified`).
    NotModified,
    /// A 304 to an unconditional fetch: nothing to merge it into; pass it on.
    UnexpectedNotModified(Outcome),
    /// The origin failed (500, 502, 503, 504) and the stored entry may be served stale.
    ServeStale(Outcome),
    /// Ask once more, sending the fields the response varies on.
    AskAgain,
    /// Store it, streaming it to the client meanwhile.
    Store(Outcome),
    /// Stream it through unstored. `response_says`: the response itself forbids storing,
    /// whoever with the key asks (`speaks_for_key`): an entry it replaces is dropped; when the
    /// request alone is to blame (its directives, or a credential the key does not hold),
    /// nothing others get changes.
    Pass {
        outcome: Outcome,
        response_says: bool,
        /// Remember the URL as hit-for-pass: the response says so and the request carried
        /// nothing the URL's key does not hold.
        hit_for_pass: bool,
    },
}

/// Reasons that belong to the response, whoever asks: worth remembering as hit-for-pass, and
/// worth dropping an entry the response replaces.
pub fn is_response_reason(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::NoStore
            | Reason::Private
            | Reason::SetCookie
            | Reason::VaryStar
            | Reason::UncacheableStatus
            | Reason::NoCache
            | Reason::StaleOnArrival
            | Reason::TooLarge
            | Reason::PartialContent
    )
}

/// Whether an answer that is not stored for `reason` speaks for everyone with the key: the
/// response itself forbids storing, and the request carried nothing the key does not hold.
/// Only then is the URL remembered as hit-for-pass and an entry it answered for dropped; a
/// `private` answer to a request with a session cookie says nothing of what others get.
pub fn speaks_for_key(reason: Reason, beyond_key: bool) -> bool {
    is_response_reason(reason) && !beyond_key
}

pub fn judge(answer: &Answered) -> Judgement {
    let fwd = answer.fwd;
    let status = answer.status;
    if status == 304 {
        if answer.conditional {
            return Judgement::NotModified;
        }
        return Judgement::UnexpectedNotModified(Outcome::forward(
            fwd,
            Some(304),
            false,
            Some(Reason::UncacheableStatus),
        ));
    }
    // RFC 5861 §4: "an error is any situation that would result in a 500, 502, 503, or 504
    // HTTP response status code being returned".
    if matches!(status, 500 | 502 | 503 | 504) && answer.stale_usable_on_error {
        return Judgement::ServeStale(Outcome::forward(
            Fwd::Stale,
            Some(status),
            false,
            Some(Reason::StaleIfError),
        ));
    }
    let reason = if answer.head_without_entry {
        Some(Reason::HeadNotStored)
    } else if answer.beyond_key && answer.replacing {
        // A credentialed answer never replaces what others with the key get.
        Some(Reason::Credentials)
    } else if answer.no_tiers {
        Some(Reason::StorageError)
    } else if answer.too_large {
        Some(Reason::TooLarge)
    } else {
        match &answer.verdict {
            Storability::DontStore(reason) => Some(*reason),
            Storability::Store { .. }
                if answer.varies_on_unsent && !answer.asked_again && !answer.unsent_withheld =>
            {
                return Judgement::AskAgain
            }
            Storability::Store { .. } if answer.varies_on_unsent => Some(Reason::VaryUnsent),
            Storability::Store { .. } => None,
        }
    };
    match reason {
        None => Judgement::Store(Outcome::forward(fwd, Some(status), true, None)),
        Some(reason) => Judgement::Pass {
            outcome: Outcome::forward(fwd, Some(status), false, Some(reason)),
            response_says: speaks_for_key(reason, answer.beyond_key),
            hit_for_pass: speaks_for_key(reason, answer.beyond_url),
        },
    }
}

/// What is known once the origin has answered a request for a part (`FetchPart`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartAnswered {
    pub fwd: Fwd,
    pub status: u16,
    /// How a 206 fits what was asked and what is held (`http::parts::fit`).
    pub fit: Fit,
    /// As in `Answered` (`replacing`: parts are held for the key).
    pub beyond_key: bool,
    pub replacing: bool,
    pub no_tiers: bool,
    /// The part varies on a field the client sent and the origin was not sent: it may be
    /// another variant's, so it is not kept (a part is not asked for again).
    pub varies_on_unsent: bool,
    /// What HTTP caching says of a 206 (`http::part_storability`).
    pub verdict: Storability,
}

/// What to do with the answer to a request for a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartJudgement {
    /// A 200: the whole response (the origin ignored `Range`, or `If-Range` found another
    /// version). Judged as any full answer (`judge`); kept, it replaces the parts.
    Full,
    /// Keep it as a part, merged into the held parts; answer the client from them.
    Keep(Outcome),
    /// Send it on unstored. `drop_held`: it is of another version than the held parts, which
    /// go (never on the word of a request with a credential the key does not hold). Nothing
    /// here is remembered as hit-for-pass: a part says nothing of the whole.
    Pass { outcome: Outcome, drop_held: bool },
}

pub fn judge_part(answer: &PartAnswered) -> PartJudgement {
    let pass = |reason, drop_held| PartJudgement::Pass {
        outcome: Outcome::forward(answer.fwd, Some(answer.status), false, Some(reason)),
        drop_held,
    };
    match answer.status {
        200 => return PartJudgement::Full,
        // 416, errors, redirects: answers to this range, never stored for the URL.
        206 => {}
        _ => return pass(Reason::Range, false),
    }
    let reason = match &answer.fit {
        Fit::Changed => return pass(Reason::PartChanged, !answer.beyond_key),
        Fit::NotAsked => Reason::PartMismatch,
        Fit::Unkeepable => Reason::PartialContent,
        Fit::TooLarge => Reason::TooLarge,
        Fit::Fits { .. } if answer.beyond_key && answer.replacing => Reason::Credentials,
        Fit::Fits { .. } if answer.no_tiers => Reason::StorageError,
        Fit::Fits { .. } => match &answer.verdict {
            Storability::DontStore(reason) => *reason,
            Storability::Store { .. } if answer.varies_on_unsent => Reason::VaryUnsent,
            Storability::Store { .. } => {
                return PartJudgement::Keep(Outcome::forward(answer.fwd, Some(206), true, None))
            }
        },
    };
    pass(reason, false)
}

/// What to do once a 304 has been merged into the stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterNotModified {
    /// Keep the refreshed entry, and answer from it.
    Refresh(Outcome),
    /// Answer this client from the merged entry alone; `drop_stored`: the response itself no
    /// longer allows storing (it added `no-store` or `Set-Cookie`, say), so the old entry
    /// goes too. A request's own `no-store` or credentials never remove what others get.
    AnswerAlone { outcome: Outcome, drop_stored: bool },
}

/// `verdict` is what HTTP caching says of the merged response; `beyond_key` as in `Answered`
/// (a 304 always revalidates a stored entry).
pub fn after_not_modified(fwd: Fwd, verdict: &Storability, beyond_key: bool) -> AfterNotModified {
    let reason = match verdict {
        _ if beyond_key => Reason::Credentials,
        Storability::DontStore(reason) => *reason,
        Storability::Store { .. } => {
            return AfterNotModified::Refresh(Outcome::forward(fwd, Some(304), true, None))
        }
    };
    AfterNotModified::AnswerAlone {
        outcome: Outcome::forward(fwd, Some(304), false, Some(reason)),
        drop_stored: speaks_for_key(reason, beyond_key),
    }
}

/// Why the origin gave no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Unreachable,
    Timeout,
}

/// What to answer when the origin gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    /// The stored entry, stale (stale-if-error).
    ServeStale(Outcome),
    /// An error page with `status` (502 or 504).
    ErrorPage { status: u16, outcome: Outcome },
}

pub fn on_failure(fwd: Fwd, failure: Failure, stale_usable_on_error: bool) -> OnFailure {
    if stale_usable_on_error {
        return OnFailure::ServeStale(Outcome::forward(
            Fwd::Stale,
            None,
            false,
            Some(Reason::StaleIfError),
        ));
    }
    let (status, reason) = match failure {
        Failure::Timeout => (504, Reason::OriginTimeout),
        Failure::Unreachable => (502, Reason::OriginUnreachable),
    };
    OnFailure::ErrorPage {
        status,
        outcome: Outcome::forward(fwd, None, false, Some(reason)),
    }
}

/// What a request passed on as the client sent it reports, once the origin answered.
pub fn passed(fwd: Fwd, status: u16, reason: Option<Reason>) -> Outcome {
    Outcome::forward(fwd, Some(status), false, reason)
}

/// What a fetch reports when its body could not be stored after all (it broke off, or grew
/// past `max_body_bytes` while streaming): the client has its answer; the log says why.
pub fn body_not_stored(broke_off: bool) -> Reason {
    if broke_off {
        Reason::BodyError
    } else {
        Reason::TooLarge
    }
}
