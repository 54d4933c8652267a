//! What the cache knows about the request when judging a response to it: its `Cache-Control`
//! (or `Pragma`) and whether it carries credentials.

use super::directives::CacheControl;
use super::fields::Fields;

/// What the cache knows about the request when judging a response to it.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub cache_control: CacheControl,
    /// `Authorization`, or another credential field than `Cookie` (`X-Api-Key`): RFC 9111
    /// §3.5 applies to them all.
    pub has_authorization: bool,
    pub has_cookie: bool,
}

impl RequestFacts {
    /// The facts of a request, with `credentials` the configured credential fields
    /// (lowercase; `cookie` among them counts as a cookie, the rest as `Authorization`).
    pub fn of(fields: &(impl Fields + ?Sized), credentials: &[String]) -> RequestFacts {
        let mut facts = RequestFacts::from_fields(fields);
        facts.has_authorization |= credentials
            .iter()
            .filter(|name| name.as_str() != "cookie")
            .any(|name| fields.field(name).is_some());
        facts
    }

    /// Any credential at all: the answer may be this user's.
    pub fn has_credentials(&self) -> bool {
        self.has_authorization || self.has_cookie
    }

    pub fn from_fields(fields: &(impl Fields + ?Sized)) -> RequestFacts {
        let cache_control = match fields.field("cache-control") {
            Some(cc) => CacheControl::parse(&cc),
            // RFC 9111 §5.4: Pragma is only consulted when Cache-Control is absent.
            None => CacheControl {
                no_cache: fields
                    .field("pragma")
                    .is_some_and(|p| p.to_ascii_lowercase().contains("no-cache")),
                ..CacheControl::default()
            },
        };
        RequestFacts {
            cache_control,
            has_authorization: fields.field("authorization").is_some(),
            has_cookie: fields.field("cookie").is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::field_list as headers;
    use crate::http::fixtures::*;
    use crate::http::{storability, verdict, Reuse, Storability, Verdict};
    use crate::status::Reason;

    #[test]
    fn request_no_cache_and_pragma_forbid_stored_responses() {
        // §5.2.1.4 no-cache; §5.4 Pragma only when Cache-Control is absent. The entry is one
        // second old and fresh for a minute.
        let reuse_for = |list: &[(&str, &str)]| {
            let facts = RequestFacts::from_fields(&headers(list));
            verdict(&Reuse::default(), 1, 60, &facts.cache_control)
        };
        assert_eq!(
            reuse_for(&[("cache-control", "no-cache")]),
            Verdict::Revalidate
        );
        assert_eq!(
            reuse_for(&[("cache-control", "max-age=0")]),
            Verdict::Revalidate
        );
        assert_eq!(reuse_for(&[("pragma", "no-cache")]), Verdict::Revalidate);
        assert_eq!(
            reuse_for(&[("pragma", "no-cache"), ("cache-control", "max-age=5")]),
            Verdict::Fresh
        );
        assert_eq!(reuse_for(&[]), Verdict::Fresh);
    }

    #[test]
    fn another_credential_header_counts_as_authorization() {
        let request = RequestFacts::of(&headers(&[("x-api-key", "k")]), &["x-api-key".into()]);
        assert!(request.has_authorization);
        assert_eq!(
            storability(&request, 200, &headers(&[]), &overrides(), exchange()),
            Storability::DontStore(Reason::Authorization)
        );
    }
}
