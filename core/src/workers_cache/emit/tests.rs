use super::*;

fn asked() -> CacheAsked {
    CacheAsked {
        same_site: true,
        head: false,
        as_keyed: true,
        credentials: false,
        origin: false,
        keyed_fields: false,
        path_and_query: "/blog/post?page=2".into(),
    }
}

fn kept() -> Kept {
    Kept {
        fresh_secs: 300,
        reuse: Reuse::default(),
        tags: vec!["blog".into()],
        withheld: false,
        body: BodyHeld::Whole,
        url_vary: Vec::new(),
    }
}

fn case<'a>(asked: Option<&'a CacheAsked>, kept: Option<&'a Kept>) -> Case<'a> {
    Case {
        asked,
        kept,
        assembled: false,
        status: 200,
        vary: None,
    }
}

fn refusal(case: &Case) -> Option<Refusal> {
    match verdict(case) {
        CacheVerdict::Refuse(why) => Some(why),
        CacheVerdict::Share { .. } => None,
    }
}

#[test]
fn a_stored_answer_to_a_plain_request_is_shared_for_the_freshness_left() {
    let (asked, kept) = (asked(), kept());
    let emitted = emit(&case(Some(&asked), Some(&kept)));
    assert_eq!(emitted.cdn_cache_control, "max-age=300, stale-if-error=0");
    assert_eq!(
        emitted.cache_tag.as_deref(),
        Some(format!("{},blog", url_tag("/blog/post?page=2")).as_str())
    );
}

/// Each row changes one thing from the shared case above: what is refused, and why.
#[test]
fn anything_workers_cache_could_not_key_or_share_is_no_store_for_it() {
    type Change = fn(&mut CacheAsked, &mut Kept, &mut Option<&'static str>, &mut u16, &mut bool);
    let table: &[(&str, Change, Refusal)] = &[
        (
            "another host or scheme",
            |a, _, _, _, _| a.same_site = false,
            Refusal::OtherSite,
        ),
        ("a HEAD", |a, _, _, _, _| a.head = true, Refusal::Head),
        ("an ESI page", |_, _, _, _, e| *e = true, Refusal::Assembled),
        (
            "a request with credentials",
            |a, _, _, _, _| a.credentials = true,
            Refusal::Credentials,
        ),
        (
            "a request with Origin",
            |a, _, _, _, _| a.origin = true,
            Refusal::Origin,
        ),
        (
            "a route with vary_cookies or vary_headers",
            |a, _, _, _, _| a.keyed_fields = true,
            Refusal::KeyedFields,
        ),
        (
            "a query left out or reordered by normalisation",
            |a, _, _, _, _| a.as_keyed = false,
            Refusal::Spelling,
        ),
        (
            "Vary: Accept-Language",
            |_, _, v, _, _| *v = Some("Accept-Language"),
            Refusal::Vary,
        ),
        (
            "Vary: Accept-Encoding, Cookie",
            |_, _, v, _, _| *v = Some("Accept-Encoding, Cookie"),
            Refusal::Vary,
        ),
        ("Vary: *", |_, _, v, _, _| *v = Some("*"), Refusal::Vary),
        (
            "a URL whose marker names Origin, for a request and answer without it",
            |_, k, _, _, _| k.url_vary = vec!["accept-encoding".into(), "origin".into()],
            Refusal::Vary,
        ),
        (
            "a body still arriving from the origin",
            |_, k, _, _, _| k.body = BodyHeld::Arriving,
            Refusal::Arriving,
        ),
        ("a 206", |_, _, _, s, _| *s = 206, Refusal::Partial),
        ("a 416", |_, _, _, s, _| *s = 416, Refusal::Partial),
        (
            "fields the entry leaves out",
            |_, k, _, _, _| k.withheld = true,
            Refusal::Withheld,
        ),
        (
            "no-cache",
            |_, k, _, _, _| k.reuse.no_cache = true,
            Refusal::Revalidate,
        ),
        (
            "a stale entry",
            |_, k, _, _, _| k.fresh_secs = -3,
            Refusal::NotFresh,
        ),
        (
            "no freshness left",
            |_, k, _, _, _| k.fresh_secs = 0,
            Refusal::NotFresh,
        ),
    ];
    for (name, change, why) in table {
        let (mut asked, mut kept) = (asked(), kept());
        let (mut vary, mut status, mut assembled) = (None, 200, false);
        change(
            &mut asked,
            &mut kept,
            &mut vary,
            &mut status,
            &mut assembled,
        );
        let case = Case {
            asked: Some(&asked),
            kept: Some(&kept),
            assembled,
            status,
            vary,
        };
        assert_eq!(refusal(&case), Some(*why), "{name}");
        let emitted = emit(&case);
        assert_eq!(emitted.cdn_cache_control, "no-store", "{name}");
        assert_eq!(emitted.cache_tag, None, "{name}");
    }
}

#[test]
fn a_url_varying_on_accept_encoding_alone_is_shared() {
    let asked = asked();
    let mut kept = kept();
    kept.url_vary = vec!["accept-encoding".into()];
    assert_eq!(refusal(&case(Some(&asked), Some(&kept))), None);
}

#[test]
fn what_edgecache_did_not_store_or_does_not_answer_is_no_store() {
    let asked = asked();
    assert_eq!(refusal(&case(Some(&asked), None)), Some(Refusal::NotStored));
    assert_eq!(refusal(&case(None, None)), Some(Refusal::NotCacheable));
    assert_eq!(emit(&case(None, None)).cdn_cache_control, "no-store");
}

#[test]
fn accept_encoding_is_the_one_vary_shared() {
    let (asked, kept) = (asked(), kept());
    for vary in ["Accept-Encoding", "accept-encoding", " ", ""] {
        let case = Case {
            vary: Some(vary),
            ..case(Some(&asked), Some(&kept))
        };
        assert_eq!(refusal(&case), None, "{vary:?}");
    }
}

#[test]
fn revalidation_answers_are_shared_as_the_entry_they_refresh() {
    let (asked, kept) = (asked(), kept());
    let not_modified = Case {
        status: 304,
        ..case(Some(&asked), Some(&kept))
    };
    assert_eq!(
        emit(&not_modified).cdn_cache_control,
        "max-age=300, stale-if-error=0"
    );
}

#[test]
fn stale_windows_are_edgecache_s_and_must_revalidate_closes_them() {
    let asked = asked();
    let mut kept = kept();
    kept.reuse.swr = 30;
    kept.reuse.sie = 600;
    assert_eq!(
        emit(&case(Some(&asked), Some(&kept))).cdn_cache_control,
        "max-age=300, stale-while-revalidate=30, stale-if-error=600"
    );
    kept.reuse.must_revalidate = true;
    assert_eq!(
        emit(&case(Some(&asked), Some(&kept))).cdn_cache_control,
        "max-age=300, stale-if-error=0, must-revalidate"
    );
}

#[test]
fn the_emitted_field_is_one_edgecache_would_read_back_as_meant() {
    // RFC 9213: the field must be a valid dictionary, or a cache ignores it whole.
    let asked = asked();
    let mut kept = kept();
    kept.reuse.swr = 30;
    kept.reuse.must_revalidate = true;
    for emitted in [
        emit(&case(Some(&asked), Some(&kept))),
        emit(&case(None, None)),
    ] {
        let fields = vec![(CDN_FIELD.to_string(), emitted.cdn_cache_control.clone())];
        let governing = crate::http::governing_directives(&fields);
        assert!(governing.targeted, "{}", emitted.cdn_cache_control);
    }
}

#[test]
fn tags_stay_within_cloudflare_s_limits() {
    let url = url_tag("/a");
    // 64 tags of 1,024 bytes would be 65 KB: cut at 16,000 bytes, whole tags only.
    let long: Vec<String> = (0..64)
        .map(|i| format!("{i:02}{}", "x".repeat(1022)))
        .collect();
    let value = cache_tag(&url, &long);
    assert!(value.len() <= MAX_TAG_FIELD_BYTES, "{}", value.len());
    assert!(value.starts_with(&url), "the URL's tag comes first");
    let tags: Vec<&str> = value.split(',').collect();
    assert_eq!(tags.len(), 1 + 15, "15 long tags fit after the URL's");
    assert!(tags[1..].iter().all(|t| t.len() == 1024));
    // Invalid tags and repeats (Cloudflare folds case) are left out; a small tag after
    // a long one that did not fit still goes in.
    let mixed = [
        "Blog".to_string(),
        "blog".to_string(),
        "has space".to_string(),
        "a,b".to_string(),
        "x".repeat(MAX_TAG_BYTES + 1),
        "ünï".to_string(),
        "news".to_string(),
    ];
    assert_eq!(cache_tag(&url, &mixed), format!("{url},Blog,news"));
    let many: Vec<String> = (0..1200).map(|i| format!("t{i}")).collect();
    assert_eq!(
        cache_tag(&url, &many).split(',').count(),
        MAX_TAGS,
        "at most 1000 tags"
    );
}

#[test]
fn a_url_tag_names_one_path_and_query() {
    let tag = url_tag("/blog/post?page=2");
    assert!(tag.starts_with(URL_TAG_PREFIX));
    assert_eq!(tag.len(), URL_TAG_PREFIX.len() + 32);
    assert!(tag.bytes().all(|b| b.is_ascii_graphic() && b != b','));
    assert_eq!(tag, url_tag("/blog/post?page=2"));
    assert_ne!(tag, url_tag("/blog/post?page=3"));
    assert_ne!(tag, url_tag("/blog/post"));
}

#[test]
fn a_key_url_gives_its_path_and_query() {
    assert_eq!(
        path_and_query("https://example.com/blog/post?page=2"),
        "/blog/post?page=2"
    );
    assert_eq!(path_and_query("http://127.0.0.1:8787/"), "/");
    assert_eq!(path_and_query("https://example.com"), "/");
}
