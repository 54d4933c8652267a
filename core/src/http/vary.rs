//! The fields a response varies on (RFC 9111 §4.1).

use super::fields::Fields;

/// The `Vary` field names, lowercase, deduplicated, in order of first appearance.
pub fn vary_fields(response: &(impl Fields + ?Sized)) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for name in response.field("vary").unwrap_or_default().split(',') {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !fields.contains(&name) {
            fields.push(name);
        }
    }
    fields
}

/// The fields an answer is stored as a variant of: its own `Vary` fields (`vary`), then those
/// of `url_vary` (what the URL's `Vary` marker, or the stale entry it refreshes, names) it
/// leaves out. An origin that says `Vary: Accept-Language` only to requests carrying the field
/// answers the others without it; stored as a variant of it all the same (a narrower key than
/// its own `Vary` asks, which RFC 9111 §4.1 allows), such an answer leaves the marker in place,
/// and no tier takes it for every request to the URL.
pub fn with_url_vary(mut vary: Vec<String>, url_vary: &[String]) -> Vec<String> {
    for name in url_vary {
        if !vary.contains(name) {
            vary.push(name.clone());
        }
    }
    vary
}

#[cfg(test)]
mod tests {
    use super::with_url_vary;
    use crate::http::fixtures::*;
    use crate::http::Storability;

    #[test]
    fn vary_fields_are_lowercased_and_deduplicated() {
        match judge(
            &[],
            200,
            &[
                ("cache-control", "max-age=60"),
                ("vary", "Accept-Language, accept-language"),
                ("vary", "Accept-Encoding"),
            ],
        ) {
            Storability::Store { vary, .. } => {
                assert_eq!(vary, vec!["accept-language", "accept-encoding"])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_answer_is_stored_as_a_variant_of_every_field_the_url_varies_on() {
        let url_vary = ["accept-language".to_string(), "accept-encoding".to_string()];
        assert_eq!(
            with_url_vary(Vec::new(), &url_vary),
            ["accept-language", "accept-encoding"]
        );
        assert_eq!(
            with_url_vary(vec!["accept-encoding".into(), "origin".into()], &url_vary),
            ["accept-encoding", "origin", "accept-language"]
        );
        assert!(with_url_vary(Vec::new(), &[]).is_empty());
    }
}
