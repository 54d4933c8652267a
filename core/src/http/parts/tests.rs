//! Tables of what is held, what is missing, merging, and how a `206` fits what was asked.

use super::*;
use crate::http::field_list;
use crate::http::range::parse;

/// (first, last, all held, what is missing)
type HeldRow = (u64, u64, bool, Option<Piece>);
/// (held, new part, pieces after)
type MergeRow<'a> = (&'a [Piece], Piece, &'a [Piece]);
/// (asked, response fields, fit, why)
type FitRow<'a> = (PartAsked, Vec<(&'a str, &'a str)>, Fit, &'a str);
/// (an answer's fields, its complete length, the outcome, why)
type RepresentationRow<'a, T> = (&'a [(&'a str, &'a str)], T, bool, &'a str);

#[test]
fn content_ranges_are_read_strictly() {
    let range = |first, last, total| Some(ContentRange { first, last, total });
    let cases: &[(&str, Option<ContentRange>)] = &[
        ("bytes 0-99/1000", range(0, 99, Some(1000))),
        ("Bytes  5-5/6", range(5, 5, Some(6))),
        ("bytes 0-99/*", range(0, 99, None)),
        ("bytes 99-0/1000", None),
        ("bytes 0-1000/1000", None),
        ("bytes */1000", None),
        ("items 0-1/2", None),
        ("bytes 0-1", None),
        ("bytes -1-2/3", None),
        ("bytes 0-1/x", None),
        ("bytes 0-99999999999999999999/1", None),
    ];
    for (value, expected) in cases {
        assert_eq!(content_range(value), *expected, "{value}");
    }
}

#[test]
fn what_is_held_and_what_is_missing() {
    let pieces = [(0, 99), (200, 299)];
    let cases: &[HeldRow] = &[
        (10, 50, true, None),
        (0, 99, true, None),
        (50, 149, false, Some((100, 149))),
        (50, 250, false, Some((100, 199))),
        (150, 250, false, Some((150, 199))),
        (250, 400, false, Some((300, 400))),
        (0, 400, false, Some((100, 400))),
        (100, 199, false, Some((100, 199))),
        (400, 500, false, Some((400, 500))),
    ];
    for &(first, last, held, gap) in cases {
        assert_eq!(holds(&pieces, first, last), held, "{first}-{last}");
        assert_eq!(missing(&pieces, first, last), gap, "{first}-{last}");
    }
    assert_eq!(missing(&[], 3, 7), Some((3, 7)), "nothing held");
}

#[test]
fn merging_joins_touching_and_overlapping_parts_in_order() {
    let body = |pieces: &[(u64, u64)]| -> Vec<u8> {
        pieces
            .iter()
            .flat_map(|&(a, b)| (a..=b).map(|i| i as u8))
            .collect()
    };
    let part = |a: u64, b: u64| -> Vec<u8> { (a..=b).map(|i| i as u8).collect() };
    let cases: &[MergeRow] = &[
        (&[], (10, 19), &[(10, 19)]),
        (&[(0, 9)], (10, 19), &[(0, 19)]),
        (&[(10, 19)], (0, 9), &[(0, 19)]),
        (&[(0, 9)], (20, 29), &[(0, 9), (20, 29)]),
        (&[(0, 9), (20, 29)], (5, 24), &[(0, 29)]),
        (&[(0, 9), (20, 29)], (10, 19), &[(0, 29)]),
        (&[(0, 29)], (5, 9), &[(0, 29)]),
        (&[(5, 9)], (0, 29), &[(0, 29)]),
        (&[(0, 3), (10, 13), (20, 23)], (12, 21), &[(0, 3), (10, 23)]),
    ];
    for &(held, (a, b), after) in cases {
        let (pieces, bytes) = merge(held, &body(held), a, &part(a, b)).unwrap();
        assert_eq!(pieces, after, "{held:?} + {a}-{b}");
        assert_eq!(bytes, body(after), "{held:?} + {a}-{b}: bytes in order");
        assert!(well_formed(&pieces, bytes.len() as u64, 30));
    }
    assert!(
        merge(&[(0, 9)], b"short", 10, b"x").is_none(),
        "a body shorter than its pieces"
    );
}

#[test]
fn slices_come_from_one_piece_and_completeness_needs_every_byte() {
    let pieces = [(0, 3), (10, 13)];
    let body = b"abcdWXYZ";
    assert_eq!(slice(&pieces, body, 1, 2), Some(&b"bc"[..]));
    assert_eq!(slice(&pieces, body, 11, 13), Some(&b"XYZ"[..]));
    assert_eq!(slice(&pieces, body, 3, 10), None, "across a gap");
    assert_eq!(slice(&pieces, b"abc", 10, 13), None, "a short body");
    assert!(complete(&[(0, 13)], 14));
    assert!(!complete(&[(0, 12)], 14));
    assert!(!complete(&pieces, 14));
    assert!(!complete(&[], 0));
}

#[test]
fn malformed_pieces_are_refused() {
    assert!(well_formed(&[(0, 3), (10, 13)], 8, 14));
    for (pieces, len, total) in [
        (&[(0, 3), (4, 13)][..], 14, 14),
        (&[(10, 13), (0, 3)][..], 8, 14),
        (&[(0, 3), (2, 13)][..], 16, 14),
        (&[(0, 14)][..], 15, 14),
        (&[(3, 2)][..], 0, 14),
        (&[(0, 3)][..], 5, 14),
        (&[][..], 0, 14),
    ] {
        assert!(!well_formed(pieces, len, total), "{pieces:?}");
    }
}

#[test]
fn the_range_asked_for_is_written_out() {
    let client = |range: &str| PartAsked::Client(parse(range).unwrap()).range_field();
    assert_eq!(client("bytes=0-99"), "bytes=0-99");
    assert_eq!(client("bytes = 5-"), "bytes=5-");
    assert_eq!(client("bytes=-20"), "bytes=-20");
    let missing = PartAsked::Missing {
        first: 100,
        last: 149,
        total: 1000,
        etag: "\"v1\"".into(),
    };
    assert_eq!(missing.range_field(), "bytes=100-149");
}

#[test]
fn how_a_206_fits_what_was_asked() {
    let asked = |range: &str| PartAsked::Client(parse(range).unwrap());
    let missing = PartAsked::Missing {
        first: 100,
        last: 149,
        total: 1000,
        etag: "\"v1\"".into(),
    };
    let fits = |first, last, total| Fit::Fits {
        first,
        last,
        total,
        etag: "\"v1\"".into(),
    };
    let cases: Vec<FitRow> = vec![
        (
            asked("bytes=0-99"),
            vec![("content-range", "bytes 0-99/1000"), ("etag", "\"v1\"")],
            fits(0, 99, 1000),
            "exactly the range asked",
        ),
        (
            asked("bytes=0-99"),
            vec![("content-range", "bytes 0-99/50"), ("etag", "\"v1\"")],
            Fit::NotAsked,
            "the last byte is past its own length",
        ),
        (
            asked("bytes=0-99"),
            vec![("content-range", "bytes 0-49/50"), ("etag", "\"v1\"")],
            fits(0, 49, 50),
            "a range past the end, cut to the length",
        ),
        (
            asked("bytes=900-"),
            vec![("content-range", "bytes 900-999/1000"), ("etag", "\"v1\"")],
            fits(900, 999, 1000),
            "an open range",
        ),
        (
            asked("bytes=-100"),
            vec![("content-range", "bytes 900-999/1000"), ("etag", "\"v1\"")],
            fits(900, 999, 1000),
            "a suffix",
        ),
        (
            asked("bytes=-100"),
            vec![("content-range", "bytes 0-99/1000"), ("etag", "\"v1\"")],
            Fit::NotAsked,
            "a suffix answered with the first bytes",
        ),
        (
            asked("bytes=0-99"),
            vec![("content-range", "bytes 1-100/1000"), ("etag", "\"v1\"")],
            Fit::NotAsked,
            "other bytes than asked: a lying origin",
        ),
        (
            asked("bytes=0-99"),
            vec![
                ("content-range", "bytes 0-99/1000"),
                ("etag", "\"v1\""),
                ("content-length", "99"),
            ],
            Fit::NotAsked,
            "a length that is not the range's",
        ),
        (
            asked("bytes=0-99"),
            vec![("etag", "\"v1\"")],
            Fit::NotAsked,
            "no Content-Range",
        ),
        (
            asked("bytes=0-99"),
            vec![("content-range", "bytes 0-99/*"), ("etag", "\"v1\"")],
            Fit::Unkeepable,
            "an unknown complete length",
        ),
        (
            asked("bytes=0-99"),
            vec![("content-range", "bytes 0-99/1000"), ("etag", "W/\"v1\"")],
            Fit::Unkeepable,
            "a weak entity tag",
        ),
        (
            asked("bytes=0-99"),
            vec![
                ("content-range", "bytes 0-99/1000"),
                ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ],
            Fit::Unkeepable,
            "Last-Modified alone is not enough here",
        ),
        (
            asked("bytes=0-99"),
            vec![
                ("content-range", "bytes 0-99/1000"),
                ("etag", "\"v1\""),
                ("content-encoding", "gzip"),
            ],
            Fit::Unkeepable,
            "a coded body",
        ),
        (
            asked("bytes=0-99"),
            vec![("content-range", "bytes 0-99/100001"), ("etag", "\"v1\"")],
            Fit::TooLarge,
            "a complete length over max_body_bytes",
        ),
        (
            missing.clone(),
            vec![("content-range", "bytes 100-149/1000"), ("etag", "\"v1\"")],
            fits(100, 149, 1000),
            "the missing bytes under the held tag",
        ),
        (
            missing.clone(),
            vec![("content-range", "bytes 100-150/1000"), ("etag", "\"v1\"")],
            Fit::NotAsked,
            "more than the missing bytes",
        ),
        (
            missing.clone(),
            vec![("content-range", "bytes 100-149/1000"), ("etag", "\"v2\"")],
            Fit::Changed,
            "another version",
        ),
        (
            missing.clone(),
            vec![("content-range", "bytes 100-149/2000"), ("etag", "\"v1\"")],
            Fit::Changed,
            "the same tag with another length",
        ),
        (
            missing.clone(),
            vec![("content-range", "bytes 100-149/1000")],
            Fit::Unkeepable,
            "no tag to compare",
        ),
    ];
    for (asked, fields, expected, why) in cases {
        assert_eq!(
            fit(&asked, &*field_list(&fields), 100_000),
            expected,
            "{why}"
        );
    }
}

#[test]
fn held_parts_are_replaced_only_by_a_changed_representation() {
    let held = field_list(&[
        ("etag", "\"v1\""),
        ("last-modified", "Mon, 07 Dec 2026 00:00:00 GMT"),
    ]);
    // (answer's fields, its complete length, changed, why)
    let rows: &[RepresentationRow<Option<u64>>] = &[
        (
            &[("etag", "\"v1\"")],
            Some(1000),
            false,
            "the same tag and length: merged",
        ),
        (
            &[("etag", " \"v1\" ")],
            Some(1000),
            false,
            "spaces are not a change",
        ),
        (
            &[("etag", "\"v1\"")],
            None,
            false,
            "an unknown length shows nothing",
        ),
        (&[], None, false, "no validator shows nothing"),
        (&[("etag", "\"v2\"")], Some(1000), true, "another tag"),
        (
            &[("etag", "W/\"v1\"")],
            Some(1000),
            true,
            "a weak tag is another",
        ),
        (&[("etag", "\"v1\"")], Some(999), true, "another length"),
        (&[], Some(2000), true, "another length without a tag"),
        (
            &[
                ("etag", "\"v1\""),
                ("last-modified", "Tue, 08 Dec 2026 00:00:00 GMT"),
            ],
            Some(1000),
            true,
            "another Last-Modified",
        ),
        (
            &[("last-modified", "Mon, 07 Dec 2026 00:00:00 GMT")],
            Some(1000),
            false,
            "the same Last-Modified",
        ),
    ];
    for (fields, total, changed_, why) in rows {
        assert_eq!(
            changed(&held, 1000, &field_list(fields), *total),
            *changed_,
            "{why}"
        );
    }
}

#[test]
fn a_whole_responses_length_is_its_content_length_unless_coded() {
    assert_eq!(
        whole_length(&field_list(&[("content-length", "1000")])),
        Some(1000)
    );
    assert_eq!(
        whole_length(&field_list(&[
            ("content-length", "10"),
            ("content-encoding", "gzip")
        ])),
        None
    );
    assert_eq!(
        whole_length(&field_list(&[
            ("content-length", "10"),
            ("content-encoding", "identity")
        ])),
        Some(10)
    );
    assert_eq!(whole_length(&field_list(&[("content-length", "-1")])), None);
    assert_eq!(whole_length(&field_list(&[])), None);
}

#[test]
fn a_part_of_the_held_representation_is_merged_and_any_other_replaces_them() {
    let held = field_list(&[("etag", "\"v1\"")]);
    // (answer's fields, its complete length, merged, why)
    let rows: &[RepresentationRow<u64>] = &[
        (
            &[("etag", "\"v1\"")],
            1000,
            true,
            "the same strong tag and length",
        ),
        (&[("etag", "\"v2\"")], 1000, false, "another tag"),
        (&[("etag", "\"v1\"")], 1001, false, "another length"),
        (
            &[("etag", "W/\"v1\"")],
            1000,
            false,
            "a weak tag never joins",
        ),
        (&[], 1000, false, "no tag never joins"),
        (
            &[
                ("etag", "\"v1\""),
                ("last-modified", "Tue, 08 Dec 2026 00:00:00 GMT"),
            ],
            1000,
            true,
            "a Last-Modified the held parts lack shows no change",
        ),
    ];
    for (fields, total, merged, why) in rows {
        assert_eq!(
            same_representation(&held, 1000, &field_list(fields), *total),
            *merged,
            "{why}"
        );
    }
    let untagged = field_list(&[]);
    assert!(!same_representation(
        &untagged,
        1000,
        &field_list(&[("etag", "\"v1\"")]),
        1000
    ));
}
