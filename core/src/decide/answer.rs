//! After the origin answered (or failed to): what to store, what to send, what to report.

use crate::decide::fetch::Fetched;
use crate::decide::refresh::Sent;
use crate::http::parts::Fit;
use crate::http::reuse::usable_on_error;
use crate::http::{Fields, Storability};
use crate::status::{Fwd, Outcome, Reason};
use crate::storage::record::Meta;

/// What is known once the origin has answered a fetch for a key, each part worked out here
/// from the facts (`Credentials::of`, `IfError::of`, `Room::of`, `Variance::of`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub fwd: Fwd,
    pub status: u16,
    /// What the fetch was (`fetch::before_fetch`).
    pub fetched: Fetched,
    pub credentials: Credentials,
    pub if_error: IfError,
    pub room: Room,
    pub variance: Variance,
    /// What HTTP caching says of the response (`http::storability`).
    pub verdict: Storability,
    /// Who answered the fetch.
    pub by: AnsweredBy,
}

/// Who answered a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnsweredBy {
    /// The origin, asked by this location (the route is not shielded, or the request is not
    /// for the shield, `decide::shield::via`).
    #[default]
    Origin,
    /// The shield.
    Shield,
    /// The origin, asked by this location because the shield could not be asked (it fails
    /// open): `Cache-Status` says so, when no other reason is given.
    OriginShieldUnavailable,
}

impl AnsweredBy {
    /// The `detail` an answer that says nothing else carries.
    pub fn detail(self) -> Option<Reason> {
        (self == AnsweredBy::OriginShieldUnavailable).then_some(Reason::ShieldUnavailable)
    }
}

/// What a fetch carried of credentials the key does not hold (`decide::refresh::sent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Nothing the URL's key does not hold.
    Keyed,
    /// A credential the URL's key does not hold but the variant's does (one a `Vary` keys,
    /// as Django's `Vary: Cookie`): the answer says nothing of the URL's other variants.
    VariantKeyed,
    /// A credential the key does not hold: the answer may be this client's own.
    Own,
}

impl Credentials {
    pub fn of(sent: &Sent) -> Credentials {
        match (sent.beyond_key, sent.beyond_url) {
            (true, _) => Credentials::Own,
            (false, true) => Credentials::VariantKeyed,
            (false, false) => Credentials::Keyed,
        }
    }

    /// Beyond the key: the answer never replaces or removes what others with it get.
    pub fn beyond_key(self) -> bool {
        self == Credentials::Own
    }

    /// Beyond the URL's key: the answer never marks the URL hit-for-pass.
    pub fn beyond_url(self) -> bool {
        self != Credentials::Keyed
    }
}

/// What the stored entry a fetch replaces or revalidates is good for should the origin fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfError {
    /// It may be served stale (RFC 5861 §4, `stale-if-error`).
    ServeStale,
    /// Nothing stored, or nothing that may be served on error.
    Nothing,
}

impl IfError {
    /// For the entry `stale`, at `now_ms`.
    pub fn of(stale: Option<&Meta>, now_ms: i64) -> IfError {
        let usable =
            stale.is_some_and(|meta| usable_on_error(&meta.reuse, meta.age(now_ms), meta.lifetime));
        if usable {
            IfError::ServeStale
        } else {
            IfError::Nothing
        }
    }
}

/// Whether storage can take the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    Fits,
    /// No tier could be opened.
    NoTiers,
    /// `Content-Length` says the body is over `max_body_bytes`.
    TooLarge,
}

impl Room {
    pub fn of(tiers: usize, content_length: Option<u64>, max_body_bytes: u64) -> Room {
        if tiers == 0 {
            Room::NoTiers
        } else if content_length.is_some_and(|len| len > max_body_bytes) {
            Room::TooLarge
        } else {
            Room::Fits
        }
    }
}

/// Whether the answer was chosen on every field it varies on that the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variance {
    /// The origin was sent every such field (or the response does not vary).
    Sent,
    /// It varies on these fields, which the client sent and the origin was not sent: ask
    /// again with them.
    Unsent(Vec<String>),
    /// It varies on fields the origin was not sent, and asking again would not help: one is a
    /// credential the fetch withholds, or it was asked again already.
    Unsendable,
}

impl Variance {
    /// For `verdict`, judged on the request as sent: `origin_saw(name)`, whether the client's
    /// field `name` reached the origin (`fetch::origin_saw`); `withheld`, the credentials the
    /// fetch kept back (`refresh::Sent`); `request`, the client's fields. `asked_again`: the
    /// fetch was already asked once more with the fields it varies on.
    pub fn of(
        verdict: &Storability,
        origin_saw: impl Fn(&str) -> bool,
        withheld: &[String],
        request: &(impl Fields + ?Sized),
        asked_again: bool,
    ) -> Variance {
        let Storability::Store { vary, .. } = verdict else {
            return Variance::Sent;
        };
        let unsent: Vec<String> = vary
            .iter()
            .filter(|name| !origin_saw(name) && request.field(name).is_some())
            .cloned()
            .collect();
        if unsent.is_empty() {
            Variance::Sent
        } else if asked_again || unsent.iter().any(|name| withheld.contains(name)) {
            Variance::Unsendable
        } else {
            Variance::Unsent(unsent)
        }
    }
}

/// What to do with the origin's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// A 304 to a conditional fetch: merge it into the stored entry (`after_not_modified`).
    NotModified,
    /// A 304 to the request asked again without validators after one named another response
    /// (`Fetched::Reasked`): the origin holds the stored body current, though its validators
    /// disagree; answer this client from the stored entry merged with it, keep nothing and
    /// remove nothing.
    NotModifiedAlone(Outcome),
    /// A 304 to an unconditional fetch: nothing to merge it into; pass it on.
    UnexpectedNotModified(Outcome),
    /// The origin failed (500, 502, 503, 504) and the stored entry may be served stale.
    ServeStale(Outcome),
    /// Ask once more, sending these fields too: the response varies on them.
    AskAgain(Vec<String>),
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
    let credentials = answer.credentials;
    if status == 304 {
        match answer.fetched {
            Fetched::Revalidating => return Judgement::NotModified,
            Fetched::Reasked => {
                return Judgement::NotModifiedAlone(Outcome::forward(
                    fwd,
                    Some(304),
                    false,
                    Some(Reason::ValidatorMismatch),
                ))
            }
            _ => {}
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
    if matches!(status, 500 | 502 | 503 | 504) && answer.if_error == IfError::ServeStale {
        return Judgement::ServeStale(Outcome::forward(
            Fwd::Stale,
            Some(status),
            false,
            Some(Reason::StaleIfError),
        ));
    }
    let reason = match (
        answer.fetched,
        answer.room,
        &answer.variance,
        &answer.verdict,
    ) {
        (Fetched::Head, ..) => Some(Reason::HeadNotStored),
        // A credentialed answer never replaces what others with the key get.
        (fetched, ..) if credentials.beyond_key() && fetched.replaces() => {
            Some(Reason::Credentials)
        }
        (_, Room::NoTiers, ..) => Some(Reason::StorageError),
        (_, Room::TooLarge, ..) => Some(Reason::TooLarge),
        (.., Storability::DontStore(reason)) => Some(*reason),
        (_, _, Variance::Unsent(fields), _) => return Judgement::AskAgain(fields.clone()),
        (_, _, Variance::Unsendable, _) => Some(Reason::VaryUnsent),
        (_, _, Variance::Sent, Storability::Store { .. }) => None,
    };
    match reason {
        None => Judgement::Store(Outcome::forward(
            fwd,
            Some(status),
            true,
            answer.by.detail(),
        )),
        Some(reason) => Judgement::Pass {
            outcome: Outcome::forward(fwd, Some(status), false, Some(reason)),
            response_says: speaks_for_key(reason, credentials.beyond_key()),
            hit_for_pass: speaks_for_key(reason, credentials.beyond_url()),
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
    pub credentials: Credentials,
    /// Parts are held for the key: a part merged into them replaces what others get.
    pub replacing: bool,
    /// As in `Answered` (a part's length is judged by `fit`).
    pub room: Room,
    /// Unless `Sent`, the part may be another variant's, so it is not kept (a part is not
    /// asked for again).
    pub variance: Variance,
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
        Fit::Changed => return pass(Reason::PartChanged, !answer.credentials.beyond_key()),
        Fit::NotAsked => Reason::PartMismatch,
        Fit::Unkeepable => Reason::PartialContent,
        Fit::TooLarge => Reason::TooLarge,
        Fit::Fits { .. } if answer.credentials.beyond_key() && answer.replacing => {
            Reason::Credentials
        }
        Fit::Fits { .. } if answer.room == Room::NoTiers => Reason::StorageError,
        Fit::Fits { .. } => match &answer.verdict {
            Storability::DontStore(reason) => *reason,
            Storability::Store { .. } if answer.variance != Variance::Sent => Reason::VaryUnsent,
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

/// Whether a response is an ESI template to assemble: its origin asked (`Surrogate-Control`),
/// or its route did (`esi_route`) and it is text. Only a 200 is assembled.
pub fn is_template(status: u16, fields: &(impl Fields + ?Sized), esi_route: bool) -> bool {
    use crate::esi::template::{is_textual, requested_by};
    status == 200
        && (requested_by(fields)
            || (esi_route && is_textual(fields.field("content-type").as_deref())))
}

/// Whether the client's validators are answered with a 304 instead of `response` (RFC 9110
/// §13.2.2, `http::conditional::is_not_modified`): never for an ESI template (`template`: its
/// validators are the shell's, not the assembled page's); of an origin's answer passed on,
/// only a 200 (`from_origin`: its status); a stored entry whatever its status.
pub fn answers_not_modified(
    from_origin: Option<u16>,
    template: bool,
    request: &(impl Fields + ?Sized),
    response: &(impl Fields + ?Sized),
) -> bool {
    from_origin.is_none_or(|status| status == 200)
        && !template
        && crate::http::conditional::is_not_modified(request, response)
}
