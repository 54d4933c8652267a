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

#[cfg(test)]
mod tests {
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
}
