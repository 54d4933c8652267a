// The built-in demo origin for `make dev`: a few pages that show each caching rule.
// Every request it serves is printed, so you can see which requests reached it.
import http from "node:http";

const port = Number(process.argv[process.argv.indexOf("--port") + 1]) || 8790;
let served = 0;

const page = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body><h1>${title}</h1>${body}
<p><small>Rendered by the demo origin at ${new Date().toISOString()} (request #${served}).</small></p></body></html>`;

const routes = {
  "/": () => ({
    headers: { "content-type": "text/html; charset=utf-8" },
    body: page("edgecache demo origin", `
      <p>This page sends no Cache-Control, so edgecache applies its heuristic (<code>default_ttl</code>).
      Reload it: the timestamp below stays the same while it is served from the cache.</p>
      <ul>
        <li><a href="/time">/time</a>: <code>max-age=10</code></li>
        <li><a href="/static/app.css">/static/app.css</a>: a route rule keeps it a day at the edge</li>
        <li><a href="/downloads/archive.bin">/downloads/archive.bin</a>: 8 MiB, kept in R2 by a route rule</li>
        <li><a href="/private">/private</a>: <code>Cache-Control: private</code>, never stored</li>
        <li><a href="/cookie">/cookie</a>: sets a cookie, never stored</li>
        <li><a href="/vary">/vary</a>: <code>Vary: Accept-Language</code></li>
        <li><a href="/api/now">/api/now</a>: bypassed by a route rule</li>
        <li><a href="/esi">/esi</a>: a page assembled at the edge from cached fragments (ESI)</li>
      </ul>`),
  }),
  // A page shell cached for ten minutes, whose parts each have their own lifetime: see the
  // Edgecache-Fragments response field for which came from the cache.
  "/esi": () => ({
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "max-age=600" },
    body: page("Fragments (ESI)", `
      <p>The shell of this page is cached for 10 minutes. Its parts are fragments, cached apart:</p>
      <aside><esi:include src="/fragments/sidebar"/></aside>
      <p><esi:include src="/fragments/clock" onerror="continue"/></p>
      <p><esi:include src="/fragments/greeting" onerror="continue"/>
        (set a <code>name</code> cookie to get your own, cached for you alone: the route of
        <code>/fragments/greeting</code> keys on that cookie, and this page's route lists it in
        <code>esi_includes</code>, so the fragment's request carries that cookie and no other)</p>
      <esi:remove><p>Without edgecache, this page shows no fragments.</p></esi:remove>`),
  }),
  "/fragments/sidebar": () => ({
    headers: { "content-type": "text/html", "cache-control": "max-age=60", "cache-tag": "sidebar" },
    body: `<strong>Sidebar</strong>, cached 60 s, tag <code>sidebar</code> (rendered ${new Date().toISOString()})`,
  }),
  "/fragments/clock": () => ({
    headers: { "content-type": "text/html", "cache-control": "max-age=5" },
    body: `Clock, cached 5 s: ${new Date().toISOString()}`,
  }),
  "/fragments/greeting": (req) => {
    const name = /(?:^|;\s*)name=([^;]*)/.exec(req.headers.cookie ?? "")?.[1];
    return {
      headers: { "content-type": "text/html", "cache-control": "max-age=300" },
      body: name ? `Hello, ${decodeURIComponent(name).replace(/[<>&"]/g, "")}!` : "Hello, stranger!",
    };
  },
  "/time": () => ({
    headers: { "content-type": "text/plain", "cache-control": "max-age=10" },
    body: `generated at ${new Date().toISOString()}\n`,
  }),
  "/static/app.css": () => ({
    headers: { "content-type": "text/css", "cache-control": "max-age=60" },
    body: `/* request #${served} */\nbody { color: #222; }\n`,
  }),
  // A large download (8 MiB, under the demo's 10 MiB max_body_bytes), kept in R2 by a route
  // rule and streamed from it on a hit.
  "/downloads/archive.bin": () => ({
    headers: { "content-type": "application/octet-stream", "cache-control": "max-age=86400", "content-length": 8 * 1024 * 1024 },
    body: Buffer.alloc(8 * 1024 * 1024, `edgecache demo download, request #${served}\n`),
  }),
  "/private": () => ({
    headers: { "content-type": "text/plain", "cache-control": "private, max-age=60" },
    body: `your private page, request #${served}\n`,
  }),
  "/cookie": () => ({
    headers: { "content-type": "text/plain", "cache-control": "max-age=60", "set-cookie": `session=${served}; HttpOnly` },
    body: `a page that sets a cookie, request #${served}\n`,
  }),
  "/vary": (req) => {
    const lang = (req.headers["accept-language"] ?? "en").slice(0, 2);
    const greeting = { fr: "Bonjour", de: "Hallo", es: "Hola" }[lang] ?? "Hello";
    return {
      headers: { "content-type": "text/plain", "cache-control": "max-age=60", vary: "Accept-Language" },
      body: `${greeting} (request #${served})\n`,
    };
  },
  "/api/now": () => ({
    headers: { "content-type": "application/json", "cache-control": "max-age=60" },
    body: JSON.stringify({ now: new Date().toISOString(), request: served }) + "\n",
  }),
};

const server = http.createServer((req, res) => {
  served++;
  const path = new URL(req.url, "http://demo").pathname;
  console.log(`demo origin: #${served} ${req.method} ${req.url}`);
  const route = routes[path];
  const answer = route ? route(req) : { status: 404, headers: { "content-type": "text/plain" }, body: "not found\n" };
  res.writeHead(answer.status ?? 200, answer.headers);
  res.end(req.method === "HEAD" ? undefined : answer.body);
});
server.listen(port, "127.0.0.1", () => console.log(`demo origin listening on http://127.0.0.1:${port}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
