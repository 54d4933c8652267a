// An origin that reads requests the way real ones do, not the way RFC 3986 does, for the tests
// of cache poisoning and deception: it records every request it is asked, like origin.mjs.
//
// - Paths: percent-decoded (so `%2F` and `%5C` are separators and `%252F` is decoded twice, as
//   IIS does), cut at a NUL (C-string handlers), `;parameters` dropped from each segment
//   (servlet containers), trailing dots and spaces dropped from each segment (Windows), runs
//   of `/` merged (nginx `merge_slashes`), dot segments resolved after all that, and routes
//   matched without case.
// - Queries: split on `&` and `;`; a repeated parameter keeps its last value.
// - Pages reflect their parameters and the request's headers, and personal pages
//   (`/account`, `/api/me`, `/data`) are built from `Cookie`, `Authorization` or `X-Api-Key`
//   without a word about caching, as most applications send them.
import http from "node:http";

/** The path as this origin reads it. */
export function readPath(rawPath) {
  let path = rawPath;
  for (let i = 0; i < 2; i++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      break;
    }
  }
  path = path.split("\0")[0];
  path = path.replaceAll("\\", "/");
  path = path
    .split("/")
    .map((segment) => segment.split(";")[0])
    .map((segment) => (/^\.+$/.test(segment) ? segment : segment.replace(/[. ]+$/, "")))
    .join("/");
  path = path.replace(/\/+/g, "/");
  const out = [];
  for (const segment of path.split("/").slice(1)) {
    if (segment === "..") out.pop();
    else if (segment !== ".") out.push(segment);
  }
  return ("/" + out.join("/")).toLowerCase();
}

/** The query as this origin reads it: `&` and `;` separate, the last value of a name wins. */
export function readQuery(rawQuery) {
  const params = {};
  for (const piece of rawQuery.split(/[&;]/)) {
    if (!piece) continue;
    const at = piece.indexOf("=");
    const decode = (s) => {
      try {
        return decodeURIComponent(s.replaceAll("+", " "));
      } catch {
        return s;
      }
    };
    const name = decode(at < 0 ? piece : piece.slice(0, at));
    params[name] = at < 0 ? "" : decode(piece.slice(at + 1));
  }
  return params;
}

/** The user a request is made as, from its cookie, token or API key: `anonymous` without. */
export function userOf(headers) {
  const cookie = /(?:^|;\s*)session=([^;]*)/.exec(headers.cookie ?? "");
  if (cookie) return `cookie:${cookie[1]}`;
  if (headers.authorization) return `token:${headers.authorization}`;
  if (headers["x-api-key"]) return `key:${headers["x-api-key"]}`;
  return "anonymous";
}

/**
 * The site the hostile-world files test against: every tier, a route TTL on `*.css` (the
 * shape web cache deception aims at) and a route keyed on one cookie. Refreshes forced right
 * after an entry is stored are by default answered from storage (tested in
 * hostile-world.test.mjs); here they are sent to the origin. A new object each call.
 */
export function hostileSite() {
  return {
    backends: ["memory", "cache", "kv"],
    client_refresh_interval: 0,
    routes: [
      { path: "/**.css", ttl: 600 },
      { path: "/vc/**", vary_cookies: ["lang"] },
    ],
  };
}

/** Every header whose value this origin reflects into a page. */
export const REFLECTED = [
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-ssl",
  "front-end-https",
  "x-forwarded-for",
  "x-real-ip",
  "true-client-ip",
  "x-forwarded-uri",
  "x-original-url",
  "x-rewrite-url",
  "x-requested-with",
  "x-http-method-override",
  "forwarded",
  "user-agent",
  "referer",
  "x-custom",
];

export async function startHostileOrigin() {
  const requests = [];
  const sockets = new Set();
  const overrides = new Map();

  const server = http.createServer((req, res) => {
    req.resume();
    const at = req.url.indexOf("?");
    const rawPath = at < 0 ? req.url : req.url.slice(0, at);
    const rawQuery = at < 0 ? "" : req.url.slice(at + 1);
    const path = readPath(rawPath);
    const query = readQuery(rawQuery);
    const user = userOf(req.headers);
    const record = { method: req.method, url: req.url, rawPath, path, query, user, headers: req.headers };
    requests.push(record);
    const n = requests.filter((r) => r.path === path).length;
    const reflected = Object.fromEntries(REFLECTED.filter((h) => req.headers[h] !== undefined).map((h) => [h, req.headers[h]]));
    const send = (status, headers, body) => {
      res.writeHead(status, { "content-length": Buffer.byteLength(body), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const override = overrides.get(path);
    if (override) {
      const answer = override(record, n);
      send(answer.status ?? 200, answer.headers ?? {}, answer.body ?? "");
      return;
    }
    // Personal pages: no Cache-Control, as most applications send them.
    if (path === "/account" || path === "/api/me" || path === "/data") {
      send(200, { "content-type": path === "/account" ? "text/html" : "application/json" }, `account of ${user} #${n}`);
      return;
    }
    if (path.endsWith(".css")) {
      send(200, { "content-type": "text/css", "cache-control": "max-age=60" }, `/* ${path} for everyone #${n} */`);
      return;
    }
    // Everything else reflects its parameters and headers into a page that may be shared.
    const scheme = req.headers["x-forwarded-ssl"] === "on" || req.headers["front-end-https"] === "on" ? "https" : "http";
    const links = `<a href="${scheme}://${req.headers["x-forwarded-host"] ?? req.headers.host}/next">next</a>`;
    const body = `page ${path} #${n} params=${JSON.stringify(query)} headers=${JSON.stringify(reflected)} ${links}`;
    send(200, { "content-type": "text/html", "cache-control": "max-age=600" }, body);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** What a path (as this origin reads it) answers instead: `(record, n) => {status, headers, body}`. */
    on(path, answer) {
      overrides.set(path, answer);
    },
    /** How many requests reached `path` as this origin reads it. */
    count(path) {
      return requests.filter((r) => r.path === path).length;
    },
    last(path) {
      return requests.filter((r) => r.path === path).at(-1);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
