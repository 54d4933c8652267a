//! Read access to a header section, whatever holds it: the `Fields` trait, and its reading of a
//! stored list of field lines; and the media type a `Content-Type` value names.

/// Read access to a header section, whatever holds it (a JS `Headers`, a stored list).
pub trait Fields {
    /// All field lines of `name` (lowercase) joined by `", "`, or `None` if absent.
    fn field(&self, name: &str) -> Option<String>;
}

impl Fields for [(String, String)] {
    fn field(&self, name: &str) -> Option<String> {
        let mut joined: Option<String> = None;
        for (n, v) in self {
            if n.eq_ignore_ascii_case(name) {
                match &mut joined {
                    Some(j) => {
                        j.push_str(", ");
                        j.push_str(v);
                    }
                    None => joined = Some(v.clone()),
                }
            }
        }
        joined
    }
}

impl Fields for Vec<(String, String)> {
    fn field(&self, name: &str) -> Option<String> {
        Fields::field(self.as_slice(), name)
    }
}

/// The media type of a `Content-Type` value without its parameters, lowercase (RFC 9110
/// §8.3.1: `Text/HTML; charset=utf-8` is `text/html`).
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}
