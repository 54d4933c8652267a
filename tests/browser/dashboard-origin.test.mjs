// The dashboard's origin panels (issues 22 and 26): what was kept from the origin beside the
// hit ratio and per route, host and tag with the shield's share; the origin's response times
// and errors; each storage tier's hits and fill. In both colour schemes and at a phone's
// width (no sideways scrolling of the page, a header that stays in two rows above the
// content, a chart whose text is drawn at its size).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startOrigin } from "../support/origin.mjs";
import { startWorker } from "../support/worker.mjs";
import { adminApi, launchBrowser, parseCount, shots, signIn } from "./harness.mjs";

const TOKEN = "origin-panels-token";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** WCAG 2 contrast of two computed `rgb(…)` colours. */
function contrast(a, b) {
  const lum = (color) => {
    const [r, g, b] = color.match(/[\d.]+/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}

/** The rows of a table: each a list of its cells' text. */
const rows = (page, id) => page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));

describe("dashboard: the origin, what was kept from it, and the tiers", () => {
  let origin, worker, browser;

  before(async () => {
    origin = await startOrigin();
    origin.on("/page", { headers: { "cache-control": "max-age=600" }, body: "P".repeat(2000) });
    origin.on("/news/one", { headers: { "cache-control": "max-age=600" }, body: "N".repeat(500) });
    origin.on("/slow", async () => {
      await sleep(120);
      return { headers: { "cache-control": "max-age=600" }, body: "slow" };
    });
    origin.on("/broken", { status: 503, headers: { "cache-control": "no-store" }, body: "down" });
    origin.on("/me", { headers: { "cache-control": "private" }, body: "mine" });
    worker = await startWorker({
      origin,
      bindings: { ADMIN_TOKEN: TOKEN },
      config: { backends: ["memory"], routes: [{ path: "/news/**", tags: ["news"] }] },
    });
    const visit = async (route) => (await fetch(new URL(route, worker.url))).text();
    for (const route of ["/page", "/news/one", "/slow", "/broken", "/me", "/me"]) await visit(route);
    await sleep(200);
    for (const route of ["/page", "/page", "/news/one", "/news/one", "/news/one"]) await visit(route);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await origin?.close();
  });

  it("shows what was kept from the origin beside the hit ratio, and per route, host and tag", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 }, locale: "en-US" });
    await signIn(page, worker, TOKEN);
    const stats = await adminApi(worker, TOKEN, "/stats");
    const t = stats.hour.total;
    assert.equal(t.kept, 5, "five answers from storage");
    assert.equal(t.kept_bytes, 2 * 2000 + 3 * 500);
    const cards = await page.$$eval("#cards .card", (divs) => divs.map((d) => d.textContent));
    const ratioAt = cards.findIndex((c) => c.includes("Hit ratio of what could be stored"));
    const keptAt = cards.findIndex((c) => c.includes("Kept from the origin"));
    assert.equal(keptAt, ratioAt + 1, "beside the hit ratio");
    assert.match(cards[keptAt], new RegExp(`^${(t.offload * 100).toFixed(1)}%Kept from the origin5 requests; 0.0% of them by the shield$`));
    assert.match(cards[keptAt + 1], /^5\.4 KiBBytes kept from the origin0 B by the shield$/);
    const routes = await rows(page, "offload-routes");
    const news = routes.find((r) => r[0] === "/news/**");
    assert.deepEqual([parseCount(news[1]), parseCount(news[2]), news[3], news[4]], [4, 3, "75.0%", "1.5 KiB"]);
    const hosts = await rows(page, "offload-hosts");
    assert.equal(parseCount(hosts[0][2]), t.kept, "one host: all that was kept");
    const tags = await rows(page, "offload-tags");
    assert.deepEqual(tags.map((r) => [r[0], parseCount(r[2])]), [["news", 3]]);
    await page.close();
  });

  it("shows the origin's response times and errors, and each tier's hits and fill, as /stats counts them", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 }, locale: "en-US" });
    await signIn(page, worker, TOKEN);
    const stats = await adminApi(worker, TOKEN, "/stats");
    const o = stats.hour.origin;
    assert.equal(o.requests, 6, "page, news, slow, broken and me twice");
    assert.equal(o.server_errors, 1);
    const figures = Object.fromEntries(await page.$$eval("#origin-figures div", (divs) => divs.map((d) => [d.querySelector("dt").textContent, d.querySelector("dd").textContent])));
    assert.equal(parseCount(figures["Origin requests"]), 6);
    assert.equal(figures["5xx answers"], "1");
    assert.match(figures.Errors, /^1 \(16\.7%\)$/);
    assert.equal(figures["Median time to headers"], `≤ ${o.p50_ms_at_most} ms`);
    const times = await rows(page, "origin-times");
    assert.equal(times.reduce((n, r) => n + parseCount(r[1]), 0), o.answered);
    const slowRow = times.find((r) => r[0] === "100–250 ms");
    assert.ok(parseCount(slowRow[1]) >= 1, `the slow answer took 120 ms or more: ${JSON.stringify(times)}`);
    const tiers = await rows(page, "tiers");
    assert.equal(tiers.length, 1);
    assert.equal(tiers[0][0], "memory");
    assert.equal(parseCount(tiers[0][1]), stats.hour.backends.memory.hits + stats.hour.backends.memory.stale);
    assert.match(tiers[0][4], /^\d+(\.\d)? (B|KiB) of 16\.0 MiB \(\d+\.\d%\), this isolate$/);
    await page.close();
  });

  for (const scheme of ["light", "dark"]) {
    it(`is readable in the ${scheme} scheme and at a phone's width, header and chart included`, async () => {
      const page = await browser.newPage({ viewport: { width: 375, height: 812 }, colorScheme: scheme, locale: "en-US", isMobile: true, hasTouch: true });
      await signIn(page, worker, TOKEN);
      const seen = await page.evaluate(() => {
        const style = (el) => getComputedStyle(el);
        const panels = ["offload-title", "origin-title", "tiers-title"].map((id) => document.getElementById(id).closest("section"));
        const texts = panels.flatMap((section) => [...section.querySelectorAll("td, th, h2, h3, dt, dd, p")].filter((el) => el.textContent.trim()));
        const cards = [...document.querySelectorAll("#cards .card b, #cards .card span, #cards .card small")];
        const box = (el) => el.getBoundingClientRect();
        const header = document.querySelector("header");
        const tick = document.querySelector("#chart .ticks-left text");
        return {
          surface: style(panels[0]).backgroundColor,
          colours: [...new Set([...texts, ...cards].map((el) => style(el).color))],
          pageWidth: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          panelsRight: Math.max(...panels.map((p) => box(p).right)),
          header: { bottom: box(header).bottom, height: box(header).height, right: Math.max(...[...header.querySelectorAll("*")].filter((el) => el.offsetParent).map((el) => box(el).right)) },
          title: box(header.querySelector("h1")),
          signout: box(document.getElementById("signout")),
          refresh: box(document.getElementById("refresh")),
          contentTop: box(document.querySelector("main")).top,
          chart: box(document.querySelector("#chart svg")),
          tickHeight: box(tick).height,
          tickFont: parseFloat(style(tick).fontSize),
        };
      });
      for (const colour of seen.colours) {
        assert.ok(contrast(colour, seen.surface) >= 4.5, `${scheme}: ${colour} on ${seen.surface} is ${contrast(colour, seen.surface).toFixed(2)}:1`);
      }
      assert.ok(seen.pageWidth <= seen.viewport, `${scheme}: the page is ${seen.pageWidth}px wide at ${seen.viewport}px`);
      assert.ok(seen.panelsRight <= seen.viewport, "the new panels fit the screen");
      assert.ok(seen.header.right <= seen.viewport, `nothing in the header goes past the screen (${seen.header.right})`);
      assert.ok(Math.abs(seen.title.top - seen.signout.top) < 12, "the title and Sign out share the first row");
      assert.ok(seen.refresh.top >= seen.title.bottom - 1, "the refresh state is the row below");
      assert.ok(seen.header.height <= 110, `the header is ${seen.header.height}px high`);
      assert.ok(seen.header.bottom <= seen.contentTop + 0.5, "the header ends before the content begins");
      assert.ok(seen.chart.right <= seen.viewport && seen.chart.width >= 300, `the chart fits the screen (${seen.chart.width}px)`);
      assert.ok(seen.tickHeight >= 0.9 * seen.tickFont && seen.tickFont >= 12, `the chart's text is drawn at its size: ${seen.tickHeight}px for ${seen.tickFont}px`);
      await page.screenshot({ path: path.join(shots, `dashboard-origin-phone-top-${scheme}.png`) });
      await page.locator("#chart").screenshot({ path: path.join(shots, `dashboard-origin-phone-chart-${scheme}.png`) });
      for (const id of ["offload", "origin", "tiers"]) {
        await page.locator(`section:has(#${id}-title)`).screenshot({ path: path.join(shots, `dashboard-origin-phone-${id}-${scheme}.png`) });
      }
      await page.screenshot({ path: path.join(shots, `dashboard-origin-phone-${scheme}.png`), fullPage: true });
      await page.close();
    });
  }
});
