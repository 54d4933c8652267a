//! Whether a broken configuration's errors may be shown on the error page: only to the
//! developer running `make dev`, never to the public.
//!
//! Both must hold, so that neither alone can expose them in production: `EDGECACHE_DEV` is
//! `1` (set only by `scripts/dev.sh`, on wrangler dev's command line; `make check` refuses it
//! in `wrangler.toml`), and the request's host is a loopback address or `localhost`, which no
//! request reaching a deployed worker through Cloudflare has.

/// The variable `scripts/dev.sh` sets.
pub const DEV_VAR: &str = "EDGECACHE_DEV";

/// `dev_var`: the value of `EDGECACHE_DEV`; `host`: the request URL's host.
pub fn errors_shown(dev_var: Option<&str>, host: Option<&str>) -> bool {
    let local = match host {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    dev_var == Some("1") && local
}

/// The error page `make dev` shows for a broken configuration: every problem, one a line.
pub fn error_page(errors: &str) -> String {
    format!(
        "edgecache: the configuration is broken, so nothing is cached and the origin is not asked.\n\
         Shown here because this is make dev; a deployed worker answers a bare 500 and logs this.\n\n\
         {errors}\n\n\
         Fix wrangler.toml ([vars] EDGECACHE / ORIGIN); `make check` says the same before a deploy.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_shown_only_under_make_dev_on_a_loopback_host() {
        for (var, host, shown) in [
            (Some("1"), Some("127.0.0.1"), true),
            (Some("1"), Some("localhost"), true),
            (Some("1"), Some("[::1]"), true),
            (Some("1"), Some("127.0.0.2"), true),
            (Some("1"), Some("example.com"), false),
            (Some("1"), Some("127.0.0.1.example.com"), false),
            (Some("1"), Some("10.0.0.1"), false),
            (Some("1"), None, false),
            (None, Some("127.0.0.1"), false),
            (Some("0"), Some("127.0.0.1"), false),
            (Some("true"), Some("localhost"), false),
        ] {
            assert_eq!(errors_shown(var, host), shown, "{var:?} {host:?}");
        }
    }
}
