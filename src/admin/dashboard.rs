//! The dashboard's files (`www/`), built into the worker and served under `admin_path`. They
//! hold no secrets, so they are served without a token (the API calls they make need one).

use wasm_bindgen::JsValue;
use web_sys::Response;

use crate::runtime::headers_from;
use edgecache_core::status::{Outcome, Reason};

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `www/`: its path under `admin_path`, its content type and its text. A module
/// the dashboard imports is served once it has its line here (`tests/integration/admin-api`
/// fails on a `www/` file that is not).
const FILES: &[(&str, &str, &str)] = &[
    ("/index.html", HTML, include_str!("../../www/index.html")),
    ("/style.css", CSS, include_str!("../../www/style.css")),
    ("/app.js", JS, include_str!("../../www/app.js")),
    ("/api.js", JS, include_str!("../../www/api.js")),
    ("/format.js", JS, include_str!("../../www/format.js")),
    ("/view.js", JS, include_str!("../../www/view.js")),
    ("/chart.js", JS, include_str!("../../www/chart.js")),
    ("/reasons.js", JS, include_str!("../../www/reasons.js")),
    ("/tables.js", JS, include_str!("../../www/tables.js")),
    ("/urls.js", JS, include_str!("../../www/urls.js")),
    ("/origin.js", JS, include_str!("../../www/origin.js")),
    ("/refresh.js", JS, include_str!("../../www/refresh.js")),
    ("/purge.js", JS, include_str!("../../www/purge.js")),
    ("/inspect.js", JS, include_str!("../../www/inspect.js")),
];

/// The dashboard's file at `route` (`/` is `/index.html`), or `None` when there is none.
pub fn serve(route: &str) -> Option<Result<Response, JsValue>> {
    let route = if route == "/" { "/index.html" } else { route };
    FILES
        .iter()
        .find(|(path, _, _)| *path == route)
        .map(|(_, content_type, body)| static_file(content_type, body))
}

fn static_file(content_type: &str, body: &str) -> Result<Response, JsValue> {
    let fields = [
        ("content-type", content_type),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    ];
    let headers = headers_from(&fields.map(|(n, v)| (n.to_string(), v.to_string())));
    let _ = headers.set(
        "cache-status",
        &Outcome::bypass(Reason::Admin).cache_status(),
    );
    let init = web_sys::ResponseInit::new();
    init.set_status(200);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(body), &init)
}
