//! An example worker using edgecache's low-level cache API (`edgecache::lowlevel`), as a
//! workers-rs project would: a page-view counter in Workers KV and a memoised expensive
//! computation in the Cache API.
//!
//! - `GET /views/<page>`: counts a view of `<page>` and answers the count so far.
//! - `GET /primes/<n>`: the number of primes below `n` (up to 10,000,000), computed once and
//!   then answered from the cache for 10 minutes; `computed` says which it was.
//! - `POST /clear`: forgets every memoised answer at once (`clear()`, O(1)).

use edgecache::lowlevel::{Cache, Error};
use serde::Serialize;
use worker::{event, Context, Env, Method, Request, Response, Result};

/// The KV namespace the counters live in (`[[kv_namespaces]]` in wrangler.toml).
const KV_BINDING: &str = "CACHE";

/// The largest `n` a request may ask about: the sieve's memory and time stay bounded.
const MAX_N: u64 = 10_000_000;

#[derive(Serialize)]
struct Views<'a> {
    page: &'a str,
    views: i64,
}

#[derive(Serialize)]
struct Primes {
    n: u64,
    primes: u64,
    /// `true` when this request ran the computation, `false` when the cache answered.
    computed: bool,
}

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = request.url()?;
    let path = url.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (Method::Get, ["views", page]) if !page.is_empty() => {
            let counters = Cache::kv(&env, KV_BINDING)?.with_prefix("views");
            let views = count_view(&counters, page).await?;
            Response::from_json(&Views { page, views })
        }
        (Method::Get, ["primes", n]) => {
            let Some(n) = n.parse::<u64>().ok().filter(|&n| n <= MAX_N) else {
                return Response::error(format!("n must be a number up to {MAX_N}\n"), 400);
            };
            let memo = Cache::cache_api().with_prefix("primes");
            let mut computed = false;
            let primes = memo
                .get_or_set(&n.to_string(), Some(600), || async {
                    computed = true;
                    Ok::<_, Error>(count_primes_below(n))
                })
                .await?;
            Response::from_json(&Primes {
                n,
                primes,
                computed,
            })
        }
        (Method::Post, ["clear"]) => {
            Cache::cache_api().with_prefix("primes").clear().await?;
            Response::ok("cleared\n")
        }
        _ => Response::error("not found\n", 404),
    }
}

/// Adds one view. The first view of a page has no counter to increment yet (`Missing`, as
/// Django's `ValueError`), so it is created. KV's read-modify-write is not atomic: views
/// counted at the same moment in two places can be lost, which a page-view counter can
/// afford (an exact one needs a Durable Object).
async fn count_view(counters: &Cache, page: &str) -> std::result::Result<i64, Error> {
    match counters.incr(page, 1).await {
        Err(Error::Missing(_)) => {
            counters.set(page, &1, None).await?;
            Ok(1)
        }
        other => other,
    }
}

/// The expensive computation: a sieve of Eratosthenes.
fn count_primes_below(n: u64) -> u64 {
    let n = n as usize;
    if n < 3 {
        return 0;
    }
    let mut composite = vec![false; n];
    let mut count = 0;
    for i in 2..n {
        if composite[i] {
            continue;
        }
        count += 1;
        // Saturating: on wasm32 `usize` is 32 bits, and i² passes it for i > 65,535.
        let mut j = i.saturating_mul(i);
        while j < n {
            composite[j] = true;
            j += i;
        }
    }
    count
}
