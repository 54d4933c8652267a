// The least a cache's miss can cost on this runtime: the pass-through, plus the one thing
// every cache adds to an answer it did not store (RFC 9211 `Cache-Status`). A response from
// `fetch` has immutable headers, so adding one field means a new `Response`.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const response = await fetch(env.ORIGIN + url.pathname + url.search, { headers: request.headers });
    const answer = new Response(response.body, response);
    answer.headers.set("cache-status", "floor; fwd=uri-miss");
    return answer;
  },
};
