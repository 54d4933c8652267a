use super::*;

fn target(url: &str) -> Target {
    Target::of(&Url::parse(url).unwrap(), false)
}

#[test]
fn unreserved_escapes_are_decoded_and_others_upper_cased() {
    assert_eq!(target("https://a.test/%61pi/%7euser").path, "/api/~user");
    assert_eq!(target("https://a.test/a%2fb%3a").path, "/a%2Fb%3A");
    assert_eq!(
        normalize_percent("%zz%4"),
        "%25zz%254",
        "a stray % is a literal one"
    );
    assert_eq!(normalize_percent("%%332"), "%2532");
    assert_eq!(
        normalize_percent("%2532"),
        "%2532",
        "and reads back as itself"
    );
    assert_eq!(normalize_percent("é%c3%a9"), "é%C3%A9");
}

#[test]
fn dot_segments_are_removed_after_decoding() {
    assert_eq!(
        target("https://a.test/static/%2E%2E/account").path,
        "/account"
    );
    assert_eq!(remove_dot_segments("/a/b/../c/./d"), "/a/c/d");
    assert_eq!(remove_dot_segments("/a/b/.."), "/a/");
    assert_eq!(remove_dot_segments("/../../x"), "/x");
    assert_eq!(remove_dot_segments("/a.b/c..d"), "/a.b/c..d");
}

#[test]
fn hosts_lose_their_trailing_dot_and_keep_a_port() {
    let t = target("https://API.Example.com.:8443/x");
    assert_eq!(t.host, "api.example.com");
    assert_eq!(t.authority(), "api.example.com:8443");
    let url = Url::parse("https://API.Example.com.:8443/x").unwrap();
    assert_eq!(canonical_host(&url), t.host);
    assert_eq!(
        target("https://example.com:443/").authority(),
        "example.com"
    );
}

#[test]
fn case_insensitive_paths_are_lower_cased_outside_escapes() {
    let t = Target::of(&Url::parse("https://a.test/API/Me%2fX").unwrap(), true);
    assert_eq!(t.path, "/api/me%2Fx");
}

#[test]
fn paths_an_origin_could_read_otherwise_are_ambiguous() {
    for url in [
        "https://a.test/static/..%2faccount",
        "https://a.test/static/..%5Caccount",
        "https://a.test/static/..;/account",
        "https://a.test/account;.css",
        "https://a.test//api/me",
        "https://a.test/static/..%252faccount",
        "https://a.test/account%00.css",
        "https://a.test/api./me",
        "https://a.test/account%20",
    ] {
        assert!(target(url).ambiguous, "{url}");
    }
    assert!(!target("https://a.test/a/../b/").ambiguous);
    assert!(!target("https://a.test/v1.2/x").ambiguous);
    assert!(!target("https://a.test/static/app.css").ambiguous);
    assert!(!target("https://a.test/%61pi/x").ambiguous);
}

#[test]
fn readings_cover_decoding_parameters_empty_segments_and_case() {
    let readings = target("https://a.test/static/..%2faccount").readings();
    assert!(readings.contains(&"/account".to_string()), "{readings:?}");
    let readings = target("https://a.test/static/..;/account").readings();
    assert!(readings.contains(&"/account".to_string()), "{readings:?}");
    let readings = target("https://a.test/account;.css").readings();
    assert!(readings.contains(&"/account".to_string()), "{readings:?}");
    let readings = target("https://a.test//api/me").readings();
    assert!(readings.contains(&"/api/me".to_string()), "{readings:?}");
    let readings = target("https://a.test/API/me").readings();
    assert_eq!(readings, ["/api/me"]);
    let readings = target("https://a.test/static/..%252faccount").readings();
    assert!(readings.contains(&"/account".to_string()), "{readings:?}");
    let readings = target("https://a.test/a%5C..%5Capi/me").readings();
    assert!(readings.contains(&"/api/me".to_string()), "{readings:?}");
    let readings = target("https://a.test/api./me").readings();
    assert!(readings.contains(&"/api/me".to_string()), "{readings:?}");
    let readings = target("https://a.test/api./me%20").readings();
    assert!(readings.contains(&"/api/me".to_string()), "{readings:?}");
    let readings = target("https://a.test/api/me%00.css").readings();
    assert!(readings.contains(&"/api/me".to_string()), "{readings:?}");
}

#[test]
fn an_ordinary_path_has_no_other_reading() {
    assert!(target("https://a.test/blog/post-1.html")
        .readings()
        .is_empty());
}

#[test]
fn queries_keep_pieces_sorted_and_split_names_on_semicolons() {
    let t = target("https://a.test/p?b=2&a=%7e1&&c");
    assert_eq!(t.query_for(&QueryRule::All), "a=~1&b=2&c");
    let t = target("https://a.test/jsonp?callback=good&utm_x=1;callback=evil");
    let ignore = QueryRule::Ignore(vec!["utm_*".into()]);
    assert_eq!(
        t.query_for(&ignore),
        "callback=good&utm_x=1;callback=evil",
        "a piece hiding a kept name behind ; stays in the key"
    );
    let t = target("https://a.test/p?utm_a=1;utm_b=2&page=3");
    assert_eq!(t.query_for(&ignore), "page=3");
}

#[test]
fn an_allow_list_keeps_a_piece_with_any_allowed_name() {
    let allow = QueryRule::Allow(vec!["page".into()]);
    let t = target("https://a.test/search?page=1&q=%3Cimg%3E");
    assert_eq!(t.query_for(&allow), "page=1");
    let t = target("https://a.test/search?page=1;q=x");
    assert_eq!(t.query_for(&allow), "page=1;q=x");
}

#[test]
fn purge_prefixes_are_canonical_as_keys_are() {
    assert_eq!(
        canonical_prefix("https://Example.com./%7eblog/", false),
        "https://example.com/~blog/"
    );
    assert_eq!(canonical_prefix("/Blog/%2f", true), "/blog/%2F");
    assert_eq!(canonical_prefix("https://a.test", false), "https://a.test/");
}

#[test]
fn parameter_names_are_decoded_before_matching() {
    let ignore = QueryRule::Ignore(vec!["utm_*".into()]);
    let t = target("https://a.test/p?utm%5Fsource=x&q=1");
    assert_eq!(t.query_for(&ignore), "q=1");
}
