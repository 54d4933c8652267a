// The bench's origin: fast, counting what it was asked, answering 1 KiB with the fields a real
// page carries (so per-field costs show), with a slow path for the stampede.
import http from "node:http";

const BODY = "x".repeat(1024);

/** Starts the origin on loopback; `counts` maps each path to the requests it received. */
export async function startOrigin() {
  const counts = new Map();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, "http://o").pathname;
    counts.set(p, (counts.get(p) ?? 0) + 1);
    const send = () => {
      const cc = p.startsWith("/private") ? "private" : "max-age=3600";
      // `/novary…` leaves out `Vary: Accept-Encoding`, which costs a cache that honours Vary
      // a second lookup.
      const vary = p.startsWith("/novary") ? {} : { vary: "Accept-Encoding" };
      res.writeHead(200, {
        ...vary,
        "content-type": "text/html; charset=utf-8",
        "cache-control": cc,
        "content-length": BODY.length,
        etag: '"5f3e-1a2b3c4d"',
        "last-modified": "Tue, 24 Nov 2026 10:00:00 GMT",
        "strict-transport-security": "max-age=31536000; includeSubDomains",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "strict-origin-when-cross-origin",
        "content-security-policy": "default-src 'self'; img-src 'self' data:",
        server: "origin/1.0",
      });
      res.end(BODY);
    };
    if (p.startsWith("/slow")) setTimeout(send, 300);
    else send();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    close() {
      server.close();
      server.closeAllConnections?.();
    },
  };
}
