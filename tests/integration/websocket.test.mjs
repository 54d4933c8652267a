// A WebSocket through edgecache: the origin's `101 Switching Protocols` is passed on untouched
// (it carries the socket), on a cacheable route and on a bypassed one, and the upgrade is never
// looked up or stored.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { WebSocket, WebSocketServer } from "ws";
import { setup } from "../support/fixture.mjs";

/** An origin that echoes WebSocket messages, saying which path and Cookie it was asked with. */
async function echoOrigin() {
  const server = http.createServer((req, res) => res.end("not a socket"));
  const sockets = new WebSocketServer({ noServer: true });
  const asked = [];
  server.on("upgrade", (req, socket, head) => {
    asked.push({ path: req.url, cookie: req.headers.cookie ?? null });
    sockets.handleUpgrade(req, socket, head, (ws) => ws.on("message", (data) => ws.send(`${req.url} echoes ${data}`)));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    asked,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Opens a socket to `url`, sends `message` and resolves with the first answer. */
function exchange(url, message, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => reject(new Error(`no answer on ${url}`)), 10_000);
    ws.on("open", () => ws.send(message));
    ws.on("message", (data) => {
      clearTimeout(timer);
      ws.close();
      resolve(String(data));
    });
    ws.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe("WebSockets through edgecache", () => {
  let origin;
  let running;
  before(async () => {
    origin = await echoOrigin();
    running = await setup({ origin, config: { backends: ["memory"], routes: [{ path: "/live/**", bypass: true }] } });
  });
  after(async () => {
    await running?.dispose();
    await origin?.close();
  });

  it("passes the origin's socket on, on a cached route and on a bypassed one, twice each", async () => {
    // A plain GET of the socket's path is cached as any page.
    assert.equal((await running.worker.fetch("/chat")).body, "not a socket");
    const base = running.worker.url.href.replace(/^http/, "ws").replace(/\/$/, "");
    for (const path of ["/chat", "/live/feed"]) {
      assert.equal(await exchange(`${base}${path}`, "one"), `${path} echoes one`);
      assert.equal(await exchange(`${base}${path}`, "two", { cookie: "sessionid=a" }), `${path} echoes two`);
    }
    assert.deepEqual(origin.asked.map((a) => a.path), ["/chat", "/chat", "/live/feed", "/live/feed"], "every socket reached the origin");
    assert.equal(origin.asked[1].cookie, "sessionid=a", "with the client's cookie, as sent");
    assert.equal(running.worker.logs.filter((l) => l.includes('"edgecache":"stored"')).length, 1, "only the plain GET stored");
    assert.equal((await running.worker.fetch("/chat")).body, "not a socket", "and still served to plain GETs");
    const passed = running.worker.logs.filter((l) => l.includes('"path":"/chat"')).map((l) => JSON.parse(l).cache_status);
    assert.deepEqual(
      passed,
      ["edgecache; fwd=miss; fwd-status=200; stored", ...Array(2).fill("edgecache; fwd=bypass; fwd-status=101; detail=upgrade")],
      "a socket on a cached route is passed, as an upgrade",
    );
  });
});
