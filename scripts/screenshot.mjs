// Regenerates docs/dashboard.png (`make screenshot`): runs the built worker with the demo
// policy of wrangler.toml ([env.demo]) in Miniflare in front of the demo origin, both on free
// loopback ports, sends it a mix of visitors for a few minutes (hits, misses, bypasses, answers
// it must not store, several hosts, a few purges), then opens the dashboard in Chromium and
// takes the screenshot. Nothing leaves 127.0.0.1: the hosts are only names in the requests
// handed to the worker.
//
//   node scripts/screenshot.mjs [--minutes 15] [--out docs/dashboard.png] [--scheme light|dark]
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { chromium } from "playwright-core";
import { startWorker } from "../tests/support/worker.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const minutes = Number(arg("minutes", "15"));
const out = path.resolve(arg("out", path.join(root, "docs/dashboard.png")));
const scheme = arg("scheme", "light");
const TOKEN = randomBytes(24).toString("hex");

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A number from 0 to n - 1, small ones far more often (a few pages get most visits). */
function popular(n) {
  return Math.min(n - 1, Math.floor(n * Math.random() ** 3));
}

/** One visitor's request: [url, init], drawn from a mix like a small site's. */
function visitor() {
  const r = Math.random();
  const languages = ["en", "fr", "de", "es"];
  if (r < 0.2) return ["http://www.example.com/", {}];
  if (r < 0.24) return [`http://www.example.com/?utm_source=${["news", "mail", "social"][popular(3)]}`, {}];
  if (r < 0.4) return [`http://${Math.random() < 0.7 ? "www" : "shop"}.example.com/static/app.css`, {}];
  if (r < 0.52) return [`http://shop.example.com/products/${popular(400)}`, {}];
  if (r < 0.58) return ["http://www.example.com/time", {}];
  if (r < 0.64) return ["http://www.example.com/vary", { headers: { "accept-language": languages[popular(4)] } }];
  if (r < 0.68) return ["http://www.example.com/esi", Math.random() < 0.3 ? { headers: { cookie: `name=${["Ada", "Grace", "Alan"][popular(3)]}` } } : {}];
  if (r < 0.74) return ["http://api.example.com/api/now", {}];
  if (r < 0.76) return ["http://api.example.com/api/orders", { method: "POST", body: "{}" }];
  if (r < 0.81) return ["http://shop.example.com/private", {}];
  if (r < 0.85) return ["http://shop.example.com/cookie", {}];
  if (r < 0.88) return ["http://www.example.com/", { headers: { cookie: `session=${randomBytes(4).toString("hex")}`, "cache-control": "no-cache" } }];
  if (r < 0.9) return ["http://shop.example.com/account", { headers: { authorization: "Bearer visitor" } }];
  if (r < 0.92) return [`http://shop.example.com/products/${popular(400)}`, { method: "HEAD" }];
  if (r < 0.94) return ["http://www.example.com/time", { headers: { "cache-control": "no-store" } }];
  return [`http://blog.example.com/posts/${popular(60)}`, {}];
}

const children = [];
let worker;
let browser;
async function stop() {
  await browser?.close().catch(() => {});
  await worker?.dispose().catch(() => {});
  for (const child of children) child.kill();
}
process.on("SIGINT", () => stop().then(() => process.exit(130)));

try {
  const demoPort = await freePort();
  const origin = spawn(process.execPath, [path.join(root, "demo/origin.mjs"), "--port", String(demoPort)], { stdio: "ignore" });
  children.push(origin);
  const originUrl = `http://127.0.0.1:${demoPort}`;
  await until(async () => (await fetch(`${originUrl}/time`)).ok, "the demo origin starting");

  const demo = unstable_readConfig({ config: path.join(root, "wrangler.toml"), env: "demo" });
  const ratelimits = Object.fromEntries((demo.ratelimits ?? []).map((r) => [r.name, { namespace_id: r.namespace_id, simple: r.simple }]));
  worker = await startWorker({ origin: { url: originUrl }, config: demo.vars.EDGECACHE, bindings: { ADMIN_TOKEN: TOKEN }, ratelimits });
  const admin = new URL("/_edgecache/", worker.url).href;
  const purge = (body) => fetch(`${admin}purge`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });

  // Traffic rises and falls over the run; purges in between make the hit ratio dip.
  const runMs = minutes * 60000;
  const started = Date.now();
  const purges = [
    [0.3, { tags: ["static"] }],
    [0.55, { prefixes: ["/products/"], soft: true }],
    [0.8, { urls: ["http://www.example.com/", "http://www.example.com/vary"] }],
  ];
  let sent = 0;
  console.log(`screenshot: ${minutes} min of demo traffic against ${worker.url}`);
  while (Date.now() - started < runMs) {
    const phase = (Date.now() - started) / runMs;
    while (purges.length && purges[0][0] <= phase) await purge(purges.shift()[1]);
    const perSecond = Math.max(2, Math.round(9 + 6 * Math.sin(phase * Math.PI * 3) + 3 * (Math.random() - 0.5)));
    const second = Date.now();
    await Promise.all(
      Array.from({ length: perSecond }, async () => {
        const [url, init] = visitor();
        await worker.fetch(url, init).catch(() => {});
        sent++;
      }),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - second))));
  }
  console.log(`screenshot: ${sent} requests sent`);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, colorScheme: scheme });
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(admin);
  await page.fill("#token", TOKEN);
  await page.click("#login-form button");
  await page.waitForSelector("#app:not([hidden])");
  await page.waitForSelector("#log tbody tr");
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot: ${path.relative(process.cwd(), out)}`);
} finally {
  await stop();
}
