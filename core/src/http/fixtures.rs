//! What the HTTP tests share: a fixed time, the default overrides, and a response judged by
//! `storability` with what it was judged.

use super::field_list as headers;
use super::{storability, Exchange, Overrides, RequestFacts, Reuse, Storability};
use crate::status::Reason;

pub(super) const NOW: i64 = 1_700_000_000;
pub(super) const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT"; // == NOW

pub(super) fn exchange() -> Exchange {
    Exchange {
        request_ms: NOW * 1000,
        response_ms: NOW * 1000,
        sent_ms: NOW * 1000,
    }
}

pub(super) fn overrides() -> Overrides {
    Overrides {
        route_ttl: None,
        default_ttl: 600,
        ..Overrides::default()
    }
}

pub(super) fn judge(
    request: &[(&str, &str)],
    status: u16,
    response: &[(&str, &str)],
) -> Storability {
    judge_with(request, status, response, &overrides())
}

pub(super) fn judge_with(
    request: &[(&str, &str)],
    status: u16,
    response: &[(&str, &str)],
    overrides: &Overrides,
) -> Storability {
    let request = RequestFacts::from_fields(&headers(request));
    storability(&request, status, &headers(response), overrides, exchange())
}

pub(super) fn lifetime(result: Storability) -> u64 {
    match result {
        Storability::Store { lifetime, .. } => lifetime,
        other => panic!("expected Store, got {other:?}"),
    }
}

pub(super) fn reason(result: Storability) -> Reason {
    match result {
        Storability::DontStore(reason) => reason,
        other => panic!("expected DontStore, got {other:?}"),
    }
}

pub(super) fn reuse_of(result: Storability) -> Reuse {
    match result {
        Storability::Store { reuse, .. } => reuse,
        other => panic!("expected Store, got {other:?}"),
    }
}

pub(super) type FieldList<'a> = &'a [(&'a str, &'a str)];
