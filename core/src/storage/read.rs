//! Which bytes of a stored body a hit reads from its tier, so that what a request costs the
//! isolate is bounded by what it returns, not by what is stored: a one-byte range of a 96 MiB
//! object reads one byte where the tier can read a part (the Cache API, R2), a chunk at a time
//! where it reads only whole values as a stream (KV), and copies only the part out of the
//! memory tier. The glue (`flow::lookup`) carries the choice out; nothing here does I/O.

use crate::http::parts;
use crate::http::range::RangeAnswer;
use crate::storage::backend::{Backend, Ranges};
use crate::storage::record::Pieces;

/// What a hit reads of a stored body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRead {
    /// The whole body, as a stream from a tier that streams reads (never whole in the
    /// isolate), or from the memory tier's copy.
    Whole,
    /// Bytes `first..=last` of the stored body, read as `how` says.
    Part { first: u64, last: u64, how: Ranges },
}

/// What to read of a stored response's body for `answer` (`range::answer`'s, which has
/// already weighed `If-Range`, codings and the body's length). A HEAD reads nothing it sends:
/// its stream is dropped unread, so it never costs a ranged read.
pub fn for_response(backend: Backend, answer: RangeAnswer, head: bool) -> BodyRead {
    match answer {
        RangeAnswer::Partial { first, last } if !head && first <= last => BodyRead::Part {
            first,
            last,
            how: backend.describe().ranges,
        },
        _ => BodyRead::Whole,
    }
}

/// What to read of held parts' body (the pieces one after another) for bytes `first..=last`
/// of the representation: only where they lie in it. `None` when no one piece holds them.
pub fn for_parts(backend: Backend, pieces: &Pieces, first: u64, last: u64) -> Option<BodyRead> {
    let (first, last) = parts::offsets(&pieces.held, first, last)?;
    Some(BodyRead::Part {
        first,
        last,
        how: backend.describe().ranges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PART: RangeAnswer = RangeAnswer::Partial { first: 0, last: 0 };

    #[test]
    fn a_range_is_read_by_the_tier_where_it_can_and_cut_from_a_stream_where_it_cannot() {
        let part = |how| BodyRead::Part {
            first: 0,
            last: 0,
            how,
        };
        for (backend, expected) in [
            (Backend::CacheApi, part(Ranges::ByBackend)),
            (Backend::R2, part(Ranges::ByBackend)),
            (Backend::Kv, part(Ranges::FromStream)),
            (Backend::Memory, part(Ranges::InIsolate)),
        ] {
            assert_eq!(for_response(backend, PART, false), expected, "{backend:?}");
        }
    }

    #[test]
    fn whole_answers_and_heads_read_the_whole_stream() {
        for backend in Backend::ALL {
            assert_eq!(
                for_response(backend, RangeAnswer::Full, false),
                BodyRead::Whole
            );
            assert_eq!(
                for_response(backend, RangeAnswer::Unsatisfiable, false),
                BodyRead::Whole,
                "a 416 sends no body; its stream is dropped"
            );
            assert_eq!(
                for_response(backend, PART, true),
                BodyRead::Whole,
                "a HEAD is never a ranged read"
            );
        }
    }

    #[test]
    fn every_tier_that_streams_reads_never_holds_a_range_whole() {
        for backend in Backend::ALL {
            let described = backend.describe();
            if described.streams_reads {
                assert_ne!(described.ranges, Ranges::InIsolate, "{backend:?}");
            } else {
                assert_eq!(described.ranges, Ranges::InIsolate, "{backend:?}");
            }
        }
    }

    #[test]
    fn held_parts_are_read_at_the_offset_of_the_bytes_asked() {
        let pieces = Pieces {
            total: 100,
            held: vec![(0, 9), (50, 59)],
        };
        assert_eq!(
            for_parts(Backend::R2, &pieces, 52, 55),
            Some(BodyRead::Part {
                first: 12,
                last: 15,
                how: Ranges::ByBackend
            })
        );
        assert_eq!(
            for_parts(Backend::Kv, &pieces, 5, 9),
            Some(BodyRead::Part {
                first: 5,
                last: 9,
                how: Ranges::FromStream
            })
        );
        assert_eq!(
            for_parts(Backend::CacheApi, &pieces, 5, 52),
            None,
            "across a gap"
        );
    }
}
