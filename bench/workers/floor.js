// The least any cache hit can cost on this runtime: no key, no lookup, no freshness; only the
// stored response (fetched once) rebuilt for each client with `Age` and `Cache-Status`, as
// every cache that honours RFC 9111 §5.1 must. The gap between this and the no-op is the
// runtime's price of a real page's fields and body, which no cache can avoid.
let stored;

function answer() {
  // The same buffer for every response: a copy made here cost 3 µs more per hit in a
  // side-by-side run.
  const response = new Response(stored.body, { status: stored.status, headers: stored.headers });
  response.headers.set("age", "0");
  response.headers.set("cache-status", "floor; hit");
  return response;
}

export default {
  fetch(request, env) {
    if (stored) return answer();
    return fetch(env.ORIGIN + new URL(request.url).pathname).then(async (r) => {
      stored = { body: await r.arrayBuffer(), status: r.status, headers: new Headers(r.headers) };
      return answer();
    });
  },
};
