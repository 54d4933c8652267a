// The worker a user would write instead, as Cloudflare's documentation shows it: look the
// request up in caches.default, else fetch and put a clone in waitUntil.
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const cache = caches.default;
    let response = await cache.match(request);
    if (!response) {
      response = await fetch(env.ORIGIN + url.pathname + url.search);
      response = new Response(response.body, response);
      response.headers.append("Cache-Control", "s-maxage=60");
      ctx.waitUntil(cache.put(request, response.clone()));
    }
    return response;
  },
};
