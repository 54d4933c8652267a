//! Rows once an answer is to be stored: which tiers take it, how long it is kept, what a
//! body that could not be stored marks, and which requests invalidate or take a leader's entry.

use crate::control::registry::{PurgeRequest, Registry};
use crate::decide::answer::{answers_not_modified, is_template};
use crate::decide::arrival::invalidates_after;
use crate::decide::store::{
    body_dropped, hit_for_pass_until, keep_secs, replacing_by_304, replacing_by_fill, writes_to,
    BodyDropped, Replacing, KV_REWRITE_INTERVAL_MS,
};
use crate::http::Reuse;
use crate::status::{Fwd, Reason};
use crate::storage::backend::Backend;
use crate::storage::record::{Keeping, Kind, Meta, Pieces, Place, Said};

const NOW: i64 = 1_700_000_000_000;

#[test]
fn a_rationed_tier_is_not_rewritten_with_an_unchanged_or_fresh_entry_within_its_interval() {
    use Backend::{CacheApi as Cache, Kv, Memory};
    let recent = |fresh| {
        Some(Replacing {
            stored_at: NOW - 1_000,
            fresh,
        })
    };
    let old = Some(Replacing {
        stored_at: NOW - KV_REWRITE_INTERVAL_MS,
        fresh: true,
    });
    // (backend written, the request's tiers, what is replaced: written)
    let rows: &[(Backend, &[Backend], Option<Replacing>, bool)] = &[
        (Kv, &[Kv], None, true),
        (Kv, &[Kv], recent(true), false),
        // Unchanged (a 304) with only KV to keep it: written, or it would expire there.
        (Kv, &[Kv], recent(false), true),
        (Kv, &[Memory, Kv], recent(false), false),
        (Kv, &[Cache, Kv], old, true),
        (Memory, &[Memory, Kv], recent(true), true),
        (Cache, &[Cache, Kv], recent(true), true),
    ];
    for (backend, tiers, replacing, expected) in rows {
        assert_eq!(
            writes_to(*backend, tiers, *replacing, NOW),
            *expected,
            "{backend:?} of {tiers:?}, replacing {replacing:?}"
        );
    }
}

#[test]
fn what_a_fill_and_a_304_replace() {
    let meta = record(NOW - 5_000, 60);
    // (fwd, soft-purged: what a fill replaces)
    let fills = [
        (
            Fwd::Request,
            false,
            Some(Replacing {
                stored_at: NOW - 5_000,
                fresh: true,
            }),
        ),
        (Fwd::Request, true, None),
        (Fwd::Stale, false, None),
    ];
    for (fwd, soft_purged, expected) in fills {
        assert_eq!(
            replacing_by_fill(fwd, Some((&meta, soft_purged))),
            expected,
            "{fwd:?} {soft_purged}"
        );
    }
    assert_eq!(replacing_by_fill(Fwd::Request, None), None);
    // (fwd, soft-purged: what a merged 304 replaces)
    let merged = [
        (
            Fwd::Request,
            false,
            Some(Replacing {
                stored_at: NOW - 5_000,
                fresh: true,
            }),
        ),
        (
            Fwd::Stale,
            false,
            Some(Replacing {
                stored_at: NOW - 5_000,
                fresh: false,
            }),
        ),
        (Fwd::Stale, true, None),
    ];
    for (fwd, soft_purged, expected) in merged {
        assert_eq!(
            replacing_by_304(fwd, &meta, soft_purged),
            expected,
            "{fwd:?} {soft_purged}"
        );
    }
}

fn record(stored_at: i64, lifetime: u64) -> Meta {
    let keeping = Keeping {
        stored_at,
        lifetime,
        reuse: Reuse {
            sie: 100,
            ..Reuse::default()
        },
        ..Keeping::default()
    };
    Meta::response(
        "p:1:k".into(),
        "https://a.test/".into(),
        vec![],
        Said::default(),
        keeping,
    )
}

#[test]
fn an_entry_is_kept_for_its_freshness_left_and_its_stale_use() {
    // (stored ms ago, lifetime, keep_stale: kept seconds)
    let rows = [(0, 60, 0, 160), (30_000, 60, 0, 130), (90_000, 60, 0, 100)];
    for (ago, lifetime, keep_stale, expected) in rows {
        let meta = record(NOW - ago, lifetime);
        assert_eq!(
            keep_secs(&meta, keep_stale, NOW),
            expected,
            "{ago} {lifetime}"
        );
    }
    assert_eq!(hit_for_pass_until(NOW, 30), NOW + 30_000);
}

#[test]
fn a_body_too_large_marks_hit_for_pass_only_for_a_fetch_that_speaks_for_the_url() {
    let marks = |reason| BodyDropped {
        reason,
        hit_for_pass: true,
    };
    let reports = |reason| BodyDropped {
        reason,
        hit_for_pass: false,
    };
    // (broke off, beyond the URL's key: what is reported)
    let rows = [
        (false, false, marks(Reason::TooLarge)),
        (false, true, reports(Reason::TooLarge)),
        (true, false, reports(Reason::BodyError)),
    ];
    for (broke_off, beyond_url, expected) in rows {
        assert_eq!(
            body_dropped(broke_off, beyond_url),
            expected,
            "{broke_off} {beyond_url}"
        );
    }
}

#[test]
fn only_a_success_or_redirect_to_an_unsafe_method_invalidates() {
    // (the pass invalidates, status: invalidated)
    let rows = [
        (true, 200, true),
        (true, 303, true),
        (true, 404, false),
        (true, 500, false),
        (false, 200, false),
    ];
    for (invalidates, status, expected) in rows {
        assert_eq!(
            invalidates_after(invalidates, status),
            expected,
            "{invalidates} {status}"
        );
    }
}

#[test]
fn esi_templates_and_their_validators() {
    let html = [("content-type".to_string(), "text/html".to_string())];
    let asked = [(
        "surrogate-control".to_string(),
        "content=\"ESI/1.0\"".to_string(),
    )];
    let image = [("content-type".to_string(), "image/png".to_string())];
    // (status, fields, route has esi: a template)
    type Row<'a> = (u16, &'a [(String, String)], bool, bool);
    let rows: [Row; 5] = [
        (200, &html, true, true),
        (200, &html, false, false),
        (200, &asked, false, true),
        (200, &image, true, false),
        (404, &html, true, false),
    ];
    for (status, fields, route, expected) in rows {
        assert_eq!(
            is_template(status, fields, route),
            expected,
            "{status} {fields:?} {route}"
        );
    }
    let etag = [("etag".to_string(), "\"a\"".to_string())];
    let client = [("if-none-match".to_string(), "\"a\"".to_string())];
    // (the origin's status, or a stored entry; a template: answered 304)
    let rows = [
        (Some(200), false, true),
        (Some(404), false, false),
        (None, false, true),
        (Some(200), true, false),
        (None, true, false),
    ];
    for (from_origin, template, expected) in rows {
        assert_eq!(
            answers_not_modified(from_origin, template, &client[..], &etag[..]),
            expected,
            "{from_origin:?} {template}"
        );
    }
}

#[test]
fn every_kind_of_record_comes_from_the_one_constructor() {
    let variant = Meta {
        vary: vec!["accept-language".into()],
        ..record(NOW, 60)
    };
    let marker = Meta::marker("p:1", &variant);
    assert_eq!(
        (marker.kind, marker.key.as_str(), marker.status),
        (Kind::Variants, "p:1", 0)
    );
    assert_eq!(
        (marker.vary.clone(), marker.lifetime, marker.body_len),
        (variant.vary.clone(), 60, 0)
    );
    let value = Meta::value("p:1:v", NOW, 10, 2);
    assert_eq!(
        (value.kind, value.stored_at, value.lifetime, value.body_len),
        (Kind::Value, NOW, 10, 2)
    );
    let place = Place {
        kind: Kind::Parts,
        key: "p:1:k".into(),
        url: "https://a.test/".into(),
        vary: vec![],
    };
    let some = Pieces {
        total: 10,
        held: vec![(0, 3)],
    };
    let all = Pieces {
        total: 10,
        held: vec![(0, 9)],
    };
    let parts = Meta::of_parts(
        place.clone(),
        Said::default(),
        Keeping::default(),
        some.clone(),
        4,
    );
    assert_eq!((parts.kind, parts.parts), (Kind::Parts, Some(some)));
    let whole = Meta::of_parts(place, Said::default(), Keeping::default(), all, 10);
    assert_eq!(
        (whole.kind, whole.parts),
        (Kind::Response, None),
        "parts holding every byte are the response"
    );
    let merged = variant.with_headers(vec![("x".into(), "1".into())]);
    assert_eq!(
        (merged.headers.len(), merged.key.clone()),
        (1, variant.key.clone())
    );
}

#[test]
fn a_collapsed_follower_takes_the_leaders_entry_only_when_it_is_its_own_variant() {
    use crate::config::Config;
    use crate::decide::stored::follower_takes;
    use crate::request::plan::Plan;
    use crate::request::target::Target;
    let config = Config::default();
    let url = url::Url::parse("https://a.test/page").unwrap();
    let target = Target::of(&url, false);
    let routing = config.routing(&target);
    let french: Vec<(String, String)> = vec![("accept-language".into(), "fr".into())];
    let german: Vec<(String, String)> = vec![("accept-language".into(), "de".into())];
    let plan = Plan::new(&config, &routing, &target, &french, None);
    let vary = vec!["accept-language".to_string()];
    let key = plan.variant_key(&vary, &french);
    let keeping = Keeping {
        stored_at: NOW,
        asked_at: Some(NOW - 1_000),
        lifetime: 60,
        ..Keeping::default()
    };
    let said = Said {
        status: 200,
        ..Said::default()
    };
    let stored = Meta::response(key, plan.key.url(), vary, said, keeping);
    let registry = Registry::default();
    let takes = |request: &Vec<(String, String)>, unknown| {
        follower_takes(&stored, &plan, request, Fwd::Miss, (&registry, unknown))
            .map(|o| o.cache_status())
    };
    // (the follower's fields, purge standing unknown: what it reports, or None: it fetches)
    let collapsed = "edgecache; fwd=miss; fwd-status=200; collapsed";
    let unknown = "edgecache; fwd=miss; fwd-status=200; collapsed; detail=purge-standing-unknown";
    let rows = [
        (&french, false, Some(collapsed)),
        (&french, true, Some(unknown)),
        (&german, false, None),
    ];
    for (request, standing_unknown, expected) in rows {
        let row = format!("{request:?} {standing_unknown}");
        assert_eq!(
            takes(request, standing_unknown).as_deref(),
            expected,
            "{row}"
        );
    }
    // A purge made after the leader's fetch was sent: the follower fetches for itself.
    let mut purged = Registry::default();
    let purge = PurgeRequest::parse(r#"{"urls": ["https://a.test/page"]}"#).unwrap();
    purged.add(&purge, NOW - 500);
    assert_eq!(
        follower_takes(&stored, &plan, &french, Fwd::Miss, (&purged, false)),
        None
    );
}

#[test]
fn a_purge_made_while_the_answer_was_on_its_way_reaches_it() {
    use crate::control::registry::Standing;
    // Asked for at NOW - 2 s, come at NOW: the purge at NOW - 1 s was acknowledged while the
    // origin was still answering from what the purge says is gone.
    let meta = Meta::response(
        "p:1:k".into(),
        "https://a.test/".into(),
        vec![],
        Said::default(),
        Keeping {
            stored_at: NOW,
            asked_at: Some(NOW - 2_000),
            lifetime: 60,
            ..Keeping::default()
        },
    );
    assert_eq!(meta.purged_from(), NOW - 2_000);
    let mut registry = Registry::default();
    let purge = PurgeRequest::parse(r#"{"urls": ["https://a.test/"]}"#).unwrap();
    registry.add(&purge, NOW - 1_000);
    assert_eq!(
        registry.standing(&meta.url, &meta.tags, meta.purged_from()),
        Standing::Purged
    );
    // A record stored before the field existed is compared by when it arrived, as before.
    let older = record(NOW, 60);
    assert_eq!(older.purged_from(), NOW);
    assert_eq!(
        registry.standing(&older.url, &older.tags, older.purged_from()),
        Standing::Valid
    );
    // Its age is still counted from when it arrived.
    assert_eq!(meta.age(NOW + 5_000), 5);
}
