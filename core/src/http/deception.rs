//! Cache deception armour: whether a response's `Content-Type` is what its path's extension
//! says it is, as Cloudflare's Cache Deception Armor checks before caching.
//!
//! A route `ttl` stores what the origin did not mark as cacheable, and many origins answer
//! `/account;.css`, `/static/..%2faccount` or `/account/x.css` with the account page. The
//! check applies only under such an override and only to requests with credentials: an
//! anonymous page is the same for everyone.

use super::media_type;

/// Media types (without parameters, lowercase) that a file with `extension` may be served
/// as; `None` for an extension this table does not know.
fn types_for(extension: &str) -> Option<&'static [&'static str]> {
    Some(match extension {
        "css" => &["text/css"],
        "js" | "mjs" | "cjs" => &[
            "text/javascript",
            "application/javascript",
            "application/x-javascript",
            "application/ecmascript",
        ],
        "json" | "map" => &["application/json", "application/manifest+json"],
        "webmanifest" => &["application/manifest+json", "application/json"],
        "html" | "htm" => &["text/html"],
        "xhtml" => &["application/xhtml+xml"],
        "txt" => &["text/plain"],
        "xml" => &["application/xml", "text/xml"],
        "rss" => &["application/rss+xml", "application/xml", "text/xml"],
        "atom" => &["application/atom+xml", "application/xml", "text/xml"],
        "csv" => &["text/csv"],
        "md" => &["text/markdown", "text/plain"],
        "png" => &["image/png"],
        "jpg" | "jpeg" => &["image/jpeg"],
        "gif" => &["image/gif"],
        "webp" => &["image/webp"],
        "avif" => &["image/avif"],
        "svg" => &["image/svg+xml"],
        "ico" => &["image/x-icon", "image/vnd.microsoft.icon"],
        "bmp" => &["image/bmp"],
        "woff" => &["font/woff", "application/font-woff"],
        "woff2" => &["font/woff2", "application/font-woff2"],
        "ttf" => &["font/ttf", "application/x-font-ttf", "font/sfnt"],
        "otf" => &["font/otf", "application/x-font-otf", "font/sfnt"],
        "eot" => &["application/vnd.ms-fontobject"],
        "pdf" => &["application/pdf"],
        "wasm" => &["application/wasm"],
        "mp4" | "m4v" => &["video/mp4"],
        "webm" => &["video/webm", "audio/webm"],
        "mp3" => &["audio/mpeg"],
        "ogg" => &["audio/ogg", "video/ogg", "application/ogg"],
        "wav" => &["audio/wav", "audio/x-wav"],
        "zip" => &["application/zip"],
        "gz" => &["application/gzip", "application/x-gzip"],
        _ => return None,
    })
}

/// Whether `content_type` is one `extension` allows. No extension, an unknown one, or no
/// `Content-Type` never agree: the check fails closed.
pub fn content_type_agrees(extension: Option<&str>, content_type: Option<&str>) -> bool {
    let (Some(extension), Some(content_type)) = (extension, content_type) else {
        return false;
    };
    let Some(types) = types_for(&extension.to_ascii_lowercase()) else {
        return false;
    };
    types.contains(&media_type(content_type).as_str())
}

#[cfg(test)]
mod tests {
    use super::content_type_agrees;

    #[test]
    fn a_stylesheet_path_agrees_only_with_css() {
        assert!(content_type_agrees(
            Some("css"),
            Some("text/css; charset=utf-8")
        ));
        assert!(content_type_agrees(Some("CSS"), Some("Text/CSS")));
        assert!(!content_type_agrees(Some("css"), Some("text/html")));
    }

    #[test]
    fn unknown_or_missing_parts_never_agree() {
        assert!(!content_type_agrees(None, Some("text/html")));
        assert!(!content_type_agrees(Some("css"), None));
        assert!(!content_type_agrees(Some("php"), Some("text/html")));
    }

    #[test]
    fn scripts_images_and_fonts_have_their_usual_types() {
        assert!(content_type_agrees(
            Some("js"),
            Some("application/javascript")
        ));
        assert!(content_type_agrees(Some("js"), Some("text/javascript")));
        assert!(content_type_agrees(Some("png"), Some("image/png")));
        assert!(content_type_agrees(Some("woff2"), Some("font/woff2")));
        assert!(!content_type_agrees(Some("png"), Some("text/html")));
    }
}
