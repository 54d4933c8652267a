//! One JSON log line per admin request, refused ones included: the route, the method, the
//! client's address (as rate limiting counts it), the label of the token that was accepted
//! (never a token), the outcome and the status.

use serde_json::json;

/// The admin routes that are logged by name; any other path is logged as `other`, so that
/// nothing a client put in a path (a token sent to the wrong place) reaches the log.
const ROUTES: &[&str] = &[
    "",
    "/",
    "/index.html",
    "/app.js",
    "/style.css",
    "/purge",
    "/stats",
    "/inspect",
    "/purges",
];

/// What became of a request, by its status.
pub fn outcome(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        400 | 413 => "bad-request",
        401 => "unauthorized",
        404 => "not-found",
        405 => "method-not-allowed",
        429 => "rate-limited",
        500..=599 => "error",
        _ => "refused",
    }
}

/// The line for a request to `route` (the path under `admin_path`), answered with `status`.
pub fn line(method: &str, route: &str, client: &str, token: Option<&str>, status: u16) -> String {
    let route = if ROUTES.contains(&route) {
        route
    } else {
        "other"
    };
    let method: String = method.chars().take(16).collect();
    json!({
        "edgecache": "admin",
        "method": method,
        "route": route,
        "client": client,
        "token": token,
        "outcome": outcome(status),
        "status": status,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parsed(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn a_line_names_the_route_the_token_label_and_the_outcome() {
        let ok = parsed(&line("POST", "/purge", "203.0.113.7", Some("ci"), 200));
        assert_eq!(ok["edgecache"], "admin");
        assert_eq!(ok["route"], "/purge");
        assert_eq!(ok["method"], "POST");
        assert_eq!(ok["client"], "203.0.113.7");
        assert_eq!(ok["token"], "ci");
        assert_eq!(ok["outcome"], "ok");
        assert_eq!(ok["status"], 200);
        let refused = parsed(&line("GET", "/stats", "unknown", None, 401));
        assert_eq!(refused["token"], Value::Null);
        assert_eq!(refused["outcome"], "unauthorized");
    }

    #[test]
    fn every_status_has_an_outcome() {
        assert_eq!(outcome(308), "ok");
        assert_eq!(outcome(400), "bad-request");
        assert_eq!(outcome(413), "bad-request");
        assert_eq!(outcome(404), "not-found");
        assert_eq!(outcome(405), "method-not-allowed");
        assert_eq!(outcome(429), "rate-limited");
        assert_eq!(outcome(503), "error");
        assert_eq!(outcome(418), "refused");
    }

    #[test]
    fn unknown_routes_and_long_methods_are_not_logged_as_sent() {
        let line = line(
            "X".repeat(100).as_str(),
            "/stats/s3cret-token",
            "unknown",
            None,
            404,
        );
        assert!(!line.contains("s3cret"), "{line}");
        assert_eq!(parsed(&line)["route"], "other");
        assert_eq!(parsed(&line)["method"].as_str().unwrap().len(), 16);
    }
}
