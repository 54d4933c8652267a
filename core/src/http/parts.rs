//! Partial content kept and combined (RFC 9111 §3.3 and §3.4, RFC 9110 §14): which bytes of a
//! representation are held, which a request still needs, a new part merged in, and whether a
//! `206` may join the held parts at all.
//!
//! Held bytes are a list of pieces, inclusive byte ranges in order, neither overlapping nor
//! touching (touching pieces are one), whose bytes a body holds one after another. A range a
//! request asks for is held when one piece holds all of it.
//!
//! A `206` joins parts only under a strong `ETag` (§3.4 also allows `Last-Modified` under
//! conditions; edgecache asks for the strong entity tag, which never names two versions), with
//! a known complete length, a body that is not coded, and a `Content-Range` that is exactly the
//! range asked for: a client cannot make others get bytes the origin did not send for them.

use crate::http::range::{RangeAnswer, Spec};
use crate::http::Fields;

/// The most pieces one record holds: a part that would leave more is answered but not kept,
/// so a run of scattered ranges cannot grow the record's metadata without bound.
pub const MAX_PIECES: usize = 32;

/// Bytes `first..=last` held, as a piece of a representation.
pub type Piece = (u64, u64);

/// Pieces and the bytes they hold, one after another.
pub type HeldBytes = (Vec<Piece>, Vec<u8>);

/// `Content-Range: bytes first-last/total` (RFC 9110 §14.4); `total` is `None` for `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub first: u64,
    pub last: u64,
    pub total: Option<u64>,
}

fn number(text: &str) -> Option<u64> {
    let text = text.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A `Content-Range` of one satisfied byte range; `None` for anything else.
pub fn content_range(value: &str) -> Option<ContentRange> {
    let (unit, rest) = value.trim().split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (range, total) = rest.trim().split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last) = (number(first)?, number(last)?);
    let total = match total.trim() {
        "*" => None,
        text => Some(number(text)?),
    };
    if last < first || total.is_some_and(|total| last >= total) {
        return None;
    }
    Some(ContentRange { first, last, total })
}

/// The response's entity tag when it is strong (not `W/`) and quoted.
pub fn strong_etag(fields: &(impl Fields + ?Sized)) -> Option<String> {
    let etag = fields.field("etag")?;
    let etag = etag.trim();
    (etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"')).then(|| etag.to_string())
}

/// Bytes the pieces hold.
pub fn held_bytes(pieces: &[Piece]) -> u64 {
    pieces.iter().map(|&(first, last)| last - first + 1).sum()
}

/// The pieces are in order, apart, within `total` bytes, and hold `body_len` bytes: a record
/// that says otherwise is not read.
pub fn well_formed(pieces: &[Piece], body_len: u64, total: u64) -> bool {
    let mut next = 0u64;
    for (i, &(first, last)) in pieces.iter().enumerate() {
        if last < first || last >= total || (i > 0 && first <= next) {
            return false;
        }
        next = last.saturating_add(1);
    }
    !pieces.is_empty() && pieces.len() <= MAX_PIECES && held_bytes(pieces) == body_len
}

/// All of `first..=last` is held.
pub fn holds(pieces: &[Piece], first: u64, last: u64) -> bool {
    pieces.iter().any(|&(a, b)| a <= first && last <= b)
}

/// Bytes `first..=last` out of the pieces' `body`, when one piece holds them.
pub fn slice<'a>(pieces: &[Piece], body: &'a [u8], first: u64, last: u64) -> Option<&'a [u8]> {
    let (start, end) = offsets(pieces, first, last)?;
    body.get(start as usize..=end as usize)
}

/// Where bytes `first..=last` of the representation lie in the pieces' body (which holds the
/// pieces one after another), when one piece holds them: what to read of a stored parts
/// body for them, and no more.
pub fn offsets(pieces: &[Piece], first: u64, last: u64) -> Option<(u64, u64)> {
    let mut offset = 0u64;
    for &(a, b) in pieces {
        if a <= first && first <= last && last <= b {
            let start = offset + (first - a);
            return Some((start, start + (last - first)));
        }
        offset += b - a + 1;
    }
    None
}

/// The one range to ask the origin for so that `first..=last` is held: from its first byte
/// not held to its last byte not held. `None` when every byte is held.
pub fn missing(pieces: &[Piece], first: u64, last: u64) -> Option<(u64, u64)> {
    let piece_of = |byte: u64| pieces.iter().find(|&&(a, b)| a <= byte && byte <= b);
    let mut low = first;
    while let Some(&(_, b)) = piece_of(low) {
        if b >= last {
            return None;
        }
        low = b + 1;
    }
    let mut high = last;
    // `low` is not held, so any piece holding `high` starts after it.
    while let Some(&(a, _)) = piece_of(high) {
        high = a - 1;
    }
    Some((low, high))
}

/// The pieces (over `body`) with `part`'s bytes added from `first`; where they overlap held
/// bytes, the new ones are kept (under one strong validator they are the same). `None` when
/// `body` is not as long as the pieces say.
pub fn merge(pieces: &[Piece], body: &[u8], first: u64, part: &[u8]) -> Option<HeldBytes> {
    if held_bytes(pieces) != body.len() as u64 {
        return None;
    }
    if part.is_empty() {
        return Some((pieces.to_vec(), body.to_vec()));
    }
    let last = first + part.len() as u64 - 1;
    let mut segments: Vec<(u64, &[u8])> = Vec::with_capacity(pieces.len() + 2);
    let mut offset = 0usize;
    for &(a, b) in pieces {
        let length = (b - a + 1) as usize;
        let bytes = body.get(offset..offset + length)?;
        offset += length;
        if a < first {
            let end = b.min(first - 1);
            segments.push((a, &bytes[..=(end - a) as usize]));
        }
        if b > last {
            let start = a.max(last + 1);
            segments.push((start, &bytes[(start - a) as usize..]));
        }
    }
    segments.push((first, part));
    segments.sort_by_key(|&(start, _)| start);
    let mut merged: Vec<Piece> = Vec::with_capacity(segments.len());
    let mut joined = Vec::with_capacity(body.len() + part.len());
    for (start, bytes) in segments {
        let end = start + bytes.len() as u64 - 1;
        match merged.last_mut() {
            Some(piece) if piece.1 + 1 == start => piece.1 = end,
            _ => merged.push((start, end)),
        }
        joined.extend_from_slice(bytes);
    }
    Some((merged, joined))
}

/// Every byte of a representation of `total` bytes is held.
pub fn complete(pieces: &[Piece], total: u64) -> bool {
    total > 0 && pieces == [(0, total - 1)]
}

/// The complete length of the representation a whole response (a `200`) carries: its
/// `Content-Length`, when the body is not coded.
pub fn whole_length(response: &(impl Fields + ?Sized)) -> Option<u64> {
    let coded = response
        .field("content-encoding")
        .is_some_and(|coding| !coding.trim().eq_ignore_ascii_case("identity"));
    (!coded)
        .then(|| response.field("content-length"))
        .flatten()
        .and_then(|value| number(&value))
}

/// An answer (a part, or a whole response) is shown to be of another representation than
/// parts `held` (with their stored fields) of `held_total` bytes: another entity tag, another
/// `Last-Modified` (both present), or another complete length (`answer_total`, when known).
/// Held bytes are replaced only by a changed representation, never by fewer bytes of the
/// same one (RFC 9111 §3.4: parts under one strong validator are one representation's and
/// may be combined); an answer that shows nothing either way leaves them.
pub fn changed(
    held: &(impl Fields + ?Sized),
    held_total: u64,
    answer: &(impl Fields + ?Sized),
    answer_total: Option<u64>,
) -> bool {
    let differs = |name: &str| match (held.field(name), answer.field(name)) {
        (Some(ours), Some(theirs)) => ours.trim() != theirs.trim(),
        // Held parts always have a strong entity tag; an answer without one shows nothing.
        _ => false,
    };
    differs("etag") || differs("last-modified") || answer_total.is_some_and(|n| n != held_total)
}

/// A part asked for as the client's range (not as the held parts' missing bytes, which
/// `If-Range` already ties to them) is of the held parts' representation: the same strong
/// entity tag, the same complete length, no other `Last-Modified`. It is then merged into
/// them, so a one-byte forced refresh never leaves one byte where a megabyte was held.
pub fn same_representation(
    held: &(impl Fields + ?Sized),
    held_total: u64,
    answer: &(impl Fields + ?Sized),
    answer_total: u64,
) -> bool {
    let tagged = strong_etag(held).is_some_and(|tag| strong_etag(answer) == Some(tag));
    tagged && !changed(held, held_total, answer, Some(answer_total))
}

/// What a request for a part asked the origin for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartAsked {
    /// The client's range, with nothing held.
    Client(Spec),
    /// Bytes `first..=last` missing from parts of `total` bytes held under `etag` (asked with
    /// `If-Range: etag`).
    Missing {
        first: u64,
        last: u64,
        total: u64,
        etag: String,
    },
}

impl PartAsked {
    /// The `Range` field that asks for it.
    pub fn range_field(&self) -> String {
        match self {
            PartAsked::Client(Spec::From { first, last: None }) => format!("bytes={first}-"),
            PartAsked::Client(Spec::From {
                first,
                last: Some(last),
            }) => format!("bytes={first}-{last}"),
            PartAsked::Client(Spec::Suffix(length)) => format!("bytes=-{length}"),
            PartAsked::Missing { first, last, .. } => format!("bytes={first}-{last}"),
        }
    }
}

/// How a `206` fits what was asked and what is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// It may join the parts: bytes `first..=last` of `total`, under `etag`.
    Fits {
        first: u64,
        last: u64,
        total: u64,
        etag: String,
    },
    /// Its `Content-Range` (or `Content-Length`) is not the range asked for.
    NotAsked,
    /// Another version (entity tag), or the same tag with another complete length, than the
    /// held parts: they cannot be combined, and the held ones go.
    Changed,
    /// It cannot be kept as a part: no strong `ETag`, an unknown complete length, a coded
    /// body (the runtime decodes it, so its bytes are not the ones the range counts).
    Unkeepable,
    /// Its complete length is over `max_body_bytes`.
    TooLarge,
}

/// How a `206` with `response`'s fields fits `asked`.
pub fn fit(asked: &PartAsked, response: &(impl Fields + ?Sized), max_body_bytes: u64) -> Fit {
    let Some(range) = response
        .field("content-range")
        .and_then(|value| content_range(&value))
    else {
        return Fit::NotAsked;
    };
    let length = range.last - range.first + 1;
    let declared = response.field("content-length");
    if declared.is_some_and(|value| number(&value) != Some(length)) {
        return Fit::NotAsked;
    }
    let etag = strong_etag(response);
    let total = match asked {
        PartAsked::Client(spec) => {
            let Some(total) = range.total else {
                return Fit::Unkeepable;
            };
            let expected = RangeAnswer::Partial {
                first: range.first,
                last: range.last,
            };
            if spec.against(total) != expected {
                return Fit::NotAsked;
            }
            total
        }
        PartAsked::Missing {
            first,
            last,
            total,
            etag: held,
        } => {
            match &etag {
                None => return Fit::Unkeepable,
                Some(etag) if etag != held => return Fit::Changed,
                Some(_) if range.total != Some(*total) => return Fit::Changed,
                Some(_) => {}
            }
            if (range.first, range.last) != (*first, *last) {
                return Fit::NotAsked;
            }
            *total
        }
    };
    let coded = response
        .field("content-encoding")
        .is_some_and(|coding| !coding.trim().eq_ignore_ascii_case("identity"));
    let Some(etag) = etag.filter(|_| !coded) else {
        return Fit::Unkeepable;
    };
    if total > max_body_bytes {
        return Fit::TooLarge;
    }
    Fit::Fits {
        first: range.first,
        last: range.last,
        total,
        etag,
    }
}

#[cfg(test)]
mod tests;
