// The ceiling for any worker: a constant response.
export default {
  fetch() {
    return new Response("hello from the edge\n", { headers: { "content-type": "text/plain" } });
  },
};
