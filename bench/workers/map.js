// The other worker a user would write: an in-isolate Map of bodies and headers.
const entries = new Map();
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const hit = entries.get(url.href);
    if (hit && hit.expires > Date.now()) {
      return new Response(hit.body, { status: hit.status, headers: hit.headers });
    }
    const response = await fetch(env.ORIGIN + url.pathname + url.search);
    const body = await response.arrayBuffer();
    const headers = [...response.headers];
    entries.set(url.href, { body, headers, status: response.status, expires: Date.now() + 60_000 });
    return new Response(body, { status: response.status, headers });
  },
};
