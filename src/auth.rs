//! Admin tokens: who may purge and inspect.
//!
//! Tokens come from secrets: `ADMIN_TOKEN` (labelled `admin`) and optionally `ADMIN_TOKENS`
//! (`label:token,label:token`), so the purge log can say which token acted. A presented
//! token is compared with every configured one through their SHA-256 digests, in constant
//! time and without early exit, so neither timing nor length says how close a guess was.

use sha2::{Digest, Sha256};

/// A configured token: its label and the digest of its value.
#[derive(Clone)]
pub struct Token {
    pub label: String,
    digest: [u8; 32],
}

/// Reads tokens from `ADMIN_TOKEN` and `ADMIN_TOKENS`; empty values are ignored.
pub fn tokens(admin_token: Option<&str>, admin_tokens: Option<&str>) -> Vec<Token> {
    let mut tokens = Vec::new();
    if let Some(token) = admin_token.map(str::trim).filter(|t| !t.is_empty()) {
        tokens.push(Token {
            label: "admin".into(),
            digest: hash(token),
        });
    }
    for pair in admin_tokens.unwrap_or_default().split(',') {
        if let Some((label, token)) = pair.split_once(':') {
            let (label, token) = (label.trim(), token.trim());
            if !label.is_empty() && !token.is_empty() {
                tokens.push(Token {
                    label: label.into(),
                    digest: hash(token),
                });
            }
        }
    }
    tokens
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The label of the token in an `Authorization: Bearer …` value, if it is a configured one.
pub fn authorize(authorization: Option<&str>, tokens: &[Token]) -> Option<String> {
    let presented = authorization?.strip_prefix("Bearer ")?.trim();
    if presented.is_empty() {
        return None;
    }
    let digest = hash(presented);
    let mut matched = None;
    for token in tokens {
        let difference = token
            .digest
            .iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference == 0 && matched.is_none() {
            matched = Some(token.label.clone());
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_bearer_token_is_accepted_with_its_label() {
        let tokens = tokens(Some("s3cret"), Some("ci:abc, alice:xyz"));
        assert_eq!(
            authorize(Some("Bearer s3cret"), &tokens).as_deref(),
            Some("admin")
        );
        assert_eq!(
            authorize(Some("Bearer xyz"), &tokens).as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn missing_empty_wrong_or_differently_schemed_tokens_are_refused() {
        let tokens = tokens(Some("s3cret"), None);
        for header in [
            None,
            Some(""),
            Some("Bearer "),
            Some("Bearer wrong"),
            Some("Basic s3cret"),
            Some("s3cret"),
            Some("Bearer s3cre"),
        ] {
            assert_eq!(authorize(header, &tokens), None, "{header:?}");
        }
    }

    #[test]
    fn no_configured_token_refuses_everything() {
        let none = tokens(Some("  "), Some("label:,:token,junk"));
        assert!(none.is_empty());
        assert_eq!(authorize(Some("Bearer "), &none), None);
        assert_eq!(authorize(Some("Bearer anything"), &none), None);
    }
}
