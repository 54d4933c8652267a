use super::*;

fn texts(doc: &str) -> Vec<String> {
    let template = parse(doc.as_bytes());
    template
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(r) => format!("T:{}", &doc[r.clone()]),
            Part::Include(i) => format!("I:{}", i.src),
            Part::Invalid(reason) => format!("X:{reason}"),
            Part::Malformed { reason, .. } => format!("M:{reason}"),
        })
        .collect()
}

/// The page as assembled when each include gives `[src]`.
fn output(doc: &str) -> String {
    parse(doc.as_bytes())
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(r) => doc[r.clone()].to_string(),
            Part::Include(i) => format!("[{}]", i.src),
            Part::Invalid(_) | Part::Malformed { .. } => String::new(),
        })
        .collect()
}

fn malformed(doc: &str) -> usize {
    parse(doc.as_bytes())
        .parts
        .iter()
        .filter(|p| matches!(p, Part::Malformed { .. }))
        .count()
}

#[test]
fn a_page_without_esi_is_one_text() {
    assert_eq!(
        texts("<p>hello <b>world</b></p>"),
        ["T:<p>hello <b>world</b></p>"]
    );
    assert!(parse(b"").parts.is_empty());
}

#[test]
fn includes_split_the_text() {
    assert_eq!(
        texts(r#"<nav><esi:include src="/nav"/></nav><main><esi:include src='/user' /></main>"#),
        [
            "T:<nav>",
            "I:/nav",
            "T:</nav><main>",
            "I:/user",
            "T:</main>"
        ]
    );
}

#[test]
fn include_attributes_are_read() {
    let template = parse(
        br#"<esi:include src="/a?x=1&amp;y=2" alt="/b" onerror="continue" vary-cookies="sessionid, lang" vary-headers="Accept-Language"></esi:include>after"#,
    );
    assert_eq!(
        template.parts[0],
        Part::Include(Include {
            src: "/a?x=1&y=2".into(),
            alt: Some("/b".into()),
            continue_on_error: true,
            vary_cookies: Some(vec!["sessionid".into(), "lang".into()]),
            vary_headers: Some(vec!["accept-language".into()]),
        })
    );
    assert_eq!(template.parts.len(), 2, "the closing tag is consumed");
}

#[test]
fn an_absent_vary_attribute_differs_from_an_empty_one() {
    let include = |doc: &[u8]| match parse(doc).parts.remove(0) {
        Part::Include(include) => include,
        other => panic!("not an include: {other:?}"),
    };
    let plain = include(br#"<esi:include src="/a"/>"#);
    assert_eq!((plain.vary_cookies, plain.vary_headers), (None, None));
    let empty = include(br#"<esi:include src="/a" vary-cookies="" vary-headers=" "/>"#);
    assert_eq!(empty.vary_cookies, Some(vec![]));
    assert_eq!(empty.vary_headers, Some(vec![]));
    let repeated = include(br#"<esi:include src="/a" vary-cookies="a b a,b"/>"#);
    assert_eq!(repeated.vary_cookies, Some(vec!["a".into(), "b".into()]));
}

#[test]
fn remove_comment_and_code_blocks() {
    assert_eq!(
        texts("a<esi:remove><a href=/nav>nav</a></esi:remove>b<esi:comment text=\"x\"/>c"),
        ["T:a", "T:b", "T:c"]
    );
    assert_eq!(
        texts("a<!--esi <esi:include src=\"/x\"/> inner -->b"),
        ["T:a", "T: ", "I:/x", "T: inner ", "T:b"]
    );
}

#[test]
fn ordinary_comments_and_lookalikes_are_text() {
    let doc = "<!-- esi --><!--esiX--><esi:includes src=\"/x\"/><esi:choose></esi:choose>";
    assert_eq!(texts(doc), [format!("T:{doc}")]);
}

#[test]
fn broken_includes_are_reported_not_guessed() {
    assert_eq!(
        texts("a<esi:include/>b"),
        ["T:a", "X:<esi:include> has no src", "T:b"]
    );
    assert_eq!(
        texts("a<esi:include src=/x />b"),
        [
            "T:a",
            "X:<esi:include> attribute \"src\" is not quoted",
            "T:b"
        ]
    );
    assert_eq!(
        texts("a<esi:include src=\"/x\" src=\"/account\"/>b"),
        [
            "T:a",
            "X:<esi:include> attribute \"src\" is given twice",
            "T:b"
        ]
    );
    assert_eq!(
        texts("a<esi:include src=\"/x\" =\"y\"/>b"),
        [
            "T:a",
            "X:<esi:include> has a value without an attribute name",
            "T:b"
        ]
    );
    assert_eq!(
        texts("a<esi:include src=\"/x\" alt/>b"),
        [
            "T:a",
            "X:<esi:include> attribute \"alt\" has no value",
            "T:b"
        ]
    );
    assert_eq!(
        texts("a<esi:include src=\"/x\" alt=\"/y/>b"),
        [
            "T:a",
            "M:<esi:include is not closed by '>'; kept as text",
            "T:<esi:include src=\"/x\" alt=\"/y/>b"
        ],
        "an unclosed quote runs to the end: the tag is not closed"
    );
}

#[test]
fn an_unclosed_include_is_kept_as_text() {
    assert_eq!(
        texts("a<esi:include src=\"/x\""),
        [
            "T:a",
            "M:<esi:include is not closed by '>'; kept as text",
            "T:<esi:include src=\"/x\""
        ]
    );
    let broken = parse(b"a<esi:include src=\"/x\"");
    assert_eq!(
        broken.parts[1],
        Part::Malformed {
            at: 1,
            reason: "<esi:include is not closed by '>'; kept as text".into()
        }
    );
}

#[test]
fn an_include_cut_by_markup_is_kept_as_text_and_the_rest_is_processed() {
    assert_eq!(
        texts("a<esi:include src=\"/x\" <p>b</p><esi:include src=\"/y\"/>c"),
        [
            "T:a",
            "M:<esi:include is cut by a '<' before its '>'; kept as text",
            "T:<esi:include src=\"/x\" <p>b</p>",
            "I:/y",
            "T:c"
        ]
    );
    // A quote opened in a reflected tag cannot run on through the page's markup.
    assert_eq!(
        output("a<esi:include onerror=\"continue\" src=\"<p>page</p>\"/>b"),
        "a<esi:include onerror=\"continue\" src=\"<p>page</p>\"/>b"
    );
}

#[test]
fn an_unclosed_remove_keeps_the_rest_of_the_page() {
    assert_eq!(
        texts("a<esi:remove>b<esi:include src=\"/x\"/>c"),
        [
            "T:a",
            "M:<esi:remove> is not closed by </esi:remove>; kept as text",
            "T:<esi:remove>b",
            "I:/x",
            "T:c"
        ]
    );
}

#[test]
fn a_remove_holding_another_is_not_paired_with_the_inner_close() {
    // A reflected `<esi:remove>` before the page's own remove block takes nothing with it.
    assert_eq!(
        texts("a<esi:remove>b<esi:remove>fallback</esi:remove>c"),
        [
            "T:a",
            "M:<esi:remove> holds another <esi:remove>; the outer one is kept as text",
            "T:<esi:remove>b",
            "T:c"
        ]
    );
}

#[test]
fn a_stray_remove_close_is_kept_as_text() {
    assert_eq!(
        texts("a</esi:remove>b"),
        [
            "T:a",
            "M:</esi:remove> closes no <esi:remove>; kept as text",
            "T:</esi:remove>b"
        ]
    );
}

#[test]
fn an_unclosed_comment_is_kept_as_text() {
    assert_eq!(
        texts("a<esi:comment text=\"x\" b"),
        [
            "T:a",
            "M:<esi:comment is not closed by '>'; kept as text",
            "T:<esi:comment text=\"x\" b"
        ]
    );
    assert_eq!(
        output("a<esi:comment text=\"x\" <p>b</p>"),
        "a<esi:comment text=\"x\" <p>b</p>"
    );
    assert_eq!(
        texts("a<esi:comment text=\"x>y\"/>b"),
        ["T:a", "T:b"],
        "a quoted '>' does not end a comment"
    );
}

#[test]
fn an_unclosed_esi_block_keeps_its_content() {
    assert_eq!(
        texts("a<!--esi b<esi:include src=\"/x\"/>c"),
        [
            "T:a",
            "M:<!--esi is not closed by -->; its content is kept",
            "T: b",
            "I:/x",
            "T:c"
        ]
    );
    assert_eq!(output("a<!--esi <!--esi b --> c"), "a  b  c");
}

#[test]
fn overlapping_directives_keep_their_text() {
    // A remove opened inside an ESI block ends with the block.
    assert_eq!(
        texts("<!--esi <esi:remove> -->x</esi:remove>y"),
        [
            "T: ",
            "M:<esi:remove> is not closed by </esi:remove>; kept as text",
            "T:<esi:remove> ",
            "T:x",
            "M:</esi:remove> closes no <esi:remove>; kept as text",
            "T:</esi:remove>y"
        ]
    );
    // An ESI block inside a remove goes with the remove.
    assert_eq!(output("a<esi:remove><!--esi b</esi:remove> -->c"), "a -->c");
    // An include inside an include's body: both are processed, the stray close stays.
    assert_eq!(
        texts("<esi:include src=\"/a\"><esi:include src=\"/b\"/></esi:include>"),
        ["I:/a", "I:/b", "T:</esi:include>"]
    );
    // An include inside an `<esi:comment>`'s attribute cuts the comment.
    assert_eq!(
        output("<esi:comment text=\"<esi:include src='/a'/>\"/>"),
        "<esi:comment text=\"[/a]\"/>"
    );
}

#[test]
fn unclosed_directives_never_drop_text() {
    // Every sequence of up to four unclosed or cut openers, with text between: the
    // page comes out whole (less an unclosed `<!--esi` marker), each opener reported.
    const OPENERS: &[&str] = &[
        "<esi:remove>",
        "<!--esi ",
        "<esi:comment ",
        "<esi:include ",
        "<esi:include src=\"/a",
        "<esi:include src='/a' ",
        "<p>",
    ];
    let mut sequences: Vec<Vec<usize>> = vec![vec![]];
    for _ in 0..4 {
        let longer: Vec<Vec<usize>> = sequences
            .iter()
            .filter(|s| s.len() == sequences.last().map_or(0, Vec::len))
            .flat_map(|s| {
                (0..OPENERS.len()).map(move |i| {
                    let mut s = s.clone();
                    s.push(i);
                    s
                })
            })
            .collect();
        sequences.extend(longer);
    }
    assert_eq!(sequences.len(), 1 + 7 + 49 + 343 + 2401);
    for sequence in sequences {
        let mut doc = String::from("w0");
        for (n, &i) in sequence.iter().enumerate() {
            doc.push_str(OPENERS[i]);
            doc.push_str(&format!("w{}", n + 1));
        }
        assert_eq!(output(&doc), doc.replace("<!--esi", ""), "{doc}");
        let openers = sequence.iter().filter(|&&i| OPENERS[i] != "<p>").count();
        assert_eq!(malformed(&doc), openers, "{doc}");
    }
}

#[test]
fn includes_in_html_comments_scripts_and_styles_are_processed() {
    // ESI is not HTML-aware: what an include may carry is bounded by configuration.
    assert_eq!(
        output("<!-- <esi:include src=\"/a\"/> --><script>var q = \"<esi:include src='/b'/>\";</script><style>/*<esi:include src=\"/c\"/>*/</style>"),
        "<!-- [/a] --><script>var q = \"[/b]\";</script><style>/*[/c]*/</style>"
    );
}

#[test]
fn one_budget_is_spent_across_the_whole_request() {
    let budget = IncludeBudget::new(3);
    assert!(budget.take() && budget.take() && budget.take());
    assert!(!budget.take(), "the fourth include is over the budget");
    assert!(!budget.take());
    assert_eq!((budget.used(), budget.limit()), (3, 3));
    assert!(
        !IncludeBudget::new(0).take(),
        "a budget of 0 allows no include"
    );
}

#[test]
fn a_quoted_greater_than_does_not_end_the_tag() {
    assert_eq!(texts("<esi:include src=\"/x?a=>\"/>!"), ["I:/x?a=>", "T:!"]);
}

#[test]
fn non_utf8_text_passes_through_by_range() {
    let doc = b"\xff\xfe<esi:include src=\"/x\"/>\xc3";
    let template = parse(doc);
    assert_eq!(template.parts[0], Part::Text(0..2));
    assert_eq!(template.parts[2], Part::Text(doc.len() - 1..doc.len()));
}

#[test]
fn surrogate_control_content_enables_processing() {
    let fields = |v: &str| vec![("surrogate-control".to_string(), v.to_string())];
    assert!(requested_by(&fields(r#"content="ESI/1.0""#)));
    assert!(requested_by(&fields(
        r#"max-age=60, content="ESI/1.0 ESI-Inline/1.0""#
    )));
    assert!(!requested_by(&fields("max-age=60")));
    assert!(!requested_by(&fields(r#"content="other/1.0""#)));
    assert!(!requested_by(&Vec::<(String, String)>::new()));
}

#[test]
fn only_text_is_processed_by_route() {
    assert!(is_textual(Some("text/html; charset=utf-8")));
    assert!(is_textual(Some("application/xhtml+xml")));
    assert!(!is_textual(Some("image/png")));
    assert!(!is_textual(None));
}

#[test]
fn fragment_members_are_structured_field_strings() {
    assert_eq!(fragment_member("/a\"b", "hit"), "\"/a\\\"b\"; hit");
    assert_eq!(fragment_member("/x\r\n", ""), "\"/x\"");
}

#[test]
fn a_template_of_unclosed_markers_is_parsed_in_linear_time() {
    // Each marker once searched the rest of the template for its close: minutes for 1 MB.
    for unit in ["<!--esi ", "<esi:remove>", "<esi:remove><!--esi "] {
        let mut doc = unit.repeat(1_000_000 / unit.len());
        let started = std::time::Instant::now();
        let parsed = parse(doc.as_bytes());
        assert!(parsed.includes().next().is_none());
        // With a close at the very end, every marker but the last is still broken.
        doc.push_str("</esi:remove>-->");
        let closed = parse(doc.as_bytes());
        assert!(closed.parts.len() > 1_000, "{unit}");
        let took = started.elapsed();
        assert!(took.as_secs() < 5, "{unit}: {took:?}");
    }
}
