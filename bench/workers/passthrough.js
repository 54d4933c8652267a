// What a miss costs at the least: forward to the origin and return its response.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN + url.pathname + url.search, { headers: request.headers });
  },
};
