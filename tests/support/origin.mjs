// A real HTTP origin on loopback that records every request it is asked, for integration
// tests: each test says what a path answers and then checks how often the origin was hit.
import http from "node:http";

/** The default answer: cacheable for a minute, with a body that counts the requests. */
function defaultAnswer(record, n) {
  return {
    status: 200,
    headers: { "content-type": "text/plain", "cache-control": "max-age=60" },
    body: `${record.path} #${n}`,
  };
}

export async function startOrigin() {
  const requests = [];
  const routes = new Map();
  const rawRoutes = new Map();
  const sockets = new Set();
  let inFlight = 0;
  let maxInFlight = 0;

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const url = new URL(req.url, "http://origin.test");
    const record = {
      method: req.method,
      path: url.pathname,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      /** When it arrived (ms since the epoch). */
      at: Date.now(),
    };
    requests.push(record);
    const n = requests.filter((r) => r.path === record.path).length;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const raw = rawRoutes.get(record.path);
      if (raw) {
        await raw(req, res, record, n);
        return;
      }
      const route = routes.get(record.path) ?? [...routes].find(([path]) => path instanceof RegExp && path.test(record.path))?.[1];
      const answer = typeof route === "function" ? await route(record, n) : route ?? defaultAnswer(record, n);
      const status = answer.status ?? 200;
      const body = [204, 304].includes(status) ? "" : answer.body ?? `${record.path} #${n}`;
      const headers = { ...(answer.headers ?? {}) };
      const framed = Object.keys(headers).some((h) => /^(content-length|transfer-encoding)$/i.test(h));
      if (!framed && body) headers["content-length"] = Buffer.byteLength(body);
      res.writeHead(status, headers);
      res.end(req.method === "HEAD" ? undefined : body);
    } finally {
      inFlight--;
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    /** Sets what `path` (or every path a RegExp matches) answers: `{status, headers, body}` or `(record, n) => answer`. */
    on(path, answer) {
      routes.set(path, answer);
    },
    /** A handler that writes the response itself, to hang, reset or stream: `(req, res, record, n)`. */
    onRaw(path, handler) {
      rawRoutes.set(path, handler);
    },
    /** How many requests reached `path`, optionally only of one method. */
    count(path, method) {
      return requests.filter((r) => r.path === path && (!method || r.method === method)).length;
    },
    last(path) {
      return requests.filter((r) => r.path === path).at(-1);
    },
    get maxInFlight() {
      return maxInFlight;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
