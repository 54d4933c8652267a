// The dashboard in a real browser (Debian's Chromium, driven by playwright-core), against the
// built worker on workerd and a recording origin. Screenshots go to test-results/.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { chromium } from "playwright-core";
import { startOrigin } from "../support/origin.mjs";
import { startWorker } from "../support/worker.mjs";

const TOKEN = "dashboard-test-token";
const shots = path.resolve("test-results");

describe("dashboard", () => {
  let origin, worker, browser, page;

  before(async () => {
    await mkdir(shots, { recursive: true });
    origin = await startOrigin();
    origin.on("/page", (record, n) => ({ headers: { "cache-control": "max-age=600", "content-type": "text/plain" }, body: `page #${n}` }));
    origin.on("/product", (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": "product" }, body: `product #${n}` }));
    origin.on("/account", { headers: { "cache-control": "private, max-age=60" }, body: "yours" });
    worker = await startWorker({
      origin,
      bindings: { ADMIN_TOKEN: TOKEN },
      config: { backends: ["memory", "cache"], routes: [{ path: "/static/**", ttl: 86400, tags: ["static"] }] },
    });
    // playwright-core gives the browser a fresh, empty profile of its own.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
    page.on("dialog", (dialog) => dialog.accept());
  });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await origin?.close();
  });

  /** A request through the worker's real HTTP address, as a visitor would make it. */
  async function visit(route) {
    const response = await fetch(new URL(route, worker.url));
    await response.text();
    return response.headers.get("cache-status");
  }

  async function settleStored(route) {
    for (let i = 0; i < 100; i++) {
      if ((await visit(route)).includes("; hit;")) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${route} was never stored`);
  }

  it("explains a refused token", async () => {
    await page.goto(new URL("/_edgecache/", worker.url).href);
    assert.ok(await page.isVisible("#login"));
    await page.fill("#token", "wrong-token");
    await page.click("#login-form button");
    await page.waitForSelector("#message:not([hidden])");
    assert.match(await page.textContent("#message"), /token was refused \(401 Unauthorized\)/);
    assert.ok(await page.isHidden("#app"));
    await page.screenshot({ path: path.join(shots, "dashboard-401.png") });
  });

  it("shows stats, the hit-ratio chart, the routes and the hosts once signed in", async () => {
    await visit("/page");
    await settleStored("/page");
    await visit("/page");
    await visit("/account");
    await page.fill("#token", TOKEN);
    await page.click("#login-form button");
    await page.waitForSelector("#app:not([hidden])");
    const cards = await page.textContent("#cards");
    assert.match(cards, /Hit ratio/);
    assert.match(cards, /Hits/);
    assert.equal(await page.locator("#chart svg rect").count() >= 1, true, "a bar for this minute");
    const routes = await page.textContent("#routes");
    assert.match(routes, /\/static\/\*\*/);
    assert.match(routes, /ttl 86400s/);
    assert.match(routes, /private 1/, "why a response was not stored");
    const hosts = await page.textContent("#hosts");
    assert.match(hosts, /127\.0\.0\.1/);
    assert.match(hosts, /private 1/);
    assert.equal(await page.getAttribute("#window-hour", "aria-pressed"), "true");
    await page.screenshot({ path: path.join(shots, "dashboard.png"), fullPage: true });
  });

  it("switches between the last hour and the last 24 hours", async () => {
    await page.click("#window-day");
    assert.equal(await page.getAttribute("#window-day", "aria-pressed"), "true");
    assert.match(await page.textContent("#chart-caption"), /last 24 hours/);
    assert.ok((await page.locator("#chart svg rect").count()) >= 1, "a bar for this half hour");
    assert.match(await page.textContent("#hosts"), /127\.0\.0\.1/);
    await page.screenshot({ path: path.join(shots, "dashboard-day.png"), fullPage: true });
    await page.click("#window-hour");
    assert.match(await page.textContent("#chart-caption"), /last hour/);
  });

  it("purges a URL, and the next request is a miss", async () => {
    assert.match(await visit("/page"), /; hit;/);
    await page.selectOption("#purge-kind", "urls");
    await page.fill("#purge-target", new URL("/page", worker.url).href);
    await page.click("#purge-form button");
    await page.waitForSelector("#purge-result.ok");
    assert.match(await page.textContent("#purge-result"), /Done: url .* purged/);
    assert.match(await visit("/page"), /fwd=miss/);
  });

  it("purges a tag and the log grows", async () => {
    await visit("/product");
    await settleStored("/product");
    const before = await page.locator("#log tbody tr").count();
    await page.selectOption("#purge-kind", "tags");
    await page.fill("#purge-target", "product");
    await page.click("#purge-form button");
    await page.waitForSelector("#purge-result.ok");
    assert.match(await visit("/product"), /fwd=miss/);
    for (let i = 0; i < 50 && (await page.locator("#log tbody tr").count()) <= before; i++) {
      await page.reload();
      await page.waitForSelector("#app:not([hidden])");
    }
    assert.ok((await page.locator("#log tbody tr").count()) > before);
    assert.match(await page.textContent("#log"), /tag product/);
  });

  it("inspects a key", async () => {
    await visit("/page");
    await settleStored("/page");
    await page.fill("#inspect-url", new URL("/page", worker.url).href);
    await page.click("#inspect-form button");
    await page.waitForSelector("#inspect-result table");
    const text = await page.textContent("#inspect-result");
    assert.match(text, /Key: :1:http:\/\/127\.0\.0\.1:\d+\/page/);
    assert.match(text, /memory\s*yes/);
    await page.screenshot({ path: path.join(shots, "dashboard-inspect.png"), fullPage: true });
  });
});
