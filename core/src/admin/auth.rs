//! Admin tokens: who may purge and inspect.
//!
//! Tokens come from secrets: `ADMIN_TOKEN` (labelled `admin`) and optionally `ADMIN_TOKENS`
//! (`label:token,label:token`), so the purge log can say which token acted. A presented
//! token is compared with every configured one through their SHA-256 digests, in constant
//! time and without early exit, so neither timing nor length says how close a guess was.

use std::net::IpAddr;

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

/// Whether `authorization` presents a configured admin token, its scheme in any case (RFC
/// 9110 §11.1: "case-insensitive"), as an origin would read it. Such a field is an admin
/// credential: it is never forwarded to the origin, whatever the path.
pub fn presents_admin_token(authorization: Option<&str>, tokens: &[Token]) -> bool {
    let Some(value) = authorization.map(str::trim) else {
        return false;
    };
    let Some((scheme, credential)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && authorize(Some(&format!("Bearer {}", credential.trim())), tokens).is_some()
}

/// Who failed attempts are counted against: the client's address from `CF-Connecting-IP`,
/// which Cloudflare sets on every request and a client cannot (IPv6 by its /64, the block one
/// subscriber usually holds, so that its 2^64 addresses count as one). Without a valid one
/// (locally, when nothing set it) every such client shares one count, `unknown`: a client
/// cannot escape the limit by leaving the field out, and `X-Forwarded-For` and the like,
/// which anyone can write, are never read.
pub fn client_address(cf_connecting_ip: Option<&str>) -> String {
    match cf_connecting_ip
        .map(str::trim)
        .and_then(|ip| ip.parse::<IpAddr>().ok())
    {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_string(),
    }
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
    fn an_admin_token_is_recognised_in_any_spelling_an_origin_reads() {
        let tokens = tokens(Some("s3cret"), Some("ci:abc"));
        for header in [
            "Bearer s3cret",
            "bearer s3cret",
            "BEARER  abc ",
            "Bearer abc",
        ] {
            assert!(presents_admin_token(Some(header), &tokens), "{header:?}");
        }
        for header in ["Bearer other", "Basic s3cret", "s3cret", "Bearer"] {
            assert!(!presents_admin_token(Some(header), &tokens), "{header:?}");
        }
        assert!(!presents_admin_token(None, &tokens));
        assert!(!presents_admin_token(Some("Bearer s3cret"), &[]));
    }

    #[test]
    fn no_configured_token_refuses_everything() {
        let none = tokens(Some("  "), Some("label:,:token,junk"));
        assert!(none.is_empty());
        assert_eq!(authorize(Some("Bearer "), &none), None);
        assert_eq!(authorize(Some("Bearer anything"), &none), None);
    }

    #[test]
    fn clients_are_known_by_their_address_and_ipv6_by_its_64_bit_prefix() {
        assert_eq!(client_address(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(client_address(Some(" 203.0.113.7 ")), "203.0.113.7");
        assert_eq!(
            client_address(Some("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_address(Some("2001:db8:1:2::1")),
            client_address(Some("2001:db8:1:2:ffff::9")),
            "one /64 is one client"
        );
        assert_ne!(
            client_address(Some("2001:db8:1:2::1")),
            client_address(Some("2001:db8:1:3::1"))
        );
        assert_eq!(client_address(Some("::ffff:192.0.2.1")), "192.0.2.1");
    }

    #[test]
    fn a_missing_or_forged_address_shares_one_count() {
        for header in [None, Some(""), Some("not an ip"), Some("1.2.3.4, 5.6.7.8")] {
            assert_eq!(client_address(header), "unknown", "{header:?}");
        }
    }
}
